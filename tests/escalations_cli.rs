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

/// Hostile text: a C1 CSI, a bidi override, DEL.
const HOSTILE: &str = "ok\u{9b}31m\u{202e}evil\u{7f}";

/// `HOSTILE` appended to the free-text fields of a task (a summary, or the detail around one).
fn poison(task: &mut serde_json::Value) {
    for field in ["reason_text", "input_preview", "service", "step"] {
        if let Some(serde_json::Value::String(text)) = task.get_mut(field) {
            text.push_str(HOSTILE);
        }
    }
}

#[tokio::test]
async fn json_output_carries_no_control_bidi_or_del_characters() {
    use axum::routing::get;
    let lab = LabServer::start(
        LabOptions {
            escalations: 3,
            ..LabOptions::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let real =
        switchboard::sources::Client::new(&lab.url(), lab.token_for("alice").map(str::to_string))
            .unwrap();
    let states = protocol::escalations::EscalationState::ALL;
    let query = switchboard::sources::EscalationQuery {
        states: &states,
        priority: None,
        service: None,
        assignee: None,
        limit: Some(3),
        cursor: None,
    };
    let page = real.escalations(&query).await.unwrap();
    let id = page.items[0].id.clone();
    let detail = real.escalation(&id).await.unwrap();
    // A server that answers with the lab's own tasks, hostile text in their free text.
    let mut page_json = serde_json::to_value(&page).unwrap();
    for item in page_json["items"].as_array_mut().unwrap() {
        poison(item);
    }
    page_json["next_cursor"] = serde_json::Value::Null;
    let mut detail_json = serde_json::to_value(&detail).unwrap();
    poison(&mut detail_json);
    poison(&mut detail_json["summary"]);
    let app = axum::Router::new()
        .route(
            "/v1/escalations",
            get(move || async move { axum::Json(page_json) }),
        )
        .route(
            "/v1/escalations/{id}",
            get(move || async move { axum::Json(detail_json) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    for line in ["list --json".to_string(), format!("show {id} --json")] {
        let args =
            Cli::try_parse_from(std::iter::once("escalations").chain(line.split_whitespace()))
                .unwrap()
                .command;
        let source = SourceSpec {
            name: "hostile".into(),
            url: url.clone(),
            token: Some("t".into()),
        };
        let mut out = Vec::new();
        let code = run_escalations(args, source, "drill", None, &mut out, |_| false)
            .await
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(code, 0, "{line}: {out}");
        assert!(
            out.contains("evil"),
            "{line}: the hostile server was read: {out}"
        );
        for bad in ['\u{9b}', '\u{202e}', '\u{7f}'] {
            assert!(!out.contains(bad), "{line}: {bad:?} printed raw");
        }
    }
}
