//! Every built-in log format on the real log excerpts in `tests/fixtures/logs/<format>/`, through
//! `mfu-exporter logs`: the records, steps, loss and trainer figures each excerpt holds, and an
//! MFU within 1 % of the one computed by hand from the log and the model and hardware of its
//! source (`cases.toml` beside each format's fixtures says how each figure was derived).

use std::path::Path;

use crate::support::{repo_path, run};

/// One `[[case]]` of a `cases.toml`.
#[derive(Debug, serde::Deserialize)]
struct Case {
    file: String,
    model: Option<String>,
    gpu: Option<String>,
    gpus: Option<u64>,
    seq_len: Option<u64>,
    dtype: Option<String>,
    tokens_per_step: Option<f64>,
    throughput_scope: Option<String>,
    metric_lines: u64,
    first_step: Option<u64>,
    last_step: Option<u64>,
    /// The steps the log says the run will take (`training_steps_planned`).
    steps_planned: Option<u64>,
    last_loss: Option<f64>,
    reported_mfu_last: Option<f64>,
    reported_tflops_per_gpu_last: Option<f64>,
    tokens_per_second_per_gpu_steady: Option<f64>,
    mfu_palm_steady: Option<f64>,
}

#[derive(Debug, serde::Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn close(actual: f64, expected: f64, relative: f64) -> bool {
    (actual - expected).abs() <= relative * expected.abs().max(1e-12)
}

/// Runs `logs --json` for one case and returns the problems found, and a row for the table.
fn check_case(format: &str, directory: &Path, case: &Case) -> (Vec<String>, String) {
    let file = directory.join(&case.file);
    let file_text = file.to_string_lossy().into_owned();
    let models = repo_path("tests/fixtures/logs");
    let model = case.model.as_deref().map(|model| {
        if model.ends_with(".json") {
            models.join(model).to_string_lossy().into_owned()
        } else {
            model.to_owned()
        }
    });
    let gpus = case.gpus.map(|g| g.to_string());
    let seq_len = case.seq_len.map(|s| s.to_string());
    let tokens_per_step = case.tokens_per_step.map(|t| t.to_string());
    let mut args: Vec<&str> = vec!["logs", &file_text, "--format", format, "--quiet", "--json"];
    // A case without a model checks parsing only; any preset gives the counts.
    args.extend(["--model", model.as_deref().unwrap_or("gpt2")]);
    args.extend(["--gpu", case.gpu.as_deref().unwrap_or("h100-sxm")]);
    for (flag, value) in [
        ("--gpus", gpus.as_deref()),
        ("--seq-len", seq_len.as_deref()),
        ("--dtype", case.dtype.as_deref()),
        ("--tail.tokens-per-step", tokens_per_step.as_deref()),
        ("--tail.throughput-scope", case.throughput_scope.as_deref()),
    ] {
        if let Some(value) = value {
            args.extend([flag, value]);
        }
    }
    // An excerpt that starts mid-run has no warm-up line: its steady figure keeps every line.
    if case.first_step.is_some_and(|step| step > 1) {
        args.extend(["--tail.warmup-steps", "0"]);
    }
    if model.is_none() && seq_len.is_none() {
        args.extend(["--seq-len", "1024"]);
    }
    let (ok, stdout, stderr) = run(&args);
    let name = format!("{format}/{}", case.file);
    if !ok {
        return (
            vec![format!("{name}: logs failed: {stderr}")],
            String::new(),
        );
    }
    let summary: serde_json::Value = match serde_json::from_str(stdout.trim()) {
        Ok(summary) => summary,
        Err(e) => {
            return (
                vec![format!("{name}: not json ({e}): {stdout}")],
                String::new(),
            )
        }
    };
    let mut problems = Vec::new();
    let number = |key: &str| summary.get(key).and_then(serde_json::Value::as_f64);
    let records = number("records").unwrap_or(0.0) as u64;
    if records != case.metric_lines {
        problems.push(format!(
            "{name}: {records} records with data, the excerpt has {}",
            case.metric_lines
        ));
    }
    if let Some(expected) = case.last_step {
        let actual = summary.get("last_step").and_then(serde_json::Value::as_u64);
        if actual != Some(expected) {
            problems.push(format!("{name}: last step {actual:?}, expected {expected}"));
        }
    }
    if let Some(expected) = case.steps_planned {
        let actual = summary
            .get("total_steps")
            .and_then(serde_json::Value::as_u64);
        if actual != Some(expected) {
            problems.push(format!(
                "{name}: steps planned {actual:?}, expected {expected}"
            ));
        }
    }
    if let Some(expected) = case.last_loss {
        match number("last_loss") {
            Some(actual) if close(actual, expected, 1e-9) => {}
            actual => problems.push(format!("{name}: last loss {actual:?}, expected {expected}")),
        }
    }
    if let Some(expected) = case.reported_mfu_last {
        match number("reported_mfu") {
            Some(actual) if (actual - expected).abs() < 1e-9 => {}
            actual => problems.push(format!(
                "{name}: reported MFU {actual:?}, expected {expected}"
            )),
        }
    }
    if let Some(expected) = case.reported_tflops_per_gpu_last {
        match number("reported_flops_per_second_per_gpu") {
            Some(actual) if close(actual, expected * 1e12, 1e-9) => {}
            actual => problems.push(format!(
                "{name}: reported FLOP/s per GPU {actual:?}, expected {expected} TFLOP/s"
            )),
        }
    }
    if let Some(expected) = case.tokens_per_second_per_gpu_steady {
        let gpus = case.gpus.unwrap_or(1) as f64;
        match number("steady_tokens_per_second").map(|rate| rate / gpus) {
            Some(actual) if close(actual, expected, 0.01) => {}
            actual => problems.push(format!(
                "{name}: steady tokens/s per GPU {actual:?}, computed by hand {expected} (tolerance 1%)"
            )),
        }
    }
    let palm = summary
        .pointer("/mfu/palm")
        .and_then(serde_json::Value::as_f64);
    let mut mfu_text = "-".to_owned();
    if let (Some(expected), Some(_), Some(_)) = (case.mfu_palm_steady, &model, &case.gpu) {
        match palm {
            Some(actual) if close(actual, expected, 0.01) => {}
            actual => problems.push(format!(
                "{name}: steady palm MFU {actual:?}, computed by hand {expected} (tolerance 1%)"
            )),
        }
        if let Some(actual) = palm {
            mfu_text = format!(
                "{:.2}% vs {:.2}% ({:+.2}%)",
                actual * 100.0,
                expected * 100.0,
                (actual / expected - 1.0) * 100.0
            );
        }
    }
    let row = format!(
        "| {format} | {} | {records} | {} | {} | {} | {mfu_text} |",
        case.file,
        number("steps").unwrap_or(0.0),
        number("tokens").unwrap_or(0.0),
        summary
            .get("last_loss")
            .map_or("-".to_owned(), ToString::to_string),
    );
    (problems, row)
}

