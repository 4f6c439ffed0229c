//! How the lab accepts connections, so that slow, idle or too many clients cannot hold its
//! memory: at most [`ServeLimits::max_connections`] at once (one more is answered `503` and
//! closed at once), and each served by hyper's HTTP/1.1 with a deadline on every request
//! head. That deadline runs from the moment a connection awaits a request, so it also closes
//! idle keep-alive connections and connections that never finish their first line. The
//! deadline on bodies is kept by the router ([`crate::http`]), which answers it with `408`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use protocol::{PROBLEM_JSON, Problem};

/// Largest request head hyper buffers. Heads up to [`crate::http::HEAD_LIMIT`] reach the
/// router, which answers the too-large ones with a problem; beyond this, hyper answers `431`
/// itself, without a body (docs/openapi.yaml says so).
const HEAD_BUFFER: usize = 64 * 1024;
/// Most header lines hyper parses; the router refuses more than
/// [`crate::http::MAX_HEADERS`] with a problem.
const HYPER_MAX_HEADERS: usize = 4 * crate::http::MAX_HEADERS;
/// Longest a refused connection is kept, to hand it its `503`.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);

/// How long a client may take, and how many may be connected at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServeLimits {
    /// Time to send a whole request head, counted from when the connection awaits one (so
    /// also the longest a keep-alive connection may sit idle).
    pub header_timeout: Duration,
    /// Time to send a whole request body, counted from the end of its head.
    pub body_timeout: Duration,
    /// Connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// Longest an escalation request waits for the synthetic backlog still being built
    /// before it is answered `503` with `Retry-After`: below a client's request timeout.
    pub backlog_wait: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
            backlog_wait: Duration::from_secs(8),
        }
    }
}

/// Serves `app` on `listener` until `stopped` turns true; then lets each connection finish
/// the request it is answering.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusal = refusal_response();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(HEAD_BUFFER)
        .max_headers(HYPER_MAX_HEADERS);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!(%error, "lab cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tokio::spawn(refuse(stream, Arc::clone(&refusal)));
            continue;
        };
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            // Ends as soon as stop is asked, keeping no borrow of the flag.
            let stop = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
}

/// Answers a connection beyond the limit and closes it within [`REFUSAL_GRACE`]. What the
/// client sent is read and dropped meanwhile: closing with it unread would reset the
/// connection, and the client could lose the answer.
async fn refuse(mut stream: TcpStream, refusal: Arc<[u8]>) {
    let _ = tokio::time::timeout(REFUSAL_GRACE, async {
        stream.write_all(&refusal).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// The `503` a connection beyond the limit gets, whatever it asked.
fn refusal_response() -> Arc<[u8]> {
    let problem = Problem::new(
        503,
        "Service Unavailable",
        "the lab serves as many connections as it may; retry shortly",
    );
    let body = serde_json::to_string(&problem).expect("a problem document serializes");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {PROBLEM_JSON}\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
    .into()
}
