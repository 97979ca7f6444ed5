//! The metrics as a scraper asks for them: the text format by default, OpenMetrics 1.0.0 for
//! `Accept: application/openmetrics-text`, gzip for `Accept-Encoding: gzip`; each passes
//! `promtool check metrics`, and OpenMetrics also passes the OpenMetrics parser of the
//! Prometheus Python client (`prometheus_client.openmetrics.parser`, pinned in `.ci/run`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::serve::{promtool_check_metrics, promtool_metrics_report};
use crate::support::Exporter;

/// Prometheus 2.42's scrape `Accept` header (prometheus/prometheus scrape/scrape.go,
/// `scrapeAcceptHeader`, tag v2.42.0).
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The head (lowercased) and the raw body of one GET.
fn get_raw(exporter: &Exporter, path: &str, headers: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect_timeout(&exporter.address, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    (head, raw[split + 4..].to_vec())
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzip body");
    text
}

/// Parses `text` with the Prometheus Python client's OpenMetrics parser, which refuses what
/// the OpenMetrics 1.0 grammar refuses (a counter family named with `_total`, a missing
/// `# EOF`, blank lines, unescaped HELP).
fn python_openmetrics_check(text: &str) {
    let have = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus_client is required in CI (see .ci/run)"
        );
        eprintln!("notice: python3 prometheus_client missing; skipping the OpenMetrics parse");
        return;
    }
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
                  families = list(parse(sys.stdin.read()))\nprint(' '.join(sorted(f.name + ':' + f.type for f in families)))\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "OpenMetrics parser:\n{report}\n{text}"
    );
    let families = String::from_utf8_lossy(&output.stdout);
    for family in [
        "training_tokens:counter",
        "training_step_duration_seconds:histogram",
        "training_mfu_ratio:gauge",
        "mfu_exporter_push_requests:counter",
    ] {
        assert!(
            families.split_whitespace().any(|f| f == family),
            "{family} not parsed: {families}"
        );
    }
}

/// `promtool check metrics` (2.42, as Debian ships it) reads the text format only, so in
/// OpenMetrics it sees a counter's samples (`x_total`) apart from its HELP (`x`) and says "no
/// help text" for each; it must find nothing else. The OpenMetrics grammar itself is checked by
/// [`python_openmetrics_check`].
fn promtool_check_openmetrics(openmetrics: &str) {
    let Some((_, report)) = promtool_metrics_report(openmetrics) else {
        return;
    };
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    for line in report.lines().filter(|line| !line.trim().is_empty()) {
        let explained = line
            .strip_suffix(" no help text")
            .and_then(|name| name.strip_suffix("_total"))
            .is_some_and(|family| counters.contains(&family));
        assert!(
            explained,
            "promtool check metrics on OpenMetrics: {line}\n{report}"
        );
    }
}

#[test]
fn openmetrics_and_gzip_when_asked_and_promtool_clean_in_both() {
    let exporter = Exporter::start(&["serve", "--model", "gpt2", "--gpu", "a100-sxm"]);
    for body in [
        r#"{"tokens_per_sec": 50000, "step": 1, "step_time": 0.5, "gpus": 1}"#,
        r#"{"tokens_per_sec": 52000, "step": 2, "step_time": 0.5, "gpus": 1}"#,
    ] {
        let response = crate::support::http(
            exporter.address,
            "POST",
            "/api/v1/push",
            &[],
            body.as_bytes(),
        );
        assert_eq!(response.status, 200, "{}", response.body);
    }

    let (head, body) = get_raw(&exporter, "/metrics", &[]);
    assert!(
        head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(!head.contains("content-encoding"), "{head}");
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("# EOF"));
    assert!(
        text.contains("# TYPE training_tokens_total counter\n"),
        "{text}"
    );
    promtool_check_metrics(&text);

    let (head, body) = get_raw(
        &exporter,
        "/metrics",
        &[("Accept", PROMETHEUS_ACCEPT), ("Accept-Encoding", "gzip")],
    );
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let openmetrics = gunzip(&body);
    assert!(openmetrics.ends_with("\n# EOF\n"), "{openmetrics}");
    // The same sample as in the text format, under the family named without `_total`.
    let tokens = crate::support::sample(&text, "training_tokens_total{run=\"default\"}")
        .expect("tokens counted");
    assert!(
        openmetrics.contains(&format!(
            "# TYPE training_tokens counter\ntraining_tokens_total{{run=\"default\"}} {tokens}\n"
        )),
        "{openmetrics}"
    );
    assert!(!openmetrics.contains("\n\n"), "no blank lines");
    promtool_check_openmetrics(&openmetrics);
    python_openmetrics_check(&openmetrics);

    // gzip alone keeps the text format.
    let (head, body) = get_raw(
        &exporter,
        "/metrics",
        &[("Accept-Encoding", "gzip, deflate")],
    );
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(head.contains("content-encoding: gzip"), "{head}");
    promtool_check_metrics(&gunzip(&body));
}