#[test]
fn every_format_reads_its_real_excerpts() {
    let root = repo_path("tests/fixtures/logs");
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let directory = entry.path();
        let cases_file = directory.join("cases.toml");
        if !cases_file.exists() {
            continue;
        }
        let format = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&cases_file).unwrap();
        let cases: Cases =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", cases_file.display()));
        for case in &cases.case {
            let (found, row) = check_case(&format, &directory, case);
            problems.extend(found);
            rows.push(row);
            checked += 1;
        }
    }
    eprintln!(
        "| format | sample | records | steps | tokens | last loss | steady MFU (palm) vs by hand |"
    );
    eprintln!("|---|---|---|---|---|---|---|");
    for row in &rows {
        eprintln!("{row}");
    }
    assert!(
        checked >= 10,
        "only {checked} cases found under {}",
        root.display()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn logs_refuses_a_bad_format_and_an_unreadable_file() {
    let (ok, _, stderr) = run(&[
        "logs",
        "/nonexistent.log",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
    ]);
    assert!(!ok);
    assert!(stderr.contains("cannot read /nonexistent.log"), "{stderr}");
    let fixture = repo_path("tests/fixtures/logs/trainer.jsonl");
    let fixture = fixture.to_string_lossy();
    let (ok, _, stderr) = run(&[
        "logs", &fixture, "--format", "nope", "--model", "gpt2", "--gpu", "a100-sxm",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no built-in format of that name"),
        "{stderr}"
    );
    let (ok, stdout, _) = run(&[
        "logs",
        &fixture,
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--seq-len",
        "1024",
    ]);
    assert!(ok);
    assert!(stdout.contains("records with tokens"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("line 1: ")),
        "{stdout}"
    );
}

/// `serve` tails a real torchtitan log and a real OLMo-style block log to the same figures the
/// dry run gives: the trainer's own MFU and FLOP/s exported as printed, tokens counted.
#[test]
fn serve_reads_a_text_format_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("train.log");
    let fixture = repo_path("tests/fixtures/logs/torchtitan/ao-llama3-8b-bf16-8xh100.log");
    let text = std::fs::read_to_string(&fixture).unwrap();
    // Everything before the last step line first, then the rest: a live append.
    let lines: Vec<&str> = text.lines().collect();
    let last_step = lines.iter().rposition(|l| l.contains(" step: ")).unwrap();
    let head = lines[..last_step].join("\n");
    let tail = lines[last_step..].join("\n");
    std::fs::write(&log, format!("{head}\n")).unwrap();
    let log_text = log.to_string_lossy().into_owned();
    let exporter = crate::support::Exporter::start(&[
        "serve",
        "--model",
        "llama-3-8b",
        "--gpu",
        "h100-sxm",
        "--gpus",
        "8",
        "--tail.format",
        "torchtitan",
        "--tail.path",
        &log_text,
        "--tail.read-from",
        "beginning",
        "--tail.run",
        "titan",
        "--stale-after",
        "100000d",
    ]);
    exporter.wait_value("training_step{run=\"titan\"}", 30.0);
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        // One write: a line split over two writes may be read half at first.
        file.write_all(format!("{tail}\n").as_bytes()).unwrap();
    }
    exporter.wait_value("training_step{run=\"titan\"}", 40.0);
    // The exporter's own counters are added at the end of the poll that set the step.
    exporter.wait_value("mfu_exporter_lines_ignored_total", 1.0);
    let metrics = exporter.metrics();
    let value = |series: &str| crate::support::sample(&metrics, series);
    assert_eq!(
        value("training_reported_mfu_ratio{run=\"titan\"}"),
        Some(0.3684)
    );
    assert_eq!(
        value("training_reported_flops_per_second_per_gpu{run=\"titan\"}"),
        Some(364.36e12)
    );
    assert_eq!(value("training_steps_total{run=\"titan\"}"), Some(40.0));
    // 8 GPUs x tps x the seconds between step lines: about 65,536 tokens a step for 39 steps.
    let tokens = value("training_tokens_total{run=\"titan\"}").unwrap();
    assert!((tokens / (39.0 * 65_536.0) - 1.0).abs() < 0.01, "{tokens}");
    let mfu =
        value("training_mfu_ratio{run=\"titan\",formula=\"palm\",peak_dtype=\"bf16\"}").unwrap();
    assert!((0.36..0.375).contains(&mfu), "{mfu}");
    assert_eq!(value("mfu_exporter_lines_ignored_total"), Some(1.0));
}

