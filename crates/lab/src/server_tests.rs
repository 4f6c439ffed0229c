use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use protocol::escalations::EscalationPage;

use super::*;
use crate::ServeLimits;

const HELD_AT_MOST: Duration = Duration::from_secs(3);

/// A lab whose backlog of `tasks` is built only once `release` is sent to (or after
/// [`HELD_AT_MOST`], so that a lab building it before answering fails the test, not hangs it).
async fn lab_with_held_backlog(tasks: usize, wait: Duration) -> (LabServer, mpsc::Sender<()>) {
    let (release, released) = mpsc::channel::<()>();
    let options = LabOptions {
        escalations: tasks,
        limits: ServeLimits {
            backlog_wait: wait,
            ..ServeLimits::default()
        },
        ..LabOptions::default()
    };
    let lab = LabServer::start_with(
        options,
        "127.0.0.1:0".parse().unwrap(),
        move |topology, epoch| {
            let _ = released.recv_timeout(HELD_AT_MOST);
            EscalationQueue::new(topology, 42, tasks, epoch)
        },
    )
    .await
    .unwrap();
    (lab, release)
}

fn get(lab: &LabServer, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(format!("{}{path}", lab.url()))
        .bearer_auth(lab.token_for("alice").unwrap())
}

async fn json<T: serde::de::DeserializeOwned>(answer: reqwest::Response) -> T {
    serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_answers_while_its_backlog_is_built_and_lists_only_the_whole_of_it() {
    let (lab, release) = lab_with_held_backlog(300, Duration::from_secs(30)).await;
    let fleet = get(&lab, "/v1/fleet").send().await.unwrap();
    assert_eq!(fleet.status(), 200, "the fleet is served at once");

    let released = Arc::new(AtomicBool::new(false));
    let list = tokio::spawn({
        let (request, released) = (get(&lab, "/v1/escalations?limit=10"), released.clone());
        async move {
            let page: EscalationPage = json(request.send().await.unwrap()).await;
            (released.load(Ordering::SeqCst), page)
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    released.store(true, Ordering::SeqCst);
    release.send(()).unwrap();
    let (answered_after_release, page) = list.await.unwrap();
    assert!(
        answered_after_release,
        "the list waited for the backlog rather than answer part of it"
    );
    assert_eq!((page.total, page.items.len()), (300, 10));
    lab.shutdown().await;
}

#[tokio::test]
async fn an_escalation_request_waits_at_most_its_bound_then_hears_503_with_retry_after() {
    let (lab, release) = lab_with_held_backlog(50, Duration::from_millis(300)).await;
    for path in ["/v1/escalations", "/v1/escalations/esc-000001"] {
        let answer = get(&lab, path).send().await.unwrap();
        assert_eq!(answer.status(), 503, "{path}");
        assert_eq!(answer.headers()["retry-after"], "1", "{path}");
        let problem: serde_json::Value = json(answer).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("still building its backlog of 50"),
            "{path}: {detail}"
        );
    }
    release.send(()).unwrap();
    let page: EscalationPage = json(get(&lab, "/v1/escalations").send().await.unwrap()).await;
    assert_eq!(page.total, 50);
    lab.shutdown().await;
}

/// A lab with a backlog of `tasks`, and whether its backlog has been built yet.
async fn lab_telling_when_built(tasks: usize) -> (LabServer, Arc<AtomicBool>) {
    let built = Arc::new(AtomicBool::new(false));
    let options = LabOptions {
        escalations: tasks,
        ..LabOptions::default()
    };
    let lab = LabServer::start_with(options, "127.0.0.1:0".parse().unwrap(), {
        let built = built.clone();
        move |topology, epoch| {
            built.store(true, Ordering::SeqCst);
            EscalationQueue::new(topology, 42, tasks, epoch)
        }
    })
    .await
    .unwrap();
    (lab, built)
}

#[tokio::test]
async fn a_lab_without_a_backlog_builds_nothing_apart_and_answers_at_once() {
    let (lab, built) = lab_telling_when_built(0).await;
    let page: EscalationPage = json(get(&lab, "/v1/escalations").send().await.unwrap()).await;
    assert_eq!(page.total, 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !built.load(Ordering::SeqCst),
        "no queue is built off the async threads when there is no backlog"
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn a_backlog_is_built_when_first_asked_for_not_beside_a_starting_console() {
    let (lab, built) = lab_telling_when_built(20).await;
    let fleet = get(&lab, "/v1/fleet").send().await.unwrap();
    assert_eq!(fleet.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !built.load(Ordering::SeqCst),
        "nothing asked for the backlog yet"
    );
    let page: EscalationPage = json(get(&lab, "/v1/escalations").send().await.unwrap()).await;
    assert_eq!(page.total, 20);
    lab.shutdown().await;
}
