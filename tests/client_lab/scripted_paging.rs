//! Inbox loads against sources whose cursors never end: every load ends, says it is partial,
//! and the number of requests stays bounded.

use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard::sources::paging::{MAX_PAGES, PAGES_CEILING, Page, open_escalations};
use switchboard::testing::endless_escalation_source;

use super::*;

/// An endless source answering at once.
async fn endless_source(same_cursor: bool, total: u64) -> (String, Arc<AtomicUsize>) {
    endless_escalation_source(total, same_cursor, Duration::ZERO).await
}

async fn load(url: &str) -> Vec<Page> {
    let client = Client::new(url, None).unwrap();
    timeout(
        WAIT,
        open_escalations(client, MAX_PAGES).collect::<Vec<_>>(),
    )
    .await
    .expect("the load ends")
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_load_with_a_visible_error() {
    let (url, requests) = endless_source(true, 0).await;
    let pages = load(&url).await;
    let last = pages.last().expect("a page");
    let why = last.result.as_ref().unwrap_err();
    assert!(last.done);
    assert!(
        why.contains("cursor c0 twice") && why.contains("partial"),
        "{why}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_source_with_endless_cursors_is_read_up_to_the_page_cap() {
    let (url, requests) = endless_source(false, 0).await;
    let pages = load(&url).await;
    let last = pages.last().expect("a page");
    let why = last.result.as_ref().unwrap_err();
    assert!(
        why.contains(&format!("stopped after {MAX_PAGES} pages")) && why.contains("partial"),
        "{why}"
    );
    assert_eq!(pages.iter().filter(|p| p.done).count(), 1);
    assert_eq!(requests.load(Ordering::SeqCst), MAX_PAGES);
}

/// A list of 120,000 is read to its end (it needs 120 pages, more than the cap for a list
/// that says nothing of its size); one claiming a trillion stops at the ceiling.
#[tokio::test]
async fn the_page_cap_follows_the_lists_total_up_to_a_ceiling() {
    for (total, pages_read) in [(120_000, 122), (1_000_000_000_000, PAGES_CEILING)] {
        let (url, requests) = endless_source(false, total).await;
        let pages = load(&url).await;
        let why = pages.last().unwrap().result.as_ref().unwrap_err();
        assert!(
            why.contains(&format!("stopped after {pages_read} pages")),
            "{total}: {why}"
        );
        assert_eq!(requests.load(Ordering::SeqCst), pages_read, "{total}");
    }
}

/// A source that is busy for its first `busy` requests (`503`, as a lab building its backlog
/// answers), then lists one escalation.
async fn busy_then_ready_source(busy: usize) -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let router = axum::Router::new().route(
        "/v1/escalations",
        axum::routing::get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < busy {
                    let problem = serde_json::json!({
                        "type": "about:blank", "title": "Service Unavailable", "status": 503,
                        "detail": "the lab is still building its backlog"
                    });
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [("retry-after", "1")],
                        axum::Json(problem),
                    );
                }
                let page = serde_json::json!({"items": [], "total": 0, "revision": 1});
                (
                    axum::http::StatusCode::OK,
                    [("retry-after", "0")],
                    axum::Json(page),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, requests)
}

/// A lab whose backlog takes longer than its wait answers `503`: the load asks again rather
/// than failing the inbox until the next reconnect (it failed on the first `503` before).
#[tokio::test]
async fn a_busy_source_is_asked_again_until_it_answers() {
    let (url, requests) = busy_then_ready_source(2).await;
    let pages = load(&url).await;
    assert_eq!(pages.len(), 1);
    assert!(pages[0].result.is_ok(), "{:?}", pages[0].result);
    assert_eq!(requests.load(Ordering::SeqCst), 3);

    let (url, requests) = busy_then_ready_source(usize::MAX).await;
    let pages = load(&url).await;
    let why = pages.last().unwrap().result.as_ref().unwrap_err();
    assert!(why.contains("503") && why.contains("backlog"), "{why}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1 + switchboard::sources::paging::BUSY_RETRIES as usize
    );
}
