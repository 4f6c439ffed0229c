//! What tabletop exercises add to scenario files: briefing, players, inject ids and notes,
//! the escalation-burst, source-unreachable and message injects, and objectives.

use super::*;
use protocol::escalations::Priority;
use protocol::exercise::record::ObjectiveCondition;

fn topology() -> Topology {
    Topology::embedded_default()
}

/// A scenario with one provider outage (id `outage`) followed by `rest`.
fn with(rest: &str) -> String {
    format!(
        "name = \"x\"\nnarrative = \"story\"\n[[inject]]\nid = \"outage\"\nat = \"10s\"\nkind = \"provider-outage\"\ntarget = \"openai@us-east\"\nduration = \"4m\"\n{rest}"
    )
}

fn parsed(rest: &str) -> Scenario {
    Scenario::parse("x.toml", &with(rest), &topology()).unwrap_or_else(|e| panic!("{e}"))
}

/// The one problem of the file: (line, reason).
fn problem(rest: &str) -> (usize, String) {
    let err = Scenario::parse("x.toml", &with(rest), &topology()).unwrap_err();
    (err.line, err.reason)
}

#[test]
fn every_shipped_scenario_briefs_players_and_scores_3_to_5_objectives() {
    let t = topology();
    for name in shipped_scenarios() {
        let scenario = Scenario::load(Path::new(name), &t).unwrap();
        assert_ne!(
            scenario.briefing, scenario.narrative,
            "{name}: own briefing"
        );
        assert!(
            (3..=5).contains(&scenario.objectives.len()),
            "{name}: {} objectives",
            scenario.objectives.len()
        );
        for inject in &scenario.injects {
            assert!(!inject.id.starts_with("inject-"), "{name}: named injects");
            assert!(inject.facilitator_note.is_some(), "{name}/{}", inject.id);
        }
        assert!(
            scenario
                .objectives
                .iter()
                .any(|o| o.after.is_some() && o.within_s.is_some()),
            "{name}: at least one objective with a deadline after an inject"
        );
    }
}

#[test]
fn briefing_falls_back_to_the_narrative_and_keeps_its_lines() {
    assert_eq!(parsed("").briefing, "story");
    let text = with("").replace(
        "narrative = \"story\"",
        "narrative = \"story\"\nbriefing = \"\"\"\nline one\\u001b[2J\nline two\n\"\"\"",
    );
    let scenario = Scenario::parse("x.toml", &text, &topology()).unwrap();
    assert_eq!(scenario.briefing, "line one\nline two");
}

#[test]
fn inject_ids_default_to_their_place_and_must_be_unique() {
    let second = "[[inject]]\nat = \"1s\"\nkind = \"region-down\"\ntarget = \"us-west\"\nduration = \"1m\"\n";
    let scenario = parsed(second);
    // Sorted by time; the default id keeps the place in the file.
    let ids: Vec<&str> = scenario.injects.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["inject-2", "outage"]);
    let duplicate = second.replace("[[inject]]", "[[inject]]\nid = \"outage\"");
    let (line, reason) = problem(&duplicate);
    assert_eq!(line, 10, "{reason}");
    assert!(
        reason.contains("a second inject with id \"outage\""),
        "{reason}"
    );
    let (_, reason) = problem(&second.replace("[[inject]]", "[[inject]]\nid = \"custom-1\""));
    assert!(
        reason.contains("kept for injects the facilitator adds"),
        "{reason}"
    );
    let (_, reason) = problem(&second.replace("[[inject]]", "[[inject]]\nid = \"Big Id\""));
    assert!(reason.contains("a-z, 0-9"), "{reason}");
}

#[test]
fn new_inject_kinds_parse_with_their_rules() {
    let scenario = parsed(concat!(
        "[[inject]]\nat = \"2m\"\nkind = \"escalation-burst\"\ntarget = \"risk-scorer\"\nmagnitude = 12\n",
        "[[inject]]\nat = \"3m\"\nkind = \"escalation-burst\"\ntarget = \"any\"\n",
        "[[inject]]\nat = \"4m\"\nkind = \"source-unreachable\"\ntarget = \"fleet\"\nduration = \"90s\"\n",
        "[[inject]]\nat = \"6m\"\nkind = \"message\"\nnarrative = \"Support: timeouts\"\nfacilitator_note = \"nudge\"\n",
    ));
    let [_, burst, any, dark, message] = &scenario.injects[..] else {
        panic!("five injects")
    };
    assert_eq!(
        (burst.target.clone(), burst.magnitude, burst.duration_s),
        (InjectTarget::Service(Some(0)), 12.0, 0.0)
    );
    assert_eq!(burst.summary(), "burst of 12 escalations for risk-scorer");
    assert_eq!(
        (any.target.clone(), any.magnitude),
        (InjectTarget::Service(None), 10.0)
    );
    assert_eq!(
        (dark.target.clone(), dark.duration_s),
        (InjectTarget::FleetSource, 90.0)
    );
    assert_eq!(message.target, InjectTarget::Players);
    let state = message.state();
    assert_eq!(
        (
            state.kind.as_str(),
            state.narrative.as_str(),
            state.target.as_str()
        ),
        ("message", "Support: timeouts", "")
    );
    assert_eq!(state.facilitator_note.as_deref(), Some("nudge"));
    assert_eq!(state.fired_at_s, None);
    assert_eq!(dark.state().kind, "source-unreachable");
}

