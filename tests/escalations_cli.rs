//! `switchboard escalations` against the real lab on 127.0.0.1: list, show, and a resolution
//! that happens exactly once even when two operators try.

use lab::{LabOptions, LabServer};
use switchboard::cli::escalations::{
    EXIT_CONFLICT, EXIT_RESOLVED, EscalationsArgs, run_escalations,
};
use switchboard::journal::Journal;
use switchboard::sources::SourceSpec;

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: EscalationsArgs,
}

async fn run(
    lab: &LabServer,
    who: &str,
    line: &str,
    journal: Option<&mut Journal>,
) -> (i32, String) {
    let args = Cli::try_parse_from(std::iter::once("escalations").chain(line.split_whitespace()))
        .unwrap_or_else(|e| panic!("{line}: {e}"))
        .command;
    let source = SourceSpec {
        name: "lab".into(),
        url: lab.url(),
        token: lab.token_for(who).map(str::to_string),
    };
    let mut out = Vec::new();
    let code = run_escalations(args, source, "drill", journal, &mut out, |_| {
        panic!("--yes was given")
    })
    .await
    .unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn list_show_and_resolve_once() {
    let options = LabOptions {
        escalations: 30,
        ..LabOptions::default()
    };
    let lab = LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();

    let (code, listed) = run(&lab, "victor", "list --limit 10 --json", None).await;
    assert_eq!(code, 0, "{listed}");
    let page: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    // Sorted by SLA deadline, most urgent first.
    let deadlines: Vec<&str> = items
        .iter()
        .map(|i| i["sla_deadline"].as_str().unwrap())
        .collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "{deadlines:?}");

    // A task with a candidate to approve.
    let mut chosen = None;
    for item in items {
        let id = item["id"].as_str().unwrap();
        let (_, shown) = run(&lab, "victor", &format!("show {id} --json"), None).await;
        let detail: serde_json::Value = serde_json::from_str(&shown).unwrap();
        if let Some(candidate) = detail["candidates"].as_array().and_then(|c| c.first()) {
            chosen = Some((
                id.to_string(),
                candidate["id"].as_str().unwrap().to_string(),
            ));
            break;
        }
    }
    let (id, candidate) = chosen.expect("one of the first ten has a candidate");
    let (code, shown) = run(&lab, "victor", &format!("show {id}"), None).await;
    assert_eq!(code, 0);
    assert!(
        shown.contains("lineage:") && shown.contains("candidates"),
        "{shown}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&dir.path().join("commands.jsonl")).unwrap();
    let line = format!("resolve {id} --approve {candidate} --note looks-right --yes");
    let (code, said) = run(&lab, "bob", &line, Some(&mut journal)).await;
    assert_eq!(code, EXIT_RESOLVED, "{said}");
    assert!(
        said.contains(&format!("resolved {id} (approve) by bob")),
        "{said}"
    );
    assert!(journal.pending().is_empty(), "the answer is journaled");

    // Another operator, another key: the task is closed, and the answer says by whom.
    let line = format!("resolve {id} --abort --note too-late --yes");
    let (code, said) = run(&lab, "alice", &line, Some(&mut journal)).await;
    assert_eq!(code, EXIT_CONFLICT, "{said}");
    assert!(said.contains("bob"), "{said}");
    lab.shutdown().await;
}
