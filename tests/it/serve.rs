//! `serve` end to end: the real binary on loopback, fed by real files and pushes.
//!
//! Each tailing behaviour has its own test, named after it. Tests wait for effects by
//! polling `/metrics` with a deadline, never by sleeping a fixed time.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{http, repo_path, run, sample, wait_for, Exporter};

const TOKENS: f64 = 4096.0;

/// A trainer's log line: one step of TOKENS tokens in one second.
fn line(step: u64) -> String {
    format!("{{\"step\": {step}, \"loss\": 3.5, \"tokens\": {TOKENS}, \"dt\": 1.0}}\n")
}

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn lines(from: u64, count: u64) -> String {
    (from..from + count).map(line).collect()
}

struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new() -> Job {
        Job {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("train.jsonl")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `serve` tailing `train.jsonl` (or `pattern`) as run "r", plus `extra` flags.
    fn serve(&self, extra: &[&str]) -> Exporter {
        let log = self.log().to_string_lossy().into_owned();
        let mut args = vec![
            "serve",
            "--model",
            "gpt2",
            "--gpu",
            "a100-sxm",
            "--gpus",
            "8",
            "--tail.run",
            "r",
            "--log.level",
            "debug",
        ];
        if !extra.contains(&"--tail.path") {
            args.extend(["--tail.path", &log]);
        }
        args.extend_from_slice(extra);
        Exporter::start(&args)
    }
}

const TOKENS_TOTAL: &str = "training_tokens_total{run=\"r\"}";

fn tokens(steps: u64) -> f64 {
    steps as f64 * TOKENS
}

#[test]
fn file_that_does_not_exist_yet() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    exporter.wait_value(TOKENS_TOTAL, 0.0);
    // A file that appears after start-up is read from its first byte.
    append(&job.log(), &lines(1, 3));
    exporter.wait_value(TOKENS_TOTAL, tokens(3));
    exporter.wait_value("training_steps_total{run=\"r\"}", 3.0);
}