#[test]
fn a_bad_format_file_stops_start_up_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let format = dir.path().join("mine.toml");
    std::fs::write(
        &format,
        "description = \"x\"\n[[pattern]]\nregex = '(?P<tokens_per_sec>\\d+)'\n",
    )
    .unwrap();
    let format_text = format.to_string_lossy().into_owned();
    let (ok, _, stderr) = run(&[
        "serve",
        "--model",
        "gpt2",
        "--gpu",
        "a100-sxm",
        "--tail.path",
        "/tmp/x.log",
        "--tail.format",
        &format_text,
        "--web.listen-address",
        "127.0.0.1:0",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "tail[0].format: {format_text}:3: group (?P<tokens_per_sec>...) names no field"
        )),
        "{stderr}"
    );
}

/// `logs` on a real log whose lines carry no timestamp says why it shows no goodput; on one
/// whose lines do, it shows goodput and badput that add up to the log's time span.
#[test]
fn logs_says_when_a_log_has_no_timestamps_for_goodput() {
    let untimed =
        repo_path("tests/fixtures/logs/megatron/juwels-gpt-13b-32xa100-seconds-default3.log");
    let (ok, stdout, stderr) = run(&[
        "logs",
        "--format",
        "megatron",
        "--model",
        "llama-3-8b",
        "--gpu",
        "a100-sxm",
        "--gpus",
        "32",
        untimed.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("goodput             none: the log's step records carry no timestamp: goodput is counted only from lines that arrive live"),
        "{stdout}"
    );
    let timed = repo_path("tests/fixtures/logs/megatron/mixtral-8x7b-16xh100.log");
    let (ok, stdout, stderr) = run(&[
        "logs",
        "--json",
        "--format",
        "megatron",
        "--model",
        "mixtral-8x7b",
        "--gpu",
        "h100-sxm",
        "--gpus",
        "16",
        timed.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    let goodput = &summary["goodput"];
    let seconds = goodput["seconds"].as_f64().expect("goodput of a timed log");
    let badput: f64 = goodput["badput_seconds"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(serde_json::Value::as_f64)
        .sum();
    let elapsed = goodput["elapsed_seconds"].as_f64().unwrap();
    assert!(seconds > 0.0, "{goodput}");
    assert!(
        (seconds + badput - elapsed).abs() < 1e-6 * elapsed,
        "goodput {seconds} + badput {badput} against the span {elapsed}"
    );
}
