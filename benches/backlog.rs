//! Where the time of loading a 100,000-task backlog goes, phase by phase, in one process:
//! the lab building its queue, the lab writing every page as JSON, the console parsing the
//! pages and taking them into its inbox; then the whole of it over HTTP (a lab on a loopback
//! port, the console's paging client) without the terminal. `benches/first_frame.rs` measures
//! the same end to end in a terminal. Run: `cargo bench --bench backlog`.

use std::time::Instant;

use lab::escalations::{EscalationQueue, ListQuery};
use lab::topology::Topology;
use lab::{LabOptions, LabServer};
use protocol::escalations::{EscalationPage, EscalationState};
use switchboard::sources::Client;
use switchboard::sources::paging::{self, PAGE_SIZE};
use switchboard::testing::{SOURCE, fixture_wall, lab_app};

const TASKS: usize = 100_000;
const RUNS: usize = 3;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Seconds `work` takes, median of [`RUNS`].
fn timed(mut work: impl FnMut()) -> f64 {
    median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                work();
                start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Every page of the open tasks as the lab's list route writes them.
fn pages(queue: &EscalationQueue) -> Vec<Vec<u8>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let listed = queue.list(&ListQuery {
            states: vec![EscalationState::Pending, EscalationState::Claimed],
            after,
            limit: PAGE_SIZE as usize,
            ..ListQuery::default()
        });
        let page = EscalationPage {
            items: listed.items,
            next_cursor: listed.next.map(|c| c.encode()),
            total: listed.total,
            revision: 1,
        };
        pages.push(serde_json::to_vec(&page).unwrap());
        match listed.next {
            Some(next) => after = Some(next),
            None => return pages,
        }
    }
}

fn main() {
    println!("load average {}", load_average());
    let topology = Topology::embedded_default();
    let build = timed(|| {
        EscalationQueue::new(&topology, 7, TASKS, fixture_wall());
    });
    println!("lab builds a queue of {TASKS}: {:.1} ms", build * 1e3);
    let queue = EscalationQueue::new(&topology, 7, TASKS, fixture_wall());
    let write = timed(|| {
        pages(&queue);
    });
    let written = pages(&queue);
    let bytes: usize = written.iter().map(Vec::len).sum();
    println!(
        "lab lists and writes {} pages ({:.1} MB, {} B a task): {:.1} ms",
        written.len(),
        bytes as f64 / 1e6,
        bytes / TASKS,
        write * 1e3
    );
    let parse = timed(|| {
        for page in &written {
            serde_json::from_slice::<EscalationPage>(page).unwrap();
        }
    });
    println!("console parses the pages: {:.1} ms", parse * 1e3);
    let parsed: Vec<EscalationPage> = written
        .iter()
        .map(|p| serde_json::from_slice(p).unwrap())
        .collect();
    let insert = timed(|| {
        let mut app = lab_app(120, 40, Instant::now());
        for (i, page) in parsed.iter().enumerate() {
            app.update(switchboard::app::Msg::EscalationsLoaded {
                source: SOURCE.into(),
                result: Ok(page.items.clone()),
                done: i + 1 == parsed.len(),
            });
        }
    });
    println!(
        "console takes the pages into its inbox (with a clone of each page): {:.1} ms",
        insert * 1e3
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let over_http = median(
        (0..RUNS)
            .map(|_| runtime.block_on(load_over_http()))
            .collect(),
    );
    println!(
        "lab start to every page read over HTTP by the console's client: {:.1} ms",
        over_http * 1e3
    );
    println!("load average {}", load_average());
}

/// Seconds from starting a lab with the backlog to the last page in hand.
async fn load_over_http() -> f64 {
    let start = Instant::now();
    let opts = LabOptions {
        escalations: TASKS,
        seed: 7,
        ..LabOptions::default()
    };
    let lab = LabServer::start(opts, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let token = lab.operators[0].token.clone();
    let client = Client::new(&lab.url(), Some(token)).unwrap();
    let mut pages = std::pin::pin!(paging::open_escalations(client, paging::MAX_PAGES));
    let mut tasks = 0;
    while let Some(page) = futures::StreamExt::next(&mut pages).await {
        tasks += page.result.unwrap().len();
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(tasks, TASKS);
    lab.shutdown().await;
    elapsed
}