#[test]
fn read_from_end_skips_what_was_there() {
    let job = Job::new();
    append(&job.log(), &lines(1, 5));
    let exporter = job.serve(&[]);
    wait_for(
        Duration::from_secs(10),
        "the tailer to open the file",
        || exporter.log.lock().unwrap().contains("following"),
    );
    append(&job.log(), &lines(6, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
}

#[test]
fn partial_line_waits_for_newline() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    let whole = line(2);
    let (head, tail) = whole.split_at(20);
    append(&job.log(), &(line(1) + head));
    exporter.wait_value(TOKENS_TOTAL, tokens(1));
    wait_for(
        Duration::from_secs(10),
        "the partial line to be read",
        || {
            exporter
                .value("mfu_exporter_bytes_read_total")
                .unwrap_or(0.0)
                >= (line(1).len() + 20) as f64
                || exporter.value("mfu_exporter_lines_read_total") == Some(1.0)
        },
    );
    append(&job.log(), tail);
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
    let metrics = exporter.metrics();
    for reason in [
        "invalid_json",
        "invalid_utf8",
        "not_an_object",
        "invalid_value",
    ] {
        let series = format!("mfu_exporter_parse_errors_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&metrics, &series), Some(0.0), "{series}");
    }
}

#[test]
fn rename_rotation_drains_old_file_then_follows_new() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    append(&job.log(), &lines(1, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
    // logrotate's `create`: rename, a last write to the old file, then a new file.
    let rotated = job.path("train.jsonl.1");
    fs::rename(job.log(), &rotated).unwrap();
    append(&rotated, &line(3));
    append(&job.log(), &lines(4, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(5));
    wait_for(Duration::from_secs(5), "the rotation to be counted", || {
        exporter
            .value("mfu_exporter_file_rotations_total")
            .unwrap_or(0.0)
            >= 1.0
    });
}

#[test]
fn copytruncate_restarts_from_zero() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    append(&job.log(), &lines(1, 3));
    exporter.wait_value(TOKENS_TOTAL, tokens(3));
    fs::copy(job.log(), job.path("train.jsonl.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(job.log())
        .unwrap()
        .set_len(0)
        .unwrap();
    exporter.wait_value("mfu_exporter_file_truncations_total", 1.0);
    append(&job.log(), &lines(4, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(5));
}

#[test]
fn truncate_to_empty_then_write_more_than_before() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    append(&job.log(), &lines(1, 1));
    exporter.wait_value(TOKENS_TOTAL, tokens(1));
    // `: > train.jsonl` and a quick rewrite longer than what was read.
    fs::write(job.log(), lines(2, 3)).unwrap();
    exporter.wait_value(TOKENS_TOTAL, tokens(4));
}

#[test]
fn delete_and_recreate() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    append(&job.log(), &lines(1, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
    fs::remove_file(job.log()).unwrap();
    append(&job.log(), &lines(3, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(4));
}

#[test]
fn glob_picks_up_new_files_of_the_run() {
    let job = Job::new();
    let pattern = job.path("rank-*.jsonl").to_string_lossy().into_owned();
    let exporter = job.serve(&[
        "--tail.path",
        &pattern,
        "--tail.throughput-scope",
        "per-file",
    ]);
    append(&job.path("rank-0.jsonl"), &lines(1, 2));
    append(&job.path("rank-1.jsonl"), &lines(1, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(4));
    // Every rank logs the same steps: they are counted once.
    exporter.wait_value("training_steps_total{run=\"r\"}", 2.0);
}

#[test]
fn line_over_cap_is_skipped_and_counted() {
    let job = Job::new();
    let config = job.path("config.toml");
    let log = job.log().to_string_lossy().into_owned();
    fs::write(
        &config,
        format!("[[tail]]\npath = {log:?}\nrun = \"r\"\nmax_line_bytes = 256\n"),
    )
    .unwrap();
    let exporter = Exporter::start(&[
        "serve",
        "--config",
        &config.to_string_lossy(),
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
    ]);
    let long = format!(
        "{{\"step\": 1, \"tokens\": 1, \"padding\": \"{}\"}}\n",
        "x".repeat(2000)
    );
    append(&job.log(), &(long + &line(2)));
    exporter.wait_value(TOKENS_TOTAL, tokens(1));
    exporter.wait_value(
        "mfu_exporter_parse_errors_total{reason=\"line_too_long\"}",
        1.0,
    );
}

#[test]
fn bad_lines_are_counted_by_reason_and_skipped() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    let mut bad = Vec::new();
    bad.extend_from_slice(b"{\"step\": 1, \"tokens\": 1, \"note\": \"\xff\"}\n");
    bad.extend_from_slice(b"{\"step\": 2, \"tokens\": \n");
    bad.extend_from_slice(b"[1, 2]\n");
    bad.extend_from_slice(b"{\"step\": 3, \"tokens\": -5}\n");
    bad.extend_from_slice(b"{\"eval_loss\": 2.0}\n");
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(job.log())
        .unwrap()
        .write_all(&bad)
        .unwrap();
    append(&job.log(), &line(4));
    exporter.wait_value(TOKENS_TOTAL, tokens(1));
    for (reason, count) in [
        ("invalid_utf8", 1.0),
        ("invalid_json", 1.0),
        ("not_an_object", 1.0),
        ("invalid_value", 1.0),
    ] {
        exporter.wait_value(
            &format!("mfu_exporter_parse_errors_total{{reason=\"{reason}\"}}"),
            count,
        );
    }
    exporter.wait_value("mfu_exporter_lines_ignored_total", 1.0);
    exporter.wait_value("mfu_exporter_lines_read_total", 6.0);
}

#[test]
fn missed_event_is_caught_by_poll() {
    // --tail.poll uses no file-system events at all: only the once-a-second poll.
    let job = Job::new();
    let exporter = job.serve(&["--tail.poll"]);
    append(&job.log(), &lines(1, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
}

#[test]
fn restart_resumes_from_saved_position() {
    let job = Job::new();
    let state = job.path("positions.json").to_string_lossy().into_owned();
    let exporter = job.serve(&["--state-file", &state]);
    append(&job.log(), &lines(1, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
    let status = exporter.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status:?}");
    // Written while the exporter was down: neither lost nor counted twice.
    append(&job.log(), &lines(3, 3));
    let exporter = job.serve(&["--state-file", &state]);
    exporter.wait_value(TOKENS_TOTAL, tokens(3));
    append(&job.log(), &lines(6, 1));
    exporter.wait_value(TOKENS_TOTAL, tokens(4));
}

/// `log` → `log.1` → `log.2` while the exporter was down: the saved file (now `log.2`), the
/// whole file between (now `log.1`) and the new `log` are all read, each line once.
#[test]
fn two_rotations_while_stopped_lose_no_line() {
    let job = Job::new();
    let state = job.path("positions.json").to_string_lossy().into_owned();
    let exporter = job.serve(&["--state-file", &state]);
    append(&job.log(), &lines(1, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
    assert!(exporter.terminate().success());
    append(&job.log(), &lines(3, 1));
    fs::rename(job.log(), job.path("train.jsonl.1")).unwrap();
    append(&job.log(), &lines(4, 3));
    fs::rename(job.path("train.jsonl.1"), job.path("train.jsonl.2")).unwrap();
    fs::rename(job.log(), job.path("train.jsonl.1")).unwrap();
    append(&job.log(), &lines(7, 2));
    let exporter = job.serve(&["--state-file", &state]);
    exporter.wait_value(TOKENS_TOTAL, tokens(6));
    exporter.wait_value("mfu_exporter_file_rotations_total", 2.0);
}

#[test]
fn step_going_backwards_is_a_restart() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    append(&job.log(), &(lines(10, 3) + &lines(1, 2)));
    exporter.wait_value(TOKENS_TOTAL, tokens(5));
    exporter.wait_value("training_restarts_total{run=\"r\"}", 1.0);
    exporter.wait_value("training_step{run=\"r\"}", 2.0);
}

/// A log without timestamps: the lines of the start-up backlog get no goodput (the time they
/// were read says nothing of the trainer's clock), the lines that arrive live are timed by their
/// arrival.
#[test]
fn untimed_log_gets_goodput_only_from_lines_that_arrive_live() {
    const GOODPUT: &str = "training_goodput_seconds_total{run=\"r\"}";
    let job = Job::new();
    append(&job.log(), &lines(1, 5));
    let exporter = job.serve(&["--tail.read-from", "beginning"]);
    exporter.wait_value(TOKENS_TOTAL, tokens(5));
    assert_eq!(exporter.value(GOODPUT), None, "no goodput from a backlog");
    for step in 6..=8 {
        append(&job.log(), &line(step));
        exporter.wait_value(TOKENS_TOTAL, tokens(step));
    }
    let metrics = exporter.metrics();
    let goodput = sample(&metrics, GOODPUT).expect("goodput from live lines");
    assert!(goodput > 0.0, "goodput {goodput}");
    // The lines say each step took 1 s: the ideal step.
    assert_eq!(
        sample(&metrics, "training_ideal_step_seconds{run=\"r\"}"),
        Some(1.0)
    );
}

/// The fixture log through the real binary against a golden exposition. Re-bless with
/// `BLESS=1 cargo test golden`.
#[test]
fn golden_exposition_from_fixture_log() {
    let job = Job::new();
    fs::copy(repo_path("tests/fixtures/logs/trainer.jsonl"), job.log()).unwrap();
    let exporter = job.serve(&[
        "--tail.read-from",
        "beginning",
        "--stale-after",
        "100000d",
        "--seq-len",
        "1024",
    ]);
    exporter.wait_value("mfu_exporter_lines_read_total", 11.0);
    let metrics = exporter.metrics();
    let stable: String = metrics
        .lines()
        .filter(|l| {
            !l.starts_with("process_")
                && !l.starts_with("# HELP process_")
                && !l.starts_with("# TYPE process_")
        })
        .filter(|l| !l.contains("mfu_exporter_build_info"))
        .filter(|l| !l.contains("mfu_exporter_cpu_seconds_total"))
        .filter(|l| !l.starts_with("training_last_update_timestamp_seconds{"))
        .map(|l| format!("{l}\n"))
        .collect();
    let golden = repo_path("tests/golden/trainer.prom");
    if std::env::var_os("BLESS").is_some() {
        fs::write(&golden, &stable).unwrap();
    }
    let expected = fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        stable == expected,
        "exposition differs from {} (BLESS=1 to re-bless):\n{stable}",
        golden.display()
    );
}

#[test]
fn landing_and_health_pages() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    append(&job.log(), &lines(1, 2));
    exporter.wait_value(TOKENS_TOTAL, tokens(2));
    let page = exporter.get("/");
    assert_eq!(page.status, 200);
    assert!(page.headers.to_lowercase().contains("text/html"));
    assert!(
        page.body.contains("<td>r</td>") && page.body.contains("live"),
        "{}",
        page.body
    );
    assert_eq!(exporter.get("/-/healthy").status, 200);
    assert_eq!(exporter.get("/-/ready").status, 200);
    let metrics = exporter.get("/metrics");
    assert!(
        metrics.headers.contains("text/plain; version=0.0.4"),
        "{}",
        metrics.headers
    );
    assert_eq!(exporter.get("/nope").status, 404);
}

#[test]
fn bad_configuration_stops_start_up_naming_the_field() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["serve", "--gpu", "h100-sxm"], &["model", "--model"]),
        (&["serve", "--model", "gpt2"], &["hardware", "--gpu"]),
        (
            &[
                "serve",
                "--model",
                "gpt2",
                "--gpu",
                "h100-sxm",
                "--stale-after",
                "never",
            ],
            &["stale-after", "never"],
        ),
        (
            &[
                "serve",
                "--model",
                "gpt2",
                "--gpu",
                "h100-sxm",
                "--web.listen-address",
                "here",
            ],
            &["listen-address", "here"],
        ),
        (
            &[
                "serve",
                "--model",
                "gpt2",
                "--gpu",
                "h100-sxm",
                "--tail.path",
                "/x",
                "--tail.run",
                "no spaces",
            ],
            &["run", "no spaces"],
        ),
        (
            &["serve", "--config", "/nonexistent/config.toml"],
            &["/nonexistent/config.toml"],
        ),
    ];
    for (args, needles) in cases {
        let (ok, _, stderr) = run(args);
        assert!(!ok, "{args:?} should fail");
        for needle in *needles {
            assert!(
                stderr.contains(needle),
                "{args:?}: message lacks {needle:?}: {stderr}"
            );
        }
    }
}

fn push(exporter: &Exporter, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let response = http(
        exporter.address,
        "POST",
        "/api/v1/push",
        headers,
        body.as_bytes(),
    );
    (response.status, response.body)
}

#[test]
fn push_errors_get_4xx_with_a_json_error() {
    let job = Job::new();
    let token = job.path("token");
    fs::write(&token, "s3cret\n").unwrap();
    let exporter = Exporter::start(&[
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--push.token-file",
        &token.to_string_lossy(),
        "--push.max-body-bytes",
        "200",
        "--push.max-runs",
        "1",
    ]);
    let auth = [("Authorization", "Bearer s3cret")];
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(&str, Headers, u16, &str)] = &[
        (r#"{"tokens_per_sec": 1000}"#, &[], 401, "token"),
        (
            r#"{"tokens_per_sec": 1000}"#,
            &[("Authorization", "Bearer nope")],
            401,
            "token",
        ),
        (r#"{"tokens_per_sec": 1000"#, &auth, 400, "malformed json"),
        (
            r#"{"tokens_per_sec": "fast"}"#,
            &auth,
            400,
            "tokens_per_sec",
        ),
        (r#"{"loss": 2.0}"#, &auth, 400, "tokens_per_sec"),
        (r#"{"tokens": 10}"#, &auth, 400, "seconds"),
        (r#"{"tokens_per_sec": 1e999}"#, &auth, 400, "out of range"),
        (r#"{"tokens_per_sec": -1}"#, &auth, 400, "tokens_per_sec"),
        (r#"{"tokens_per_sec": 1e15}"#, &auth, 400, "tokens_per_sec"),
        (
            r#"{"tokens_per_sec": 10, "run": "bad name"}"#,
            &auth,
            400,
            "bad name",
        ),
        (
            r#"{"tokens_per_sec": 10, "token_per_sec": 5}"#,
            &auth,
            400,
            "token_per_sec",
        ),
        (r#"{"tokens_per_sec": 10, "mfu": 40}"#, &auth, 400, "mfu"),
        (r#"[]"#, &auth, 400, "empty"),
        (
            r#"{"tokens": 1000, "seconds": 2, "run": "a"}"#,
            &auth,
            200,
            "accepted",
        ),
        (
            r#"{"tokens": 1000, "seconds": 2, "run": "b"}"#,
            &auth,
            429,
            "max-runs",
        ),
    ];
    for (body, headers, status, needle) in cases {
        let (got, text) = push(&exporter, body, headers);
        assert_eq!(got, *status, "{body}: {text}");
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{body}: not JSON: {text}"));
        let message = json
            .get("error")
            .or_else(|| json.get("accepted"))
            .map(|v| v.to_string())
            .unwrap_or_default();
        assert!(
            text.contains(needle) || message.contains(needle),
            "{body}: {text} lacks {needle:?}"
        );
    }
    let big = format!(
        "{{\"tokens_per_sec\": 1, \"run\": \"{}\"}}",
        "a".repeat(300)
    );
    assert_eq!(push(&exporter, &big, &auth).0, 413);
    let get = http(exporter.address, "GET", "/api/v1/push", &auth, b"");
    assert_eq!(get.status, 405);
    exporter.wait_value("mfu_exporter_push_requests_total{code=\"401\"}", 2.0);
    exporter.wait_value("mfu_exporter_push_requests_total{code=\"413\"}", 1.0);
    exporter.wait_value("training_tokens_total{run=\"a\"}", 1000.0);
}

/// Many clients push and scrape at once: every push is answered 200, every scrape too,
/// and the token counter equals what was sent.
#[test]
fn concurrent_pushes_and_scrapes_lose_nothing() {
    let exporter = Exporter::start(&["serve", "--model", "gpt2", "--gpu", "a100-sxm"]);
    let address = exporter.address;
    let (clients, pushes) = (8, 40);
    let mut handles = Vec::new();
    for client in 0..clients {
        handles.push(std::thread::spawn(move || {
            for i in 0..pushes {
                let body = format!(
                    r#"{{"run": "c{}", "tokens": 1000, "seconds": 0.5, "step": {i}}}"#,
                    client % 2
                );
                let response = http(address, "POST", "/api/v1/push", &[], body.as_bytes());
                assert_eq!(response.status, 200, "{}", response.body);
            }
        }));
    }
    for _ in 0..2 {
        handles.push(std::thread::spawn(move || {
            for _ in 0..40 {
                assert_eq!(http(address, "GET", "/metrics", &[], b"").status, 200);
            }
        }));
    }
    for handle in handles {
        handle.join().unwrap();
    }
    let sent_per_run = (clients / 2 * pushes) as f64 * 1000.0;
    exporter.wait_value("training_tokens_total{run=\"c0\"}", sent_per_run);
    exporter.wait_value("training_tokens_total{run=\"c1\"}", sent_per_run);
    exporter.wait_value(
        "mfu_exporter_push_requests_total{code=\"200\"}",
        (clients * pushes) as f64,
    );
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is required in CI (apt-get install prometheus)"
        );
        eprintln!("notice: promtool not installed; skipping `promtool check metrics` (apt-get install prometheus)");
    }
    found
}

pub fn promtool_check_metrics(exposition: &str) {
    let Some((success, report)) = promtool_metrics_report(exposition) else {
        return;
    };
    assert!(
        success && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

/// What `promtool check metrics` says of an exposition (whether it passed, and its report);
/// `None` where promtool is not installed outside CI.
pub fn promtool_metrics_report(exposition: &str) -> Option<(bool, String)> {
    let promtool = promtool()?;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Some((output.status.success(), report))
}

/// The demo, as a new user runs it: live values within seconds, and an exposition that
/// passes `promtool check metrics`.
#[test]
fn demo_serves_live_mfu_that_passes_promtool() {
    let exporter = Exporter::start(&["demo", "--speed", "20"]);
    wait_for(Duration::from_secs(20), "the demo's MFU", || {
        exporter
            .value("training_mfu_ratio{run=\"demo\",formula=\"palm\",peak_dtype=\"bf16\"}")
            .is_some()
    });
    let metrics = exporter.metrics();
    let mfu = sample(
        &metrics,
        "training_mfu_ratio{run=\"demo\",formula=\"palm\",peak_dtype=\"bf16\"}",
    )
    .unwrap();
    assert!((0.05..0.6).contains(&mfu), "demo MFU {mfu}");
    promtool_check_metrics(&metrics);
}

/// fp8 runs expose MFU and peak against both precisions, and recomputation adds HFU;
/// the exposition with every optional family passes promtool.
#[test]
fn fp8_and_recompute_series_pass_promtool() {
    let exporter = Exporter::start(&[
        "serve",
        "--model",
        "llama-3-8b",
        "--gpu",
        "h100-sxm",
        "--dtype",
        "fp8",
        "--gpus",
        "8",
        "--recompute",
        "selective",
    ]);
    let (status, body) = push(
        &exporter,
        r#"{"tokens_per_sec": 80000, "mfu": 0.3, "loss": 2.5, "step": 7, "gpus": 8}"#,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let metrics = exporter.metrics();
    for series in [
        "training_mfu_ratio{run=\"default\",formula=\"palm\",peak_dtype=\"fp8\"}",
        "training_mfu_ratio{run=\"default\",formula=\"palm\",peak_dtype=\"bf16\"}",
        "training_hfu_ratio{run=\"default\",formula=\"detailed\",peak_dtype=\"fp8\"}",
        "training_peak_flops_per_second{run=\"default\",peak_dtype=\"bf16\"}",
        "training_reported_mfu_ratio{run=\"default\"}",
    ] {
        assert!(
            sample(&metrics, series).is_some(),
            "missing {series}\n{metrics}"
        );
    }
    let fp8 = sample(
        &metrics,
        "training_mfu_ratio{run=\"default\",formula=\"palm\",peak_dtype=\"fp8\"}",
    )
    .unwrap();
    let bf16 = sample(
        &metrics,
        "training_mfu_ratio{run=\"default\",formula=\"palm\",peak_dtype=\"bf16\"}",
    )
    .unwrap();
    assert!((bf16 / fp8 - 2.0).abs() < 0.01);
    promtool_check_metrics(&metrics);
}

/// The example configs shipped in deploy/ load and validate with the real loader.
#[test]
fn shipped_example_configs_are_accepted() {
    use mfu_exporter::config::{parse_file, resolve, ServeSettings};
    let configmap = fs::read_to_string(repo_path("deploy/kubernetes/configmap.yaml")).unwrap();
    // Each layout's TOML is the block scalar under `<key>.toml: |`, indented by four spaces.
    let embedded = |key: &str| -> String {
        configmap
            .lines()
            .skip_while(|l| l.trim_start() != format!("{key}: |"))
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
            .collect()
    };
    let mut configs = Vec::new();
    for key in ["config.toml", "config-rank0.toml"] {
        let text = embedded(key);
        assert!(text.contains("[model]"), "no {key} in the ConfigMap");
        configs.push((format!("configmap.yaml {key}"), text));
    }
    let systemd = fs::read_to_string(repo_path("deploy/systemd/config.toml")).unwrap();
    configs.push(("deploy/systemd/config.toml".to_string(), systemd));
    for (name, text) in configs {
        let file = parse_file(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let config =
            resolve(file, ServeSettings::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!config.tails.is_empty(), "{name} tails no log");
    }
}

/// A bad descriptive field (here a percent MFU under the ratio key) is counted as
/// invalid_value, but the line's tokens still count.
#[test]
fn a_bad_descriptive_field_keeps_the_line_throughput() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    append(
        &job.log(),
        &format!("{{\"step\": 1, \"tokens\": {TOKENS}, \"dt\": 1.0, \"mfu\": 45.3}}\n"),
    );
    exporter.wait_value(TOKENS_TOTAL, tokens(1));
    exporter.wait_value(
        "mfu_exporter_parse_errors_total{reason=\"invalid_value\"}",
        1.0,
    );
    assert_eq!(
        exporter.value("training_reported_mfu_ratio{run=\"r\"}"),
        None
    );
}

/// A push may not feed a run that a tailed log measures.
#[test]
fn pushes_into_a_tailed_run_are_refused() {
    let job = Job::new();
    let exporter = job.serve(&[]);
    let (status, body) = push(&exporter, r#"{"run": "r", "tokens": 5, "seconds": 1}"#, &[]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("tailed log"), "{body}");
    exporter.wait_value(TOKENS_TOTAL, 0.0);
}

/// The README's smoke-test push names no GPUs: its counters count, but it has no peak, no MFU
/// and no GPUs, so it cannot dilute a job's MFU. A push with `gpus` has them; one with
/// `"final": true` ends its run.
#[test]
fn a_push_without_gpus_has_no_peak_and_final_ends_the_run() {
    let exporter = Exporter::start(&[
        "serve",
        "--model",
        "llama-3-8b",
        "--gpu",
        "h100-sxm",
        "--gpus",
        "8",
        "--recompute",
        "selective",
    ]);
    let smoke =
        r#"{"run": "smoke-test", "tokens": 524288, "seconds": 11.4, "step": 1200, "loss": 2.31}"#;
    let named = r#"{"run": "node", "tokens_per_sec": 40000, "gpus": 8, "step": 3}"#;
    for body in [smoke, named] {
        let (status, answer) = push(&exporter, body, &[]);
        assert_eq!(status, 200, "{answer}");
    }
    let metrics = exporter.metrics();
    assert_eq!(
        sample(&metrics, "training_tokens_total{run=\"smoke-test\"}"),
        Some(524288.0)
    );
    for family in [
        "training_peak_flops_per_second",
        "training_mfu_ratio",
        "training_hfu_ratio",
        "training_gpus",
    ] {
        let smoke_series = format!("{family}{{run=\"smoke-test\"");
        assert!(
            !metrics.contains(&smoke_series),
            "{smoke_series}\n{metrics}"
        );
        let node_series = format!("{family}{{run=\"node\"");
        assert!(metrics.contains(&node_series), "{node_series}\n{metrics}");
    }
    assert_eq!(
        sample(&metrics, "training_run_finished{run=\"node\"}"),
        Some(0.0)
    );
    let (status, answer) = push(
        &exporter,
        r#"{"run": "node", "tokens_per_sec": 40000, "step": 4, "final": true}"#,
        &[],
    );
    assert_eq!(status, 200, "{answer}");
    let metrics = exporter.metrics();
    assert_eq!(
        sample(&metrics, "training_run_finished{run=\"node\"}"),
        Some(1.0)
    );
    // The GPUs a run was credited with stay when a later push leaves them out.
    assert_eq!(sample(&metrics, "training_gpus{run=\"node\"}"), Some(8.0));
    let (status, answer) = push(&exporter, r#"{"tokens_per_sec": 1, "gpus": 0}"#, &[]);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains("`gpus` must be a whole number from 1"),
        "{answer}"
    );
}

/// `--formula` adds frameworks' counts to the `formula` label values, each equal to what
/// `calc --conventions` gives; the default stays `palm,detailed`.
#[test]
fn formula_flag_exports_the_conventions_asked_for() {
    let job = Job::new();
    let exporter = job.serve(&["--formula", "palm,detailed,megatron,nanogpt"]);
    append(&job.log(), &lines(1, 3));
    exporter.wait_value(TOKENS_TOTAL, tokens(3));
    let exposition = exporter.metrics();
    let report = crate::support::calc_json(&["--model", "gpt2", "--conventions"]);
    for formula in ["megatron", "nanogpt"] {
        let series = format!("training_model_flops_per_token{{run=\"r\",formula=\"{formula}\"}}");
        let exported =
            sample(&exposition, &series).unwrap_or_else(|| panic!("{series}: {exposition}"));
        let expected =
            crate::support::f64_at(&report, &format!("/conventions/{formula}/flops_per_token"));
        assert!(
            (exported / expected - 1.0).abs() < 1e-12,
            "{formula}: {exported} vs {expected}"
        );
        let total = format!("training_model_flops_total{{run=\"r\",formula=\"{formula}\"}}");
        let counted = sample(&exposition, &total).unwrap_or_else(|| panic!("{total}"));
        assert!(
            (counted / (tokens(3) * expected) - 1.0).abs() < 1e-9,
            "{formula}: {counted}"
        );
    }
    assert!(exposition.contains("formula=\"palm\""));
    assert!(!exposition.contains("formula=\"torchtitan\""));

    let other = Job::new();
    let default = other.serve(&[]);
    append(&other.log(), &lines(1, 3));
    default.wait_value(TOKENS_TOTAL, tokens(3));
    let exposition = default.metrics();
    assert!(exposition.contains("formula=\"detailed\""));
    assert!(!exposition.contains("formula=\"megatron\""));
}

#[test]
fn formula_flag_refuses_unknown_and_repeated_names() {
    for (value, needle) in [
        ("palm,megatorn", "unknown formula \"megatorn\""),
        ("palm,palm", "listed twice"),
        ("palm,,detailed", "empty name"),
    ] {
        let (ok, _, stderr) = crate::support::run(&[
            "serve",
            "--model",
            "gpt2",
            "--gpu",
            "a100-sxm",
            "--formula",
            value,
            "--web.listen-address",
            "127.0.0.1:0",
        ]);
        assert!(!ok, "{value}");
        assert!(
            stderr.contains("--formula") && stderr.contains(needle),
            "{value}: {stderr}"
        );
        if needle.starts_with("unknown") {
            assert!(
                stderr.contains("olmo_core"),
                "lists the known names: {stderr}"
            );
        }
    }
}

/// Issue 11, finding 6: a config file's type errors, unknown keys and invalid values stop
/// start-up once, all named, with a flag's problem in the same list.
#[test]
fn every_config_problem_is_reported_at_once() {
    let job = Job::new();
    let config = job.path("config.toml");
    fs::write(
        &config,
        "[hardware]\ngpu = \"a100-sxm\"\ngpus = \"eight\"\ngpu_count = 8\ndtype = \"int3\"\n[model]\nmodel = \"gpt2\"\nseq_len = \"2048\"\n",
    )
    .unwrap();
    let (ok, _, stderr) = crate::support::run(&[
        "serve",
        "--config",
        &config.to_string_lossy(),
        "--log.format",
        "xml",
    ]);
    assert!(!ok);
    for needle in [
        "hardware.gpus: invalid type: string \"eight\"",
        "hardware.gpu_count: unknown field `gpu_count`",
        "model.seq_len: invalid type: string \"2048\"",
        "hardware.dtype",
        "log.format = \"xml\": use logfmt or json",
    ] {
        assert!(stderr.contains(needle), "lacks {needle:?}:\n{stderr}");
    }
}

/// `--version` names the version and the git revision the binary was built from, which is
/// this checkout's `git rev-parse` where git can read it, else "unknown".
#[test]
fn version_names_the_revision() {
    let (ok, stdout, stderr) = crate::support::run(&["--version"]);
    assert!(ok, "{stderr}");
    let revision = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    let expected_revision = std::env::var("MFU_EXPORTER_REVISION")
        .ok()
        .or(revision)
        .unwrap_or_else(|| "unknown".into());
    let expected = format!(
        "mfu-exporter {} (revision {expected_revision}, rustc ",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        stdout.starts_with(&expected),
        "{stdout:?} lacks {expected:?}"
    );
}

/// `--log.format json`: every line of the daemon's log is one JSON object with `ts`, `level`
/// and `msg`, and the fields of the event beside them.
#[test]
fn json_log_lines_are_objects() {
    let mut child = std::process::Command::new(crate::support::binary())
        .args([
            "serve",
            "--model",
            "gpt2",
            "--gpu",
            "a100-sxm",
            "--web.listen-address",
            "127.0.0.1:0",
            "--log.format",
            "json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let listening = loop {
        let line = receiver
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no listening line: {seen:?}"));
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            value["ts"].is_string() && value["level"].is_string(),
            "{line}"
        );
        seen.push(line);
        if value["msg"] == "listening" {
            break value;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(listening["level"], "info");
    assert!(
        listening["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{listening}"
    );
    assert_eq!(listening["model"], "gpt2");
}
