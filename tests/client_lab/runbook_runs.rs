//! The client of runbook runs against a real lab: one console starts and records, another
//! console's worker hears every change on its event stream, a stale record comes back as a
//! conflict holding the run as it is, and a viewer is refused.

use protocol::runbook_runs::{CheckTruth, RunState, StepOutcome};
use switchboard::sources::runbook_runs::conflicting_run;

use super::against_lab::start_lab;
use super::scripted_worker::WorkerUnderTest;
use super::*;

fn client_as(lab: &LabServer, name: &str) -> Client {
    Client::new(&lab.url(), Some(lab.token_for(name).unwrap().to_string())).unwrap()
}

#[tokio::test]
async fn a_run_started_and_recorded_by_one_console_reaches_the_other_through_its_worker() {
    let lab = start_lab(LabOptions::default(), "127.0.0.1:0".parse().unwrap()).await;
    let (alice, bob) = (client_as(&lab, "alice"), client_as(&lab, "bob"));
    let mut bobs_worker = WorkerUnderTest::start(&lab.url(), lab.token_for("bob").unwrap());
    bobs_worker
        .until(|e| matches!(e, SourceEvent::Operators(_)))
        .await;

    let run = alice
        .start_run("provider-outage", 1, "key-start")
        .await
        .unwrap();
    let again = alice
        .start_run("provider-outage", 1, "key-start")
        .await
        .unwrap();
    assert_eq!(again, run, "a retry under the same key starts nothing new");
    let check = StepOutcome::Check {
        truth: CheckTruth::True,
        readings: "error_rate(openai@us-east) = 41.0% > 20%".into(),
    };
    let recorded = alice
        .record_step(&run.id, run.revision, 1, check.clone(), "key-1")
        .await
        .unwrap();
    let followed = bob.run_presence(&run.id, 2).await.unwrap();
    assert_eq!(followed.revision, recorded.revision);

    // Bob acts on the revision he saw before Alice's record: refused, with the run as it is.
    let stale = bob
        .record_step(&run.id, run.revision, 1, check, "key-2")
        .await
        .unwrap_err();
    assert_eq!(stale.status(), Some(409));
    assert_eq!(conflicting_run(&stale).unwrap().steps.len(), 1);

    let ended = bob
        .end_run(&run.id, recorded.revision, RunState::Finished, "", "key-3")
        .await
        .unwrap();
    assert_eq!(ended.state, RunState::Finished);
    assert_eq!(alice.runbook_run(&run.id).await.unwrap(), ended);
    assert_eq!(bob.runbook_runs().await.unwrap().runs, vec![ended.clone()]);

    // Bob's worker reported every change in order, the end last.
    let mut heard = Vec::new();
    while heard.last() != Some(&ended) {
        if let SourceEvent::RunbookRun(run) = bobs_worker
            .until(|e| matches!(e, SourceEvent::RunbookRun(_)))
            .await
        {
            heard.push(*run);
        }
    }
    let revisions: Vec<u64> = heard.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, [1, 2, 2, 3], "start, record, presence, end");

    let victor = client_as(&lab, "victor");
    let refused = victor.run_presence(&run.id, 1).await.unwrap_err();
    assert_eq!(refused.status(), Some(403));
    lab.shutdown().await;
}