#[test]
fn new_inject_kinds_refuse_what_they_do_not_take() {
    let cases = [
        (
            "kind = \"message\"\nnarrative = \"hi\"\ntarget = \"us-east\"",
            "takes no target",
        ),
        ("kind = \"message\"", "a message needs a narrative"),
        (
            "kind = \"message\"\nnarrative = \"hi\"\nduration = \"1m\"",
            "takes no duration",
        ),
        (
            "kind = \"escalation-burst\"\ntarget = \"risk-scorer\"\nmagnitude = 2.5",
            "whole number",
        ),
        (
            "kind = \"escalation-burst\"\ntarget = \"mars\"",
            "not a service of the topology",
        ),
        (
            "kind = \"source-unreachable\"\ntarget = \"escalations\"\nduration = \"1m\"",
            "only \"fleet\"",
        ),
        (
            "kind = \"source-unreachable\"\ntarget = \"fleet\"",
            "needs a duration",
        ),
        (
            "kind = \"region-down\"\nduration = \"1m\"",
            "needs a target",
        ),
    ];
    for (fields, expected) in cases {
        let (_, reason) = problem(&format!("[[inject]]\nat = \"1m\"\n{fields}\n"));
        assert!(reason.contains(expected), "{fields}: {reason}");
    }
}

#[test]
fn every_objective_kind_resolves_to_its_condition() {
    let scenario = parsed(concat!(
        "[[objective]]\nid = \"a\"\ntitle = \"off\"\nweight = 3\nafter = \"outage\"\nwithin = \"5m\"\nkind = \"traffic-off\"\nprovider = \"openai@us-east\"\n",
        "[[objective]]\nid = \"b\"\ntitle = \"cool\"\nkind = \"no-overload\"\nfor = \"90s\"\n",
        "[[objective]]\nid = \"c\"\ntitle = \"sla\"\nkind = \"escalations-within-sla\"\npriority = \"P1\"\n",
        "[[objective]]\nid = \"d\"\ntitle = \"no force\"\nkind = \"no-force\"\n",
        "[[objective]]\nid = \"e\"\ntitle = \"drain\"\nkind = \"action\"\naction = \"breaker force-open\"\ntarget = \"openai@us-east\"\n",
        "[[objective]]\nid = \"f\"\ntitle = \"ok\"\nkind = \"healthy\"\ntarget = \"credit-decision\"\n",
        "[[objective]]\nid = \"g\"\ntitle = \"promoted\"\nkind = \"action\"\naction = \"promote\"\ntarget = \"credit-decision@us-west\"\n",
        "[[objective]]\nid = \"h\"\ntitle = \"warmed\"\nkind = \"action\"\naction = \"standby warm\"\ntarget = \"credit-decision\"\n",
    ));
    let conditions: Vec<ObjectiveCondition> = scenario
        .objectives
        .iter()
        .map(|o| o.condition.clone())
        .collect();
    assert_eq!(
        conditions,
        [
            ObjectiveCondition::TrafficOff {
                provider: "openai@us-east".into(),
                below: 0.05
            },
            ObjectiveCondition::NoOverload { for_s: 90.0 },
            ObjectiveCondition::EscalationsWithinSla {
                priority: Some(Priority::P1)
            },
            ObjectiveCondition::NoForce,
            ObjectiveCondition::Action {
                action: "breaker force-open".into(),
                target: Some("openai@us-east".into())
            },
            ObjectiveCondition::Healthy {
                target: "credit-decision".into()
            },
            ObjectiveCondition::Action {
                action: "promote".into(),
                target: Some("credit-decision@us-west".into())
            },
            ObjectiveCondition::Action {
                action: "standby warm".into(),
                target: Some("credit-decision".into())
            },
        ]
    );
    let first = &scenario.objectives[0];
    assert_eq!(
        (
            first.id.as_str(),
            first.weight,
            first.after.as_deref(),
            first.within_s
        ),
        ("a", 3, Some("outage"), Some(300.0))
    );
    let second = &scenario.objectives[1];
    assert_eq!(
        (second.weight, second.after.clone(), second.within_s),
        (1, None, None)
    );
}

