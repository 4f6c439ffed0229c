//! The escalation answers as the console decodes them: a page of `GET /v1/escalations`
//! (`EscalationPage`) or one task of `GET /v1/escalations/{id}` (`Escalation`, with its
//! candidates, checkpoint and lineage); then what the console does with them: the page loaded
//! into the inbox, or the task opened from the inbox, and drawn. Input: a byte that picks the
//! kind of answer and the screen size, then the body.
//!
//! Properties: nothing panics; no drawn cell holds a control, bidi, format or separator
//! character, whatever the answer's text.
#![no_main]

use crossterm::event::KeyCode;
use libfuzzer_sys::fuzz_target;
use protocol::escalations::{Escalation, EscalationPage};
use switchboard::app::{App, Msg};
use switchboard::testing::{SOURCE, escalations_loaded, key};
use switchboard_fuzz::{assert_terminal_safe, console, draw, draw_view};

const INBOX: u8 = 4;

fn show_page(app: &mut App, page: EscalationPage) {
    app.update(Msg::EscalationsLoaded {
        source: SOURCE.into(),
        result: Ok(page.items),
        done: page.next_cursor.is_none(),
    });
    draw_view(app, INBOX);
    // The filter and the row under the cursor see the same items.
    app.update(key(KeyCode::Down));
    assert_terminal_safe(&draw(app));
}

fn open_task(app: &mut App, task: Escalation) {
    let id = task.summary.id.clone();
    app.update(escalations_loaded(vec![task.summary.clone()]));
    draw_view(app, INBOX);
    if app.inbox.rows().is_empty() {
        // A task the inbox does not list (e.g. resolved) is not opened from it.
        return;
    }
    app.inbox.select_index(0);
    app.update(key(KeyCode::Enter));
    app.update(Msg::EscalationLoaded {
        source: SOURCE.into(),
        id,
        result: Ok(Box::new(task)),
    });
    assert_terminal_safe(&draw(app));
    // Scrolling the task's pane walks the rest of its text.
    for _ in 0..3 {
        app.update(key(KeyCode::PageDown));
        assert_terminal_safe(&draw(app));
    }
}

fuzz_target!(|input: &[u8]| {
    let [pick, body @ ..] = input else {
        return;
    };
    let mut app = console(*pick / 2);
    if pick % 2 == 0 {
        if let Ok(page) = serde_json::from_slice::<EscalationPage>(body) {
            show_page(&mut app, page);
        }
    } else if let Ok(task) = serde_json::from_slice::<Escalation>(body) {
        open_task(&mut app, task);
    }
});
