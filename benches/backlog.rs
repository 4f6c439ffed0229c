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

/// CPU seconds the whole process has used (every thread), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// Wall and CPU time of one phase, each the median of [`RUNS`].
struct Timed {
    wall: f64,
    cpu: f64,
}

impl std::fmt::Display for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{:.1} ms (CPU {:.0} ms)",
            self.wall * 1e3,
            self.cpu * 1e3
        )
    }
}

fn timed(mut work: impl FnMut()) -> Timed {
    let (walls, cpus) = (0..RUNS)
        .map(|_| {
            let (start, cpu) = (Instant::now(), cpu_seconds());
            work();
            (start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        })
        .unzip();
    Timed {
        wall: median(walls),
        cpu: median(cpus),
    }
}

/// Every page of the open tasks as the lab's list route writes them.
fn pages(queue: &EscalationQueue) -> Vec<Vec<u8>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = queue.write_page(
            &ListQuery {
                states: vec![EscalationState::Pending, EscalationState::Claimed],
                after,
                limit: PAGE_SIZE as usize,
                ..ListQuery::default()
            },
            1,
        );
        pages.push(page);
        match next {
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
    println!("lab builds a queue of {TASKS}: {build}");
    let queue = EscalationQueue::new(&topology, 7, TASKS, fixture_wall());
    let write = timed(|| {
        pages(&queue);
    });
    let written = pages(&queue);
    let bytes: usize = written.iter().map(Vec::len).sum();
    println!(
        "lab lists and writes {} pages ({:.1} MB, {} B a task): {write}",
        written.len(),
        bytes as f64 / 1e6,
        bytes / TASKS,
    );
    let parse = timed(|| {
        for page in &written {
            serde_json::from_slice::<EscalationPage>(page).unwrap();
        }
    });
    println!("console parses the pages: {parse}");
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
    println!("console takes the pages into its inbox (with a clone of each page): {insert}");
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
