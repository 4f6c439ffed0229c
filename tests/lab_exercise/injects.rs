//! What the facilitator adds to a drill: the next inject now, custom injects, messages and
//! notes; and players' acknowledgements.

use super::*;
use futures::StreamExt;
use lab_support::{expect_problem, get, open_escalations_by_priority, open_events};
use protocol::exercise::Tone;
use protocol::exercise::record::{RunRecord, read_recording};
use reqwest::header::{HeaderMap, RETRY_AFTER};

#[tokio::test]
async fn the_facilitator_fires_injects_messages_and_notes_and_players_see_theirs() {
    let drill = Drill::start("provider-outage", 60.0).await;
    // At T0, before the start: fired now, whatever its time.
    let fired = drill
        .control(FACILITATOR, json!({"action": "next-inject"}))
        .await;
    assert_eq!(inject(&fired, "outage").unwrap().fired_at_s, Some(0.0));
    let seen = drill.state(OPERATOR).await;
    assert!(
        inject(&seen, "outage").is_some(),
        "a fired inject is everyone's"
    );
    drill
        .control(
            OPERATOR,
            json!({"action": "acknowledge", "inject": "outage"}),
        )
        .await;
    let unknown = json!({"action": "acknowledge", "inject": "meteor"});
    let unknown = drill.post(OPERATOR, unknown, &fresh_key()).await;
    expect_problem(unknown, StatusCode::NOT_FOUND).await;
    // The scenario's second inject is a message to every player.
    let told = drill
        .control(FACILITATOR, json!({"action": "next-inject"}))
        .await;
    let support = told.messages.last().expect("a message inject is a message");
    assert_eq!(support.from, "scenario");
    assert_eq!(inject(&told, "support-call").unwrap().fired_at_s, Some(0.0));
    let none_left = json!({"action": "next-inject"});
    let none_left = drill.post(FACILITATOR, none_left, &fresh_key()).await;
    expect_problem(none_left, StatusCode::CONFLICT).await;

    drill.control(FACILITATOR, json!({"action": "start"})).await;
    drill.control(FACILITATOR, json!({"action": "pause"})).await;
    let added = json!({
        "action": "inject", "kind": "provider-outage", "target": "openai@eu-west",
        "duration_s": 60, "narrative": "eu-west fails too"
    });
    let state = drill.control(FACILITATOR, added).await;
    let custom = inject(&state, "custom-1").expect("a custom inject is named custom-N");
    assert_eq!(
        custom.fired_at_s,
        Some(state.clock_s),
        "fired at once, even paused"
    );
    let seen = drill.state(OPERATOR).await;
    assert_eq!(inject(&seen, "custom-1"), Some(custom));
    let mars =
        json!({"action": "inject", "kind": "provider-outage", "target": "mars", "duration_s": 60});
    let refused = drill.post(FACILITATOR, mars, &fresh_key()).await;
    let (problem, _) = expect_problem(refused, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains("mars"));

    let message = json!({"action": "message", "text": "Support is on line 2"});
    drill.control(FACILITATOR, message).await;
    let note = json!({"action": "annotate", "tone": "went-well", "text": "good call"});
    let facilitator = drill.control(FACILITATOR, note).await;
    assert_eq!(facilitator.notes.len(), 1);
    assert_eq!(facilitator.notes[0].tone, Tone::WentWell);
    let player = drill.state(COMMANDER).await;
    let message = player
        .messages
        .last()
        .expect("the message reached the players");
    assert_eq!(
        (message.from.as_str(), message.text.as_str()),
        (FACILITATOR, "Support is on line 2")
    );
    assert!(
        player.notes.is_empty(),
        "notes are the facilitator's until the end"
    );
    drill.control(FACILITATOR, json!({"action": "end"})).await;
    let after = drill.state(COMMANDER).await;
    assert_eq!(after.notes.len(), 1, "everyone's after the end");
    drill.shutdown().await;
}

#[tokio::test]
async fn a_burst_fills_the_queue_and_a_cut_off_fleet_answers_503_while_the_drill_steers_on() {
    let drill = Drill::start("provider-outage", 60.0).await;
    let token = drill.token(OPERATOR);
    let open = || async { open_escalations_by_priority(&drill.lab, token).await };
    let before: u64 = open().await.iter().sum();
    let burst = json!({
        "action": "inject", "kind": "escalation-burst", "target": "any", "magnitude": 7,
        "narrative": "the support queue spikes"
    });
    drill.control(FACILITATOR, burst).await;
    assert_eq!(
        open().await.iter().sum::<u64>(),
        before + 7,
        "the burst joined the queue"
    );
    let recording = std::fs::read_to_string(drill.recording()).unwrap();
    let opened = read_recording(&recording)
        .unwrap()
        .records
        .into_iter()
        .filter(|record| matches!(record, RunRecord::EscalationOpened { .. }))
        .count();
    assert_eq!(
        opened, 7,
        "each escalation of the burst is recorded, with its SLA"
    );

    let mut events = open_events(&drill.lab, token, None).await;
    let cut = json!({
        "action": "inject", "kind": "source-unreachable", "target": "fleet", "duration_s": 30,
        "narrative": "the control plane's load balancer fails"
    });
    drill.control(FACILITATOR, cut).await;
    tokio::time::timeout(WAIT, async { while events.next().await.is_some() {} })
        .await
        .expect("an open event stream ends when its source is cut off");
    for path in ["/v1/fleet", "/v1/events", "/v1/whoami", "/v1/health"] {
        let answer = get(&drill.lab, path, Some(token), HeaderMap::new()).await;
        let (problem, headers) = expect_problem(answer, StatusCode::SERVICE_UNAVAILABLE).await;
        let detail = problem.detail.unwrap();
        assert!(
            detail.contains("fleet source is unreachable"),
            "{path}: {detail}"
        );
        assert_eq!(headers[RETRY_AFTER], "5", "{path}");
    }
    let drain = client()
        .post(format!("{}/v1/regions/us-east/drain", drill.lab.url()))
        .bearer_auth(token)
        .header(IDEMPOTENCY_KEY, fresh_key())
        .header("if-match", "1")
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"reason": "move traffic"}).to_string());
    expect_problem(send(drain).await, StatusCode::SERVICE_UNAVAILABLE).await;
    // The queue, the audit log and the drill itself keep answering.
    assert_eq!(open().await.iter().sum::<u64>(), before + 7);
    let audit = get(&drill.lab, "/v1/audit", Some(token), HeaderMap::new()).await;
    assert_eq!(audit.status(), StatusCode::OK);
    drill.control(FACILITATOR, json!({"action": "start"})).await;
    // 30 simulated seconds at x60: the fleet is back within a second or so.
    tokio::time::timeout(WAIT, async {
        loop {
            let answer = get(&drill.lab, "/v1/fleet", Some(token), HeaderMap::new()).await;
            if answer.status() == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the fleet answers again once the inject has ended");
    let _streams_again = open_events(&drill.lab, token, None).await;
    drill.shutdown().await;
}
