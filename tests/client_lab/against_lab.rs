//! The client, the worker and `switchboard status` against a real lab.

use super::scripted_client::closed_port_url;
use super::scripted_worker::{WorkerUnderTest, describe, revision};
use super::*;

pub(crate) async fn start_lab(options: LabOptions, listen: SocketAddr) -> LabServer {
    timeout(WAIT, LabServer::start(options, listen))
        .await
        .unwrap()
        .expect("lab starts")
}

fn lab_spec(lab: &LabServer, token: &str) -> SourceSpec {
    SourceSpec {
        name: "lab".into(),
        url: lab.url(),
        token: Some(token.into()),
    }
}

#[tokio::test]
async fn worker_follows_the_lab_with_increasing_revisions() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let token = lab.token_for("alice").unwrap().to_string();
    let mut worker = WorkerUnderTest::start(&lab.url(), &token);
    assert_eq!(describe(&worker.next().await), "connecting 1");
    match worker.next().await {
        SourceEvent::Identity(who) => {
            assert_eq!((who.name.as_str(), who.role), ("alice", Role::Admin))
        }
        other => panic!("expected identity, got {}", describe(&other)),
    }
    let snapshot = worker.next().await;
    let mut last = revision(&snapshot).expect("a snapshot after the identity");
    assert!(
        matches!(worker.next().await, SourceEvent::Operators(operators) if !operators.is_empty())
    );
    assert!(
        matches!(worker.next().await, SourceEvent::Approvals(Ok(requests)) if requests.is_empty())
    );
    for _ in 0..3 {
        let delta = worker
            .until(|e| !matches!(e, SourceEvent::Operators(_)))
            .await;
        let SourceEvent::Delta(delta) = delta else {
            panic!("expected a delta, got {}", describe(&delta));
        };
        assert!(
            delta.revision > last,
            "revision {} after {last}",
            delta.revision
        );
        last = delta.revision;
    }
    worker.stop().await;
    lab.shutdown().await;
}

#[tokio::test]
async fn worker_recovers_by_itself_when_the_lab_comes_back_on_the_same_port() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = lab.addr;
    let token = lab.token_for("bob").unwrap().to_string();
    let mut worker = WorkerUnderTest::start(&lab.url(), &token);
    worker.until(|e| matches!(e, SourceEvent::Delta(_))).await;

    lab.shutdown().await;
    let is_refused = |e: &SourceEvent| matches!(e, SourceEvent::Down { error, .. } if error.starts_with("cannot reach"));
    let SourceEvent::Down { error, .. } = worker.until(is_refused).await else {
        unreachable!()
    };
    assert_eq!(
        error,
        format!("cannot reach http://{addr}: connection refused")
    );
    // Still trying: another attempt, refused again.
    let SourceEvent::Connecting { attempt } = worker
        .until(|e| matches!(e, SourceEvent::Connecting { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(attempt >= 2, "attempt {attempt}");
    worker.until(is_refused).await;

    // Same seed, same tokens: the worker needs no help to get back.
    let lab = start_lab(LabOptions::default(), addr).await;
    worker
        .until(|e| matches!(e, SourceEvent::Snapshot(_)))
        .await;
    worker.until(|e| matches!(e, SourceEvent::Delta(_))).await;
    worker.stop().await;
    lab.shutdown().await;
}

#[tokio::test]
async fn worker_with_a_bad_token_reports_the_401() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let mut worker = WorkerUnderTest::start(&lab.url(), "not-a-lab-token");
    let SourceEvent::Down {
        error,
        kind,
        retry_in,
    } = worker
        .until(|e| matches!(e, SourceEvent::Down { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(error.starts_with("401: "), "{error}");
    assert_eq!(kind, switchboard::domain::fleet::DownKind::Unauthorized);
    assert!(error.ends_with(" — run `switchboard login`"), "{error}");
    assert_eq!(retry_in, quick_options().backoff.cap);
    worker.stop().await;
    lab.shutdown().await;
}

async fn status_of(sources: Vec<SourceSpec>) -> (i32, serde_json::Value) {
    let mut out = Vec::new();
    let code = timeout(WAIT, run_status(sources, &[], true, &mut out))
        .await
        .unwrap()
        .unwrap();
    let json = serde_json::from_slice(&out).expect("status --json prints valid JSON");
    (code, json)
}

#[tokio::test]
async fn status_reports_a_healthy_lab_with_exit_zero() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let spec = lab_spec(&lab, lab.token_for("victor").unwrap());
    let fleet = Client::new(&spec.url, spec.token.clone())
        .unwrap()
        .fleet()
        .await
        .unwrap();
    let (code, json) = status_of(vec![spec.clone()]).await;
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["verdict"], "healthy");
    assert_eq!(
        json["regions"].as_array().unwrap().len(),
        fleet.regions.len()
    );
    assert_eq!(json["summary"]["regions_ok"], fleet.regions.len());

    let mut human = Vec::new();
    let code = timeout(WAIT, run_status(vec![spec], &[], false, &mut human))
        .await
        .unwrap()
        .unwrap();
    let human = String::from_utf8(human).unwrap();
    assert_eq!(code, 0);
    assert!(human.starts_with("fleet healthy: "), "{human}");
    for region in &fleet.regions {
        assert!(human.contains(&format!("● {}", region.id)), "{human}");
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn status_reports_a_region_down_with_exit_two() {
    // At 60x, the scenario's region-down inject (15 s in) lands within a second.
    let options = LabOptions {
        speed: 60.0,
        scenario: Some("region-down".into()),
        ..LabOptions::default()
    };
    let lab = start_lab(options, "127.0.0.1:0".parse().unwrap()).await;
    let spec = lab_spec(&lab, lab.token_for("alice").unwrap());
    let client = Client::new(&spec.url, spec.token.clone()).unwrap();
    let us_east_down = async {
        loop {
            let fleet = client.fleet().await.unwrap();
            if fleet
                .regions
                .iter()
                .any(|r| r.id == "us-east" && r.health == Health::Down)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    timeout(WAIT, us_east_down)
        .await
        .expect("us-east goes down");
    let (code, json) = status_of(vec![spec]).await;
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["exit_code"], 2);
    let regions = json["regions"].as_array().unwrap();
    let us_east = regions.iter().find(|r| r["region"] == "us-east").unwrap();
    assert_eq!(us_east["health"], "down");
    lab.shutdown().await;
}

#[tokio::test]
async fn status_counts_an_unreachable_source_as_exit_two() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let reachable = lab_spec(&lab, lab.token_for("alice").unwrap());
    let url = closed_port_url().await;
    let gone = SourceSpec {
        name: "gone".into(),
        url: url.clone(),
        token: None,
    };
    let (code, json) = status_of(vec![reachable, gone]).await;
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["summary"]["unreachable_sources"], 1);
    assert_eq!(
        json["unreachable"],
        serde_json::json!([{
            "source": "gone",
            "url": url,
            "kind": "unreachable",
            "error": format!("cannot reach {url}: connection refused"),
        }])
    );
    lab.shutdown().await;
}
