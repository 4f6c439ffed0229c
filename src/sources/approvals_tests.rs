use super::*;
use lab::{LabOptions, LabServer};

fn policy(json: &str) -> ApprovalPolicy {
    serde_json::from_str(json).expect("a policy")
}

fn drain(region: &str) -> Command {
    Command::Drain {
        region: region.into(),
        expires_in_s: None,
    }
}

fn seen() -> PreflightSeen {
    PreflightSeen {
        verdict: PreflightVerdict::Warn,
        findings: vec!["us-east would run at 97% of capacity".into()],
        forced: false,
        needs_approval: None,
        approval_expires_after_s: None,
    }
}

/// The console's runner has no snapshot at hand: the source's fleet gives the drain's
/// share of the traffic; without a policy nothing is read or marked.
#[tokio::test]
async fn a_policy_marks_what_it_names_reading_the_fleet_when_none_is_given() {
    let lab = LabServer::start(LabOptions::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = Client::new(&lab.url(), lab.token_for("bob").map(str::to_string)).unwrap();
    let share = policy(r#"{"drain_share_above": 0.3}"#);
    let marked = under_policy(Some(&share), &client, &drain("us-east"), Some(seen()), None)
        .await
        .unwrap()
        .unwrap();
    let why = marked.needs_approval.as_deref().unwrap();
    assert!(why.starts_with("us-east carries "), "{why}");
    assert_eq!(
        marked.approval_expires_after_s,
        Some(protocol::approvals::DEFAULT_EXPIRES_AFTER_S),
        "the policy's expiry goes with it"
    );
    assert_eq!(marked.findings, seen().findings, "the rest as confirmed");
    let small = under_policy(
        Some(&share),
        &client,
        &drain("ap-south"),
        Some(seen()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(small, Some(seen()));
    let unread = Client::new("http://127.0.0.1:9", None).unwrap();
    let none = under_policy(None, &unread, &drain("us-east"), Some(seen()), None).await;
    assert_eq!(none, Ok(Some(seen())));
    lab.shutdown().await;
}

#[test]
fn a_promotion_the_policy_names_is_not_sent_to_a_cluster_that_cannot_hold_it() {
    let promote = Command::Promote {
        service: "orders-db".into(),
        replica: "node2".into(),
    };
    let fleet = FleetSnapshot::default();
    let promotions = policy(r#"{"verbs": ["promote"]}"#);
    let refusal = refused_unheld(Some(&promotions), &promote, None, &fleet, "Patroni");
    assert_eq!(
        refusal.as_deref(),
        Some(
            "the context's approval policy asks for a second approver (every promote needs \
             a second approver), and Patroni cannot hold a command for one: nothing was sent"
        )
    );
    let drains = policy(r#"{"verbs": ["drain"]}"#);
    assert_eq!(
        refused_unheld(Some(&drains), &promote, None, &fleet, "Patroni"),
        None
    );
    assert_eq!(
        refused_unheld(None, &promote, None, &fleet, "Patroni"),
        None
    );
}
