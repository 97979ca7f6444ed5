//! Faults of the tailer through the real binary: what used to stop it, and that a tailer that
//! stops anyway shows it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{binary, Exporter};

/// Issue: a file whose name is not UTF-8 in a globbed directory panicked the tailer thread
/// while `/-/ready` still said ready and tokens stayed 0.
#[test]
fn a_name_that_is_not_utf8_beside_a_globbed_log_is_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("train.jsonl"), "{\"tokens\": 10}\n").unwrap();
    std::fs::write(d.join(std::ffi::OsStr::from_bytes(b"notes-\xe9.txt")), "").unwrap();
    let glob = format!("{}/*.jsonl", d.display());
    let exporter = Exporter::start(&[
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--tail.path",
        &glob,
        "--tail.read-from",
        "beginning",
        "--tail.run",
        "r",
    ]);
    exporter.wait_value("training_tokens_total{run=\"r\"}", 10.0);
    assert_eq!(exporter.get("/-/ready").status, 200);
    assert_eq!(exporter.get("/-/healthy").status, 200);
}

/// A tailer that dies (here by a failpoint) is logged, and the process exits non-zero instead
/// of serving stale numbers as healthy.
#[test]
fn a_tailer_that_panics_is_logged_and_the_process_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("train.jsonl");
    std::fs::write(&log, "{\"tokens\": 10}\n").unwrap();
    let mut child = Command::new(binary())
        .args([
            "serve",
            "--model",
            "gpt2",
            "--gpu",
            "a100-sxm",
            "--tail.path",
        ])
        .arg(&log)
        .args(["--web.listen-address", "127.0.0.1:0"])
        .env("MFU_EXPORTER_FAILPOINT", "tail-panic")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the exporter kept running after its tailer panicked");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr: Vec<String> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(!status.success(), "{status:?}");
    assert!(
        stderr
            .iter()
            .any(|line| line.contains("the tailer panicked: failpoint tail-panic")),
        "{stderr:#?}"
    );
}

/// Issue: a wrong log path failed silently (ready, "waiting for data", no metric). Now the source
/// gauges, `/-/ready` and the landing page say which path is wrong, until the file appears.
#[test]
fn a_wrong_log_path_shows_in_metrics_readiness_and_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("train.jsonl");
    let log_text = log.to_string_lossy().into_owned();
    let args = [
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--tail.path",
        &log_text,
        "--tail.run",
        "r",
    ];
    let exporter = Exporter::start(&args);
    exporter.wait_value("mfu_exporter_source_up{run=\"r\"}", 0.0);
    exporter.wait_value(
        "mfu_exporter_source_files{run=\"r\",state=\"missing\"}",
        1.0,
    );
    let ready = exporter.get("/-/ready");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains(&log_text), "{}", ready.body);
    assert_eq!(exporter.get("/-/healthy").status, 200);
    let page = exporter.get("/").body;
    assert!(
        page.contains("no readable log") && page.contains("no such file"),
        "{page}"
    );
    assert!(
        exporter
            .log
            .lock()
            .unwrap()
            .contains("no log file of the run can be read"),
        "{}",
        exporter.log.lock().unwrap()
    );

    std::fs::write(&log, "{\"tokens\": 10}\n").unwrap();
    exporter.wait_value("mfu_exporter_source_up{run=\"r\"}", 1.0);
    exporter.wait_value(
        "mfu_exporter_source_files{run=\"r\",state=\"following\"}",
        1.0,
    );
    exporter.wait_value("training_tokens_total{run=\"r\"}", 10.0);
    assert_eq!(exporter.get("/-/ready").status, 200);

    // The flag that relaxes readiness.
    let mut relaxed: Vec<&str> = args.to_vec();
    let other = dir.path().join("other.jsonl");
    let other_text = other.to_string_lossy().into_owned();
    relaxed[6] = &other_text;
    relaxed.push("--web.ready-without-logs");
    let exporter = Exporter::start(&relaxed);
    exporter.wait_value("mfu_exporter_source_up{run=\"r\"}", 0.0);
    assert_eq!(exporter.get("/-/ready").status, 200);
}

