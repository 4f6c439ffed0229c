use proptest::prelude::*;

use super::Position;
use super::eval::{FleetView, Sourced, Truth, evaluate};
use super::expr::{self, Expr};
use super::file::{self, Block, Jump};

fn at(line: usize, column: usize) -> Position {
    Position { line, column }
}

fn parse(text: &str) -> Result<Expr, expr::ExprError> {
    expr::parse(text, Position::START)
}

fn fleet() -> protocol::FleetSnapshot {
    let text = std::fs::read_to_string("fixtures/payloads/fleet-default.json").unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let expr =
        parse("not health(us-east) == ok and share(us-east) < 5% or p95(us-west) <= 1.5s").unwrap();
    assert_eq!(
        expr.to_string(),
        "((not health(us-east) == ok and share(us-east) < 5%) or p95(us-west) <= 1.5s)"
    );
}

#[test]
fn every_fact_of_the_language_parses() {
    for text in [
        "breaker(openai@us-east) == open",
        "breaker(openai@us-east) != half-open",
        "share(us-east) < 5%",
        "headroom(us-west) >= 10%",
        "p95(us-east) < 800ms",
        "error_rate(openai@us-east) > 2.5%",
        "rate_limited(openai@us-east) > 1%",
        "lag(credit-decision/cd-2) < 5s",
        "mode(risk-scorer) has serve-cache",
        "health(us-east) == ok",
        "open_escalations(p1) == 0",
        "(health(us-east) == ok)",
    ] {
        let expr = parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(
            parse(&expr.to_string()).unwrap(),
            expr,
            "{text} written back"
        );
    }
}

#[test]
fn errors_name_the_place_and_what_was_expected() {
    let cases = [
        ("share(us-east) < 5", at(1, 18), "percentage"),
        ("shares(us-east) < 5%", at(1, 1), "unknown fact `shares`"),
        ("breaker(openai@us-east) < open", at(1, 25), "`==` or `!=`"),
        (
            "breaker(openai@us-east) == ajar",
            at(1, 28),
            "open, closed, half-open",
        ),
        ("mode(risk-scorer) == serve-cache", at(1, 19), "`has`"),
        ("health(us-east) == ok and", at(1, 26), "found the end"),
        ("health(us-east) = ok", at(1, 17), "`==`"),
        ("(health(us-east) == ok", at(1, 23), "`)`"),
        (
            "health(us-east) == ok\n  or p95(us-east) < fast",
            at(2, 21),
            "latency",
        ),
        (
            "health(us-east) == ok health(us-west) == ok",
            at(1, 23),
            "`and`, `or`",
        ),
        (
            "health(us-east) == ok # note",
            at(1, 23),
            "unexpected character",
        ),
        ("open_escalations(p1) == 1.5", at(1, 25), "whole number"),
    ];
    for (text, place, words) in cases {
        let error = parse(text).expect_err(text);
        assert_eq!(error.at, place, "{text}: {}", error.message);
        assert!(error.message.contains(words), "{text}: {}", error.message);
    }
}

