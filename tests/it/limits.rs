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
    // The exporter has seen all of them once a later connection is answered (it has answered
    // each slow reader until its socket filled up first, which takes a while on a busy machine).
    let (status, elapsed) = timed_scrape(address);
    assert_eq!(status, 200);
    assert!(
        elapsed < Duration::from_secs(5),
        "the first scrape took {elapsed:?}"
    );
    // Then a scraper is answered at once while the others still hold every connection: the
    // median of five within a second (a loaded test machine may stall any one of them).
    let mut elapsed: Vec<Duration> = (0..5)
        .map(|_| {
            let (status, elapsed) = timed_scrape(address);
            assert_eq!(status, 200);
            elapsed
        })
        .collect();
    elapsed.sort();
    assert!(
        elapsed[2] < Duration::from_secs(1),
        "the scrapes took {elapsed:?}"
    );
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
    // A timeout long enough that all ten are open at once even on a busy machine.
    let exporter = start(&["--web.request-timeout", "2s"]);
    let baseline = open_descriptors(&exporter);
    let held: Vec<TcpStream> = (0..10).map(|_| slow_reader(exporter.address)).collect();
    wait_for(
        Duration::from_secs(20),
        "the slow readers to connect",
        || open_descriptors(&exporter) >= baseline + 10,
    );
    // Each connection fails 2 s after its writes block; the clients keep their end open throughout.
    wait_for(
        Duration::from_secs(20),
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

/// A request hyper cannot parse (a `Content-Length` that is not a number, two that disagree)
/// gets the exporter's JSON error, not an empty 400, and is counted.
#[test]
fn a_malformed_content_length_gets_a_json_400_and_is_counted() {
    use std::io::Read;
    let exporter = start(&[]);
    for request in [
        "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        "POST /api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}",
    ] {
        let mut stream = TcpStream::connect(exporter.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(head.starts_with("HTTP/1.1 400 "), "{answer:?}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let error: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("malformed HTTP request"),
            "{body}"
        );
    }
    wait_for(Duration::from_secs(5), "both to be counted", || {
        exporter
            .value("mfu_exporter_http_malformed_requests_total")
            .unwrap_or(0.0)
            == 2.0
    });
    // A good request on a fresh connection is still served.
    assert_eq!(timed_scrape(exporter.address).0, 200);
}
