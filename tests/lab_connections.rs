//! The lab's HTTP server over raw TCP on 127.0.0.1: every refusal it can give is a problem
//! document (the ones hyper gives before a request exists are bodyless, as the spec says),
//! and slow, idle or too many clients are cut off instead of holding its memory.

mod lab_support;

use std::net::SocketAddr;
use std::time::Duration;

use lab::{LabOptions, LabServer, ServeLimits};
use protocol::PROBLEM_JSON;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use lab_support::{SPEC, WAIT, client, send};

/// Short deadlines, so that the tests wait little for them.
const SHORT: Duration = Duration::from_millis(400);

async fn start(max_connections: usize) -> LabServer {
    let options = LabOptions {
        limits: ServeLimits {
            header_timeout: SHORT,
            body_timeout: SHORT,
            max_connections,
            ..ServeLimits::default()
        },
        ..LabOptions::default()
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    LabServer::start(options, loopback).await.unwrap()
}

async fn connect(lab: &LabServer) -> TcpStream {
    TcpStream::connect(lab.addr).await.unwrap()
}

/// `count` connections that each send the start of a request line and no more.
async fn half_open(lab: &LabServer, count: usize) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for _ in 0..count {
        let mut stream = connect(lab).await;
        stream.write_all(b"GET /v1/fle").await.unwrap();
        streams.push(stream);
    }
    streams
}

/// Everything the lab sends until it closes the connection (bounded by [`WAIT`]).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the lab closes the connection in time")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Sends `request` on a fresh connection and returns the whole answer.
async fn exchange(lab: &LabServer, request: &[u8]) -> String {
    let mut stream = connect(lab).await;
    stream.write_all(request).await.unwrap();
    read_to_close(&mut stream).await
}

/// The status of a raw answer, after checking that it is a problem document of the spec.
fn problem_status(answer: &str) -> u16 {
    let status: u16 = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        head.to_lowercase()
            .contains(&format!("content-type: {PROBLEM_JSON}")),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON problem");
    SPEC.assert_valid(SPEC.schema("Problem"), &body, "a problem");
    assert_eq!(body["status"], status);
    status
}

fn large_body_head(auth: &str) -> Vec<u8> {
    format!(
        "POST /v1/escalations/esc-000001/resolve HTTP/1.1\r\nhost: lab\r\n{auth}\
         content-type: application/json\r\ncontent-length: 100000000\r\n\r\n"
    )
    .into_bytes()
}

fn get(target: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nhost: lab\r\n{extra_headers}connection: close\r\n\r\n")
        .into_bytes()
}

#[tokio::test]
async fn every_refusal_the_lab_can_give_is_a_problem() {
    let lab = start(64).await;
    let token = lab.token_for("alice").unwrap().to_string();
    let auth = format!("authorization: Bearer {token}\r\n");
    let long_target = format!("/v1/fleet?pad={}", "a".repeat(lab::http::URI_LIMIT));
    let many_headers: String = (0..=lab::http::MAX_HEADERS)
        .map(|i| format!("x-pad-{i}: 1\r\n"))
        .collect();
    let big_header = format!("x-pad: {}\r\n", "a".repeat(lab::http::HEAD_LIMIT));
    let command = |content_type: &str, body: &str| {
        format!(
            "POST /v1/regions/us-east/drain HTTP/1.1\r\nhost: lab\r\n{auth}\
             content-type: {content_type}\r\nidempotency-key: k-1\r\nif-match: 1\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unknown path", get("/v2/fleet", &auth), 404),
        (
            "unknown method",
            b"BREW /v1/fleet HTTP/1.1\r\nhost: lab\r\nconnection: close\r\n\r\n".to_vec(),
            405,
        ),
        ("wrong method", get("/v1/regions/us-east/drain", &auth), 405),
        ("long target", get(&long_target, &auth), 414),
        ("many headers", get("/v1/fleet", &many_headers), 431),
        ("large head", get("/v1/fleet", &big_header), 431),
        // Refused on its declared length, before any of it is read.
        ("large body", large_body_head(&auth), 413),
        ("wrong content type", command("text/plain", "{}"), 415),
    ];
    for (what, request, status) in cases {
        let answer = exchange(&lab, &request).await;
        assert_eq!(problem_status(&answer), status, "{what}: {answer}");
        if status == 405 {
            assert!(answer.to_lowercase().contains("\r\nallow: "), "{what}");
        }
    }
    // What hyper refuses before a request exists: a status and no body, as the spec says.
    let unparsable: [(&str, &[u8], u16); 2] = [
        ("malformed request line", b"GET\x01 / HTTP/1.1\r\n\r\n", 400),
        (
            "malformed header",
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
            400,
        ),
    ];
    for (what, request, status) in unparsable {
        let answer = exchange(&lab, request).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{what}: {answer}"
        );
        assert!(answer.ends_with("\r\n\r\n"), "{what}: {answer}");
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn half_open_and_idle_connections_are_closed_while_requests_go_on() {
    let lab = start(1024).await;
    let mut half_open = half_open(&lab, 500).await;
    // An idle keep-alive connection after one full exchange.
    let mut idle = connect(&lab).await;
    idle.write_all(b"GET /v1/health HTTP/1.1\r\nhost: lab\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let health = send(client().get(format!("{}/v1/health", lab.url()))).await;
    assert_eq!(health.status(), 200, "served while 500 connections dangle");

    for stream in &mut half_open {
        // Closed without an answer once the head's deadline passed.
        assert_eq!(read_to_close(stream).await, "");
    }
    read_to_close(&mut idle).await;
    lab.shutdown().await;
}

#[tokio::test]
async fn a_trickling_body_is_answered_408_and_cut() {
    let lab = start(64).await;
    let token = lab.token_for("alice").unwrap().to_string();
    let mut stream = connect(&lab).await;
    let head = format!(
        "POST /v1/regions/us-east/drain HTTP/1.1\r\nhost: lab\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\nidempotency-key: k-1\r\nif-match: 1\r\n\
         content-length: 100\r\n\r\n{{\"reason\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert_eq!(problem_status(&answer), 408, "{answer}");
    lab.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_at_once() {
    let lab = start(8).await;
    let mut held = half_open(&lab, 8).await;
    // Accepted in order: give the lab a moment to take all eight.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    let answer = exchange(&lab, &get("/v1/health", "")).await;
    assert_eq!(problem_status(&answer), 503, "{answer}");
    assert!(started.elapsed() < SHORT, "refused before any deadline");
    for stream in &mut held {
        read_to_close(stream).await;
    }
    let health = send(client().get(format!("{}/v1/health", lab.url()))).await;
    assert_eq!(
        health.status(),
        200,
        "served again once the others are gone"
    );
    lab.shutdown().await;
}
