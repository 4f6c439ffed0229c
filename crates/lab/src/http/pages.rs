//! Pages of the escalation list as the list route sends them, and the next page written
//! ahead: a client that reads a list page by page parses one page while the lab writes the
//! next, so on two cores their work overlaps instead of taking turns.

use axum::body::Bytes;

use crate::escalations::{EscalationQueue, ListQuery};

/// A page written before it was asked for; it answers only while the queue and the
/// published revision are still those it was written from.
pub(crate) struct PageAhead {
    query: ListQuery,
    changes: u64,
    revision: u64,
    page: WrittenPage,
}

/// A page as JSON, and the request for the page after it, if there is one.
#[derive(Clone)]
pub(super) struct WrittenPage {
    pub body: Bytes,
    pub next: Option<ListQuery>,
}

/// The page `query` asks for: the one written `ahead` if it still holds, else written now
/// from `queue` at the published `revision`.
pub(super) fn page(
    ahead: &mut Option<PageAhead>,
    queue: &EscalationQueue,
    revision: u64,
    query: &ListQuery,
) -> WrittenPage {
    if let Some(ahead) = ahead.take()
        && ahead.query == *query
        && ahead.changes == queue.changes()
        && ahead.revision == revision
    {
        return ahead.page;
    }
    write(queue, revision, query)
}

/// Writes the page `query` asks for ahead, to have it ready when its client asks.
pub(super) fn write_ahead(
    ahead: &mut Option<PageAhead>,
    queue: &EscalationQueue,
    revision: u64,
    query: ListQuery,
) {
    *ahead = Some(PageAhead {
        page: write(queue, revision, &query),
        changes: queue.changes(),
        revision,
        query,
    });
}

fn write(queue: &EscalationQueue, revision: u64, query: &ListQuery) -> WrittenPage {
    let (json, next) = queue.write_page(query, revision);
    WrittenPage {
        body: json.into(),
        next: next.map(|after| ListQuery {
            after: Some(after),
            ..query.clone()
        }),
    }
}
