//! What the facilitator adds to a drill: the next inject now, custom injects, messages and
//! notes; and players' acknowledgements.

use super::*;
use lab_support::expect_problem;
use protocol::exercise::Tone;

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
