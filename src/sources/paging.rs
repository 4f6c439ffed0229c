//! Reading a whole list that a source hands out in pages. A source decides the cursors, so a
//! hostile or broken one could send the same cursor again, or a new one forever: the pages
//! here end at the first repeated cursor and after as many pages as the list's `total` needs
//! (at least [`MAX_PAGES`], never more than [`PAGES_CEILING`]), each time with a message that
//! says the list is partial, so a load always ends.

use std::collections::HashSet;

use futures::Stream;
use protocol::escalations::{EscalationState, EscalationSummary};
use protocol::sanitize::clean;

use super::{Client, EscalationQuery};

/// Escalations asked for per request while loading the inbox.
pub const PAGE_SIZE: u32 = 1000;
/// Pages one load reads at most unless the source's `total` calls for more (50,000
/// escalations at full pages): a source sending cursors forever is stopped within seconds.
pub const MAX_PAGES: usize = 50;
/// Pages one load reads at most whatever `total` claims (1,000,000 escalations at full
/// pages): a queue of 100,000 loads whole, a source claiming billions is still stopped.
pub const PAGES_CEILING: usize = 1000;

/// Times one page is asked for again when the source answers that it is busy, one
/// [`BUSY_WAIT`] apart, before the load stops with the source's answer.
pub const BUSY_RETRIES: u32 = 5;
/// Wait before asking a busy source again (the lab's `Retry-After` while it builds a backlog).
pub const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// One page of a load: its escalations, or why the load stopped. `done` is set on the last.
#[derive(Debug)]
pub struct Page {
    pub result: Result<Vec<EscalationSummary>, String>,
    pub done: bool,
    /// How many the whole list holds, as the source said with this page.
    pub total: Option<u64>,
}

struct Paging {
    client: Client,
    max_pages: usize,
    cursor: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    items: usize,
    /// Why the load stops after the page in hand (whose escalations are still delivered).
    stop: Option<String>,
    finished: bool,
}

/// The open (pending and claimed) escalations of a source, page by page, reading at most
/// `max_pages` pages.
pub fn open_escalations(client: Client, max_pages: usize) -> impl Stream<Item = Page> {
    let paging = Paging {
        client,
        max_pages,
        cursor: None,
        seen: HashSet::new(),
        pages: 0,
        items: 0,
        stop: None,
        finished: false,
    };
    futures::stream::unfold(paging, |mut paging| async move {
        if paging.finished {
            return None;
        }
        let page = paging.next_page().await;
        paging.finished = page.done;
        Some((page, paging))
    })
}

impl Paging {
    async fn next_page(&mut self) -> Page {
        if let Some(why) = self.stop.take() {
            return stopped(why);
        }
        let states = [EscalationState::Pending, EscalationState::Claimed];
        let query = EscalationQuery {
            states: &states,
            limit: Some(PAGE_SIZE),
            cursor: self.cursor.as_deref(),
            ..Default::default()
        };
        let mut busy = 0;
        let page = loop {
            match self.client.escalations(&query).await {
                Ok(page) => break page,
                Err(error) if error.is_busy() && busy < BUSY_RETRIES => {
                    busy += 1;
                    tokio::time::sleep(BUSY_WAIT).await;
                }
                Err(error) => return stopped(error.to_string()),
            }
        };
        self.pages += 1;
        self.items += page.items.len();
        if self.pages == 1 {
            // The list may grow while it is read: two pages of slack.
            let needed = (page.total as usize).div_ceil(PAGE_SIZE as usize) + 2;
            self.max_pages = needed.clamp(self.max_pages, PAGES_CEILING.max(self.max_pages));
        }
        let total = Some(page.total);
        let Some(next) = page.next_cursor else {
            return Page {
                result: Ok(page.items),
                done: true,
                total,
            };
        };
        if !self.seen.insert(next.clone()) {
            self.stop = Some(format!(
                "the source sent cursor {} twice after {} pages ({} escalations): the list is partial",
                clean(&next),
                self.pages,
                self.items
            ));
        } else if self.pages >= self.max_pages {
            self.stop = Some(format!(
                "stopped after {} pages ({} escalations), the most one load reads: the list is partial",
                self.pages, self.items
            ));
        }
        self.cursor = Some(next);
        Page {
            result: Ok(page.items),
            done: false,
            total,
        }
    }
}

fn stopped(why: String) -> Page {
    Page {
        result: Err(why),
        done: true,
        total: None,
    }
}