#[test]
fn objective_mistakes_name_their_line() {
    let objective = |fields: &str| format!("[[objective]]\nid = \"o\"\ntitle = \"t\"\n{fields}\n");
    let cases = [
        (
            "kind = \"no-force\"\nafter = \"outrage\"",
            13,
            "after \"outrage\" names no inject",
        ),
        (
            "kind = \"no-force\"\nweight = 0",
            13,
            "weight must be 1..=100, not 0",
        ),
        (
            "kind = \"traffic-off\"\nprovider = \"openai@mars\"",
            13,
            "not a provider of the topology",
        ),
        (
            "kind = \"traffic-off\"",
            9,
            "a traffic-off objective needs a provider",
        ),
        (
            "kind = \"traffic-off\"\nprovider = \"openai@us-east\"\nbelow = 1.5",
            14,
            "below must be a share",
        ),
        (
            "kind = \"no-force\"\nprovider = \"openai@us-east\"",
            13,
            "provider belongs to traffic-off objectives, not no-force",
        ),
        (
            "kind = \"escalations-within-sla\"\npriority = \"P9\"",
            13,
            "not one of P1, P2, P3, P4",
        ),
        (
            "kind = \"action\"\naction = \"reboot\"",
            13,
            "must start with a fleet command",
        ),
        (
            "kind = \"action\"\naction = \"breaker smash\"",
            13,
            "is no breaker command; the audit log writes: breaker force-open",
        ),
        (
            "kind = \"action\"\naction = \"standby lukewarm\"",
            13,
            "is no standby command; the audit log writes: standby hot, standby warm, standby cold",
        ),
        (
            "kind = \"action\"\naction = \"drain\"\ntarget = \"atlantis\"",
            14,
            "not a region, provider, service or replica",
        ),
        (
            "kind = \"healthy\"\ntarget = \"credit-decision@us-west\"",
            13,
            "not a region, provider or service",
        ),
        (
            "kind = \"no-force\"\nwithin = \"soon\"",
            13,
            "within: \"soon\" is not a duration",
        ),
        ("kind = \"meteor\"", 12, "unknown variant"),
    ];
    for (fields, line, expected) in cases {
        let err = Scenario::parse("x.toml", &with(&objective(fields)), &topology()).unwrap_err();
        assert!(err.reason.contains(expected), "{fields}: {err}");
        assert_eq!(err.line, line, "{fields}: {err}");
    }
}

#[test]
fn check_lists_every_problem_in_file_order() {
    let text = with(concat!(
        "[[inject]]\nat = \"soon\"\nkind = \"region-down\"\ntarget = \"us-east\"\nduration = \"1m\"\n",
        "[[objective]]\nid = \"o\"\ntitle = \"t\"\nkind = \"no-force\"\nweight = 0\n",
        "[[objective]]\nid = \"o\"\ntitle = \"t\"\nkind = \"no-force\"\n",
    ));
    let problems = Scenario::check("x.toml", &text, &topology()).unwrap_err();
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [10, 18, 20], "{problems:?}");
    assert!(
        problems[2]
            .reason
            .contains("a second objective with id \"o\"")
    );
}

#[test]
fn players_default_to_the_facilitator_and_the_topology_operators() {
    let players: Vec<(String, ExerciseRole)> = parsed("")
        .players
        .into_iter()
        .map(|p| (p.name, p.role))
        .collect();
    assert_eq!(
        players,
        [
            ("facilitator".to_string(), ExerciseRole::Facilitator),
            ("alice".to_string(), ExerciseRole::IncidentCommander),
            ("bob".to_string(), ExerciseRole::Operator),
            ("victor".to_string(), ExerciseRole::Observer),
        ]
    );
}

#[test]
fn listed_players_need_a_facilitator_and_distinct_names() {
    let listed = "[[player]]\nname = \"fran\"\nrole = \"facilitator\"\n[[player]]\nname = \"ops\"\nrole = \"operator\"\n";
    let players = parsed(listed).players;
    assert_eq!(players.len(), 2);
    assert_eq!(players[0].role, ExerciseRole::Facilitator);
    let (_, reason) = problem(&listed.replace("\"facilitator\"", "\"observer\""));
    assert!(reason.contains("need a facilitator"), "{reason}");
    let (line, reason) = problem(&listed.replace("\"ops\"", "\"fran\""));
    assert_eq!(line, 13, "{reason}");
    assert!(
        reason.contains("a second player named \"fran\""),
        "{reason}"
    );
    let (_, reason) = problem(&listed.replace("\"operator\"", "\"boss\""));
    assert!(reason.contains("unknown variant"), "{reason}");
}

#[test]
fn a_scenario_may_turn_the_two_person_rule_on_and_its_policy_is_checked() {
    assert_eq!(parsed("").approvals, None, "off unless the scenario says");
    let on = parsed("[approvals]\nverbs = [\"drain\"]\nexpires_after_s = 120\n");
    let policy = on.approvals.expect("the scenario's policy");
    assert_eq!(
        (policy.verbs, policy.expires_after_s),
        (vec!["drain".to_string()], 120)
    );
    assert!(
        policy.forced,
        "forced commands wait whenever a policy exists"
    );
    let (line, reason) = problem("[approvals]\nservices = [\"nope\"]\n");
    assert_eq!(line, 9);
    assert!(reason.contains("no service \"nope\""), "{reason}");
}
