//! Adaptive redundancy's confirmation: warming a standby for a while shows what it becomes,
//! how long it is not ready, the spend and takeover before and after, and when it goes back.

use super::*;
use switchboard::testing::lab_fleet;

#[test]
fn confirmation_of_a_timed_warm_up_at_100x30() {
    let mut app = app(100, 30, Instant::now());
    app.update(source(SourceEvent::Snapshot(lab_fleet())));
    app.update(key(KeyCode::Char(':')));
    type_text(
        &mut app,
        "standby credit-decision credit-decision@eu-west warm 2h",
    );
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "storm warning");
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains("credit-decision@eu-west: cold standby -> warm standby"),
        "{screen}"
    );
    assert!(
        screen.contains("not ready at its new role for ~5m"),
        "{screen}"
    );
    assert!(
        screen.contains("goes back to cold standby after 2h"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}
