//! The protocol-v1 client, the source worker and `switchboard status`, over real HTTP on
//! 127.0.0.1: first against small scripted servers (error answers, stream edge cases), then
//! against the lab. One test binary; the shared helpers are here, the tests in the modules.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use futures::StreamExt;
use lab::{LabOptions, LabServer};
use protocol::{FleetSnapshot, Health, PROBLEM_JSON, Problem, Role, WhoAmI};
use switchboard::cli::status::run_status;
use switchboard::sources::backoff::BackoffPolicy;
use switchboard::sources::{
    Client, ClientError, SourceEvent, SourceMsg, SourceOptions, SourceSpec, StreamEvent, Timeouts,
    spawn_source_with,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Bound of every single wait; generous, only there to turn a hang into a failure.
const WAIT: Duration = Duration::from_secs(10);

fn quick_options() -> SourceOptions {
    SourceOptions {
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(2),
            stream_idle: Duration::from_secs(5),
        },
        backoff: BackoffPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(400),
            healthy_after: Duration::from_secs(10),
        },
    }
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = serde_json::to_string(&Problem::new(status.as_u16(), title, detail)).unwrap();
    (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn snapshot(revision: u64) -> FleetSnapshot {
    FleetSnapshot {
        revision,
        ..switchboard::testing::small_fleet()
    }
}

fn delta_event(revision: u64) -> String {
    format!(
        "id: {revision}\nevent: fleet.delta\ndata: {{\"revision\":{revision},\"generated_at\":\"{}\"}}\n\n",
        Utc::now().to_rfc3339()
    )
}

mod against_lab;
mod runbook_runs;
mod scripted_client;
mod scripted_paging;
mod scripted_worker;