/// The positions file: a second exporter on it refuses to start naming the first; a corrupt
/// one is set aside with a warning that says where files restart; SIGHUP does not end the
/// daemon.
#[test]
fn the_state_file_is_locked_kept_when_corrupt_and_sighup_is_survived() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("train.jsonl");
    std::fs::write(&log, "{\"tokens\": 10}\n").unwrap();
    let state = dir.path().join("positions.json");
    std::fs::write(&state, "{not json").unwrap();
    let (log_text, state_text) = (
        log.to_string_lossy().into_owned(),
        state.to_string_lossy().into_owned(),
    );
    let args = [
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--tail.path",
        &log_text,
        "--tail.run",
        "r",
        "--tail.read-from",
        "beginning",
        "--state-file",
        &state_text,
    ];
    let exporter = Exporter::start(&args);
    exporter.wait_value("training_tokens_total{run=\"r\"}", 10.0);
    let corrupt = dir.path().join("positions.json.corrupt");
    assert_eq!(std::fs::read_to_string(&corrupt).unwrap(), "{not json");
    let log_so_far = exporter.log.lock().unwrap().clone();
    assert!(
        log_so_far.contains("starting without saved positions")
            && log_so_far.contains("read from their first byte"),
        "{log_so_far}"
    );

    let mut second = args.to_vec();
    second.extend(["--web.listen-address", "127.0.0.1:0"]);
    let (ok, _, stderr) = crate::support::run(&second);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "in use by another mfu-exporter (pid {})",
            exporter.child.id()
        )),
        "{stderr}"
    );

    let _ = Command::new("kill")
        .args(["-HUP", &exporter.child.id().to_string()])
        .status();
    crate::support::wait_for(Duration::from_secs(10), "the SIGHUP to be logged", || {
        exporter.log.lock().unwrap().contains("SIGHUP ignored")
    });
    assert_eq!(exporter.get("/-/healthy").status, 200);
    assert!(exporter.terminate().success());
}

/// Issue 13 (bug 11): on SIGTERM the last read happened after HTTP had stopped, so the saved
/// positions of a long catch-up covered lines no scrape ever saw. The tailer now stops first,
/// reads nothing more, and saves what the state held while HTTP still served it; it logs each
/// run's tokens at that save.
#[test]
fn sigterm_during_a_catch_up_saves_only_what_was_exported() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("train.jsonl");
    let state = dir.path().join("positions.json");
    let line = "{\"tokens\": 10}\n";
    std::fs::write(&log, line.repeat(400_000)).unwrap();
    let size = std::fs::metadata(&log).unwrap().len();
    let (log_text, state_text) = (log.to_string_lossy(), state.to_string_lossy());
    let mut exporter = Exporter::start_with_env(
        &[
            "serve",
            "--model",
            "gpt2",
            "--gpu",
            "a100-sxm",
            "--tail.path",
            &log_text,
            "--tail.read-from",
            "beginning",
            "--tail.run",
            "r",
            "--state-file",
            &state_text,
        ],
        // 64 KiB per poll: the 6 MB backlog takes about a hundred polls.
        &[("MFU_EXPORTER_FAILPOINT", "tail-small-polls")],
    );
    // Listening means the first poll was made: the catch-up is under way.
    let status = Command::new("kill")
        .args(["-TERM", &exporter.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = exporter.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not stop the exporter"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "{exit:?}");
    let tokens = loop {
        let text = exporter.log.lock().unwrap().clone();
        let found = text
            .lines()
            .filter(|l| l.contains("stopped reading") && l.contains("run=r "))
            .find_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("tokens="))
                    .and_then(|t| t.parse::<f64>().ok())
            });
        if let Some(tokens) = found {
            break tokens;
        }
        assert!(
            Instant::now() < deadline,
            "no stop line in the log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let offset = saved["files"][0]["offset"].as_u64().unwrap();
    let line_bytes = line.len() as u64;
    assert_eq!(offset % line_bytes, 0, "{saved}");
    // Exactly what was counted (and served) is marked consumed: the next start reads the rest.
    assert_eq!((offset / line_bytes * 10) as f64, tokens, "{saved}");
    assert!(offset > 0 && offset < size, "offset {offset} of {size}");
}
