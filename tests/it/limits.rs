//! The server's resource limits, through the real binary on loopback: the connection cap that keeps
//! `/metrics` answering, the write deadline that closes slow readers, and the budget of push bytes in flight.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{http, wait_for, Exporter};

/// Descriptors the exporter holds now.
fn open_descriptors(exporter: &Exporter) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", exporter.child.id()))
        .map(Iterator::count)
        .unwrap_or(0)
}

fn start(extra: &[&str]) -> Exporter {
    let mut args = vec!["serve", "--model", "gpt2", "--gpu", "a100-sxm"];
    args.extend_from_slice(extra);
    Exporter::start(&args)
}

/// A connection that asks for `/metrics` many times over and never reads an answer, so that the exporter's
/// writes block once the socket buffers are full. The requests are written from a thread, since the exporter
/// stops reading them once its writes block.
fn slow_reader(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    let mut writer = stream.try_clone().expect("clone the stream");
    std::thread::spawn(move || {
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\n\r\n");
        let requests = request.repeat(20_000);
        // The exporter closes the connection part-way, which ends the write with an error.
        let _ = writer.write_all(requests.as_bytes());
    });
    stream
}

/// A GET of `/metrics` on a fresh connection, and how long it took.
fn timed_scrape(address: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let response = http(address, "GET", "/metrics", &[], b"");
    (response.status, started.elapsed())
}

#[test]
fn metrics_answer_while_others_hold_every_connection() {
    let exporter = start(&["--web.max-connections", "20"]);
    let address = exporter.address;
    let baseline = open_descriptors(&exporter);
    // Twice the cap, half idle and half reading nothing of what they asked for.
    let mut held = Vec::new();
    for index in 0..40 {
        if index % 2 == 0 {
            held.push(TcpStream::connect(address).expect("connect"));
        } else {
            held.push(slow_reader(address));
        }
    }
    // The exporter has seen all of them once a later connection is answered.
    let (status, elapsed) = timed_scrape(address);
    assert_eq!(status, 200);
    assert!(
        elapsed < Duration::from_secs(1),
        "the scrape took {elapsed:?}"
    );
    for _ in 0..5 {
        let (status, elapsed) = timed_scrape(address);
        assert_eq!(status, 200);
        assert!(
            elapsed < Duration::from_secs(1),
            "the scrape took {elapsed:?}"
        );
    }
    // The cap, the eviction slack (8) and the scraper's own connection.
    let open = open_descriptors(&exporter);
    assert!(
        open <= baseline + 20 + 8 + 1,
        "{open} descriptors open, {baseline} before the connections"
    );
    drop(held);
}

#[test]
fn slow_readers_are_closed_after_the_request_timeout() {
    let exporter = start(&["--web.request-timeout", "500ms"]);
    let baseline = open_descriptors(&exporter);
    let held: Vec<TcpStream> = (0..10).map(|_| slow_reader(exporter.address)).collect();
    wait_for(
        Duration::from_secs(5),
        "the slow readers to connect",
        || open_descriptors(&exporter) >= baseline + 10,
    );
    // Each connection fails 500 ms after its writes block; the clients keep their end open throughout.
    wait_for(
        Duration::from_secs(5),
        "the slow readers to be closed",
        || open_descriptors(&exporter) <= baseline + 1,
    );
    let response = exporter.get("/-/healthy");
    assert_eq!(response.status, 200);
    drop(held);
}

#[test]
fn pushes_past_the_inflight_budget_get_503_until_the_stalled_ones_time_out() {
    let exporter = start(&[
        "--push.max-body-bytes",
        "1000",
        "--push.max-inflight-bytes",
        "3000",
        "--web.request-timeout",
        "1s",
    ]);
    let address = exporter.address;
    // Three pushes declare the largest body and send none of it: together they hold the whole budget.
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address).expect("connect");
        let head = format!(
            "POST /api/v1/push HTTP/1.1\r\nHost: {address}\r\nContent-Length: 1000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("send the head");
        stalled.push(stream);
    }
    let body = format!(
        "{:<1000}",
        r#"{"run": "limits", "tokens": 1000, "seconds": 1}"#
    );
    let push = || http(address, "POST", "/api/v1/push", &[], body.as_bytes());
    let mut refused = None;
    wait_for(Duration::from_secs(5), "a push to get 503", || {
        let response = push();
        let is_refused = response.status == 503;
        refused = Some(response);
        is_refused
    });
    let refused = refused.expect("a response");
    let json: serde_json::Value = serde_json::from_str(&refused.body).expect("a JSON body");
    let message = json["error"].as_str().unwrap_or_default();
    assert!(message.contains("--push.max-inflight-bytes"), "{message}");
    assert!(
        refused
            .headers
            .to_ascii_lowercase()
            .contains("retry-after: 1"),
        "{}",
        refused.headers
    );
    // The stalled pushes get 408 after a second and give their bytes back.
    wait_for(Duration::from_secs(5), "a push to succeed again", || {
        push().status == 200
    });
    let metrics = exporter.metrics();
    let refused_count =
        crate::support::sample(&metrics, "mfu_exporter_push_requests_total{code=\"503\"}");
    assert!(refused_count.is_some_and(|count| count >= 1.0), "{metrics}");
    drop(stalled);
}