#[test]
fn an_embedded_condition_reports_positions_in_its_file() {
    let error = expr::parse("share(us-east) < x", at(7, 11)).unwrap_err();
    assert_eq!(error.at, at(7, 28));
    let error = expr::parse("health(us-east) == ok\nor x", at(7, 11)).unwrap_err();
    assert_eq!(error.at, at(8, 4));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = format!(
        "{}health(us-east) == ok{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(parse(&text).unwrap_err().message.contains("nested deeper"));
    let text = format!("{}health(us-east) == ok", "not ".repeat(10_000));
    assert!(parse(&text).is_err());
}

#[test]
fn evaluation_reads_the_fleet_and_shows_the_values() {
    let mut snapshot = fleet();
    let region = snapshot
        .regions
        .iter_mut()
        .find(|r| r.id == "us-east")
        .unwrap();
    region.traffic_share = 0.032;
    let view = FleetView {
        snapshots: vec![Sourced {
            source: "lab",
            data: &snapshot,
        }],
        ..FleetView::default()
    };
    let result = evaluate(&parse("share(us-east) < 5%").unwrap(), &view);
    assert_eq!(result.truth, Truth::True);
    assert_eq!(result.readings[0].text, "share(us-east) = 3.2% < 5%");
    let result = evaluate(&parse("share(us-east) >= 5%").unwrap(), &view);
    assert_eq!(result.truth, Truth::False);
    let result = evaluate(&parse("breaker(openai@us-east) == closed").unwrap(), &view);
    assert_eq!(result.truth, Truth::True, "{:?}", result.readings);
}

#[test]
fn a_fact_nobody_reported_is_unknown_never_false() {
    let snapshot = fleet();
    let view = FleetView {
        snapshots: vec![Sourced {
            source: "lab",
            data: &snapshot,
        }],
        ..FleetView::default()
    };
    let unknown = |text: &str| evaluate(&parse(text).unwrap(), &view);
    let result = unknown("share(mars-north) < 5%");
    assert_eq!(result.truth, Truth::Unknown);
    assert_eq!(
        result.readings[0].text,
        "share(mars-north) = ? (not reported) < 5%"
    );
    assert_eq!(unknown("not share(mars-north) < 5%").truth, Truth::Unknown);
    assert_eq!(unknown("open_escalations(p1) == 0").truth, Truth::Unknown);
    assert_eq!(unknown("lag(no-slash) < 5s").truth, Truth::Unknown);
    // Kleene: a known false decides an `and`, a known true an `or`.
    let false_and = unknown("share(mars-north) < 5% and share(us-east) > 100%");
    assert_eq!(false_and.truth, Truth::False);
    assert_eq!(false_and.readings.len(), 2, "both sides are shown");
    assert_eq!(
        unknown("share(mars-north) < 5% or share(us-east) < 100%").truth,
        Truth::True
    );
    assert_eq!(FleetView::default().snapshots.len(), 0);
    assert_eq!(
        evaluate(
            &parse("health(us-east) == ok").unwrap(),
            &FleetView::default()
        )
        .truth,
        Truth::Unknown
    );
}

#[test]
fn open_escalations_count_by_priority_once_a_source_answered() {
    let view = FleetView::default().with_open_escalations(Some([2, 0, 1, 0]));
    let truth = |text: &str| evaluate(&parse(text).unwrap(), &view).truth;
    assert_eq!(truth("open_escalations(p1) == 2"), Truth::True);
    assert_eq!(truth("open_escalations(p2) == 0"), Truth::True);
    assert_eq!(truth("open_escalations(all) == 3"), Truth::True);
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(format!("fixtures/runbooks/{name}")).unwrap()
}

#[test]
fn every_shipped_runbook_lints_clean() {
    let mut names: Vec<_> = std::fs::read_dir("fixtures/runbooks")
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    for name in names {
        let parsed = file::parse(&name, &read_fixture(&name));
        let runbook = parsed.unwrap_or_else(|problems| {
            panic!(
                "{}",
                problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(format!("{}.md", runbook.front.id), name);
        assert!(runbook.applies.is_some(), "{name} says when it applies");
    }
}

#[test]
fn the_provider_outage_runbook_has_its_steps_and_kinds() {
    let runbook = file::parse("provider-outage.md", &read_fixture("provider-outage.md")).unwrap();
    let titles: Vec<_> = runbook.steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Confirm the outage",
            "Open the breaker",
            "Wait for traffic to move",
            "Check the backup path",
            "Degrade gracefully"
        ]
    );
    assert!(matches!(runbook.steps[0].blocks[..], [Block::Check(_)]));
    let Block::Action { line, .. } = &runbook.steps[1].blocks[0] else {
        panic!()
    };
    assert_eq!(line, "breaker openai@us-east force-open 30m");
    let Block::Gate(gate) = &runbook.steps[2].blocks[0] else {
        panic!()
    };
    assert_eq!((gate.timeout_s, gate.on_timeout), (300, Jump::Step(5)));
    let Block::Decision(choices) = &runbook.steps[3].blocks[1] else {
        panic!()
    };
    assert_eq!(choices[1].jump, Jump::Step(5));
    assert!(runbook.steps[0].prose.contains("a 429 storm"));
}

#[test]
fn list_item_steps_are_found_without_sections() {
    let runbook = file::parse("r.md", &read_fixture("rate-limit-storm.md")).unwrap();
    assert_eq!(runbook.steps.len(), 4);
    assert_eq!(
        runbook.steps[1].title,
        "Drain the limited region for half an hour"
    );
    assert_eq!(runbook.steps[1].at, at(22, 1));
}

const HEAD: &str = "+++\nid = \"x\"\ntitle = \"X\"\nversion = 1\nowner = \"me\"\nlast_reviewed = 2026-12-01\n+++\n";

fn problems(body: &str) -> Vec<String> {
    match file::parse("x.md", &format!("{HEAD}{body}")) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn lint_errors_carry_file_line_and_column() {
    let step = "## 1. Step\n\n";
    assert_eq!(
        problems(&format!("{step}```check\nshare(us-east) < 5\n```\n")),
        ["x.md:11:18: `share` takes a percentage such as `5%`, not `5`"]
    );
    assert_eq!(
        problems(&format!("{step}```action\ndrian us-east 30m\n```\n"))[0],
        "x.md:11:1: unknown command `drian`; commands: promote, drain, undrain, breaker, degrade, weights, standby, borrow, return"
    );
    assert!(
        problems(&format!("{step}```action\nbreaker openai@us-east\n```\n"))[0]
            .starts_with("x.md:11:1: usage: breaker")
    );
    assert_eq!(
        problems(&format!(
            "{step}```gate\nuntil: share(us-east) < 5%\ntimeout: later\n```\n"
        )),
        ["x.md:12:10: \"later\" is not a duration (use e.g. 90s, 30m, 2h, 1h30m)"]
    );
    assert_eq!(
        problems(&format!(
            "{step}```gate\nuntil: share(us-east) <\ntimeout: 5m\n```\n"
        )),
        ["x.md:11:24: expected a value, found the end"]
    );
    assert_eq!(
        problems(&format!("{step}```decision\ngo on -> step 9\n```\n")),
        ["x.md:8:1: `Step` jumps to step 9; the runbook has 1 steps"]
    );
    assert_eq!(
        problems("1. Step\n\n   ```check\n   p95(us-east) < slow\n   ```\n"),
        ["x.md:11:19: `p95` takes a latency such as `800ms` or `1.5s`, not `slow`"]
    );
    assert_eq!(
        problems("Just prose.\n")[0],
        "x.md:8:1: no steps: write `## ` sections or a numbered list"
    );
}

#[test]
fn front_matter_problems_point_into_the_front_matter() {
    let error = file::parse("x.md", "# no front matter\n").unwrap_err();
    assert_eq!(error[0].at, at(1, 1));
    let text = "+++\nid = \"x\"\ntitle = \"X\"\nversion = 1\nowner = \"me\"\nlast_reviewd = 2026-12-01\n+++\n## Step\n";
    let error = file::parse("x.md", text).unwrap_err();
    assert_eq!(error[0].at.line, 6, "{error:?}");
    let text = HEAD.replace("+++\n#", "").replace(
        "last_reviewed = 2026-12-01\n",
        "last_reviewed = 2026-12-01\n[applies_when]\ncondition = \"share(us-east) < lots\"\n",
    );
    let error = file::parse("x.md", &format!("{text}## Step\n")).unwrap_err();
    assert_eq!(
        error[0].to_string(),
        "x.md:8:31: `share` takes a percentage such as `5%`, not `lots`"
    );
}

proptest! {
    #[test]
    fn no_condition_makes_the_parser_panic(text in any::<String>()) {
        if let Err(error) = parse(&text) {
            prop_assert!(error.at.line >= 1 && error.at.column >= 1);
            prop_assert!(error.at.line <= text.lines().count().max(1) + 1);
        }
    }

    #[test]
    fn conditions_built_from_the_grammars_pieces_never_panic(
        pieces in proptest::collection::vec(proptest::sample::select(vec![
            "health(us-east)", "share(x)", "==", "<", ">=", "has", "ok", "5%", "800ms", "(", ")",
            "and", "or", "not", "open", "serve-cache", "2", "mode(s)", "", "\n",
        ]), 0..24)
    ) {
        let text = pieces.join(" ");
        if let Err(error) = parse(&text) {
            prop_assert!(error.at.column >= 1, "{text:?}");
        }
    }

    #[test]
    fn no_runbook_file_makes_the_parser_panic(body in any::<String>(), cut in 0usize..400) {
        let whole = read_fixture("provider-outage.md");
        let mut end = cut.min(whole.len());
        while !whole.is_char_boundary(end) {
            end -= 1;
        }
        for text in [format!("{HEAD}{body}"), format!("{}{body}", &whole[..end])] {
            if let Err(problems) = file::parse("x.md", &text) {
                prop_assert!(!problems.is_empty());
                for problem in problems {
                    prop_assert!(problem.at.line >= 1 && problem.at.column >= 1);
                    prop_assert!(problem.at.line <= text.lines().count() + 1, "{problem}");
                }
            }
        }
    }
}

#[test]
fn the_readme_example_runbook_lints_clean_and_names_every_fact_of_the_language() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find("## Runbooks").expect("README has ## Runbooks")..];
    let example = section
        .split("````markdown\n")
        .nth(1)
        .and_then(|rest| rest.split("````").next())
        .expect("the section shows a runbook");
    let runbook = file::parse("README.md", example).unwrap_or_else(|problems| {
        panic!("{problems:?}");
    });
    assert_eq!(runbook.steps.len(), 4);
    for fact in expr::Fact::ALL {
        assert!(
            section.contains(&format!("| `{}` |", fact.name())),
            "the README's table lists {}",
            fact.name()
        );
    }
}
