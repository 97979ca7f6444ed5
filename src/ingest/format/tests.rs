//! Format files: loading, the errors a bad one gives, and how built-in formats read lines.

use super::records::{parse_line, SourceRecords};
use super::*;
use crate::ingest::observation::{LineOutcome, ParseErrorReason};

fn format(text: &str) -> Format {
    Format::parse("test", "test.toml", text).unwrap()
}

fn error(text: &str) -> String {
    Format::parse("test", "test.toml", text)
        .unwrap_err()
        .to_string()
}

fn observe(format: &Format, line: &str) -> Observation {
    match parse_line(format, line.as_bytes()) {
        Ok(LineOutcome::Observation(observation)) => observation,
        other => panic!("{line:?}: {other:?}"),
    }
}

#[test]
fn every_builtin_format_compiles() {
    let formats = Format::builtins().unwrap();
    assert!(formats.iter().any(|f| f.name == DEFAULT_FORMAT));
    for format in &formats {
        assert!(!format.description.is_empty(), "{}", format.name);
        assert!(!format.checked_against.is_empty(), "{}", format.name);
    }
}

#[test]
fn patterns_fill_fields_with_units_and_scopes() {
    let format = format(
        r#"
[[pattern]]
contains = "step:"
regex = 'step:\s*(?P<step>\d+)\s+loss:\s*(?P<loss>\S+).*tps:\s*(?P<tokens_per_second>[\d,]+)(?:.*tflops:\s*(?P<reported_flops_per_second_per_gpu>[\d.]+))?(?:.*mfu:\s*(?P<reported_mfu>[\d.]+%))?'
[fields.tokens_per_second]
scope = "per-device"
[fields.reported_flops_per_second_per_gpu]
unit = "tflops"
"#,
    );
    let o = observe(
        &format,
        "\u{1b}[32m[rank0]:[titan] 2025-01-07 10:04:34,580 - root - INFO - step: 200  loss:  6.1384  memory: 49.66GiB(52.28%)  tps: 5,856  tflops: 339.16  mfu: 34.29%\u{1b}[39m",
    );
    assert_eq!(o.step, Some(200));
    assert_eq!(o.loss, Some(6.1384));
    assert_eq!(o.tokens_per_second, Some(5856.0));
    assert!(o.per_device.tokens_per_second);
    assert_eq!(o.reported_flops_per_second_per_gpu, Some(339.16e12));
    assert_eq!(o.reported_mfu, Some(0.3429));
    // A line no pattern matches is ignored, not an error.
    assert_eq!(
        parse_line(&format, b"[rank0]: Building model"),
        Ok(LineOutcome::Ignored)
    );
    // A bad descriptive value loses only itself.
    let bad = parse_line(&format, b"step: 2 loss: x tps: 10").unwrap_err();
    assert_eq!(bad.reason, ParseErrorReason::InvalidValue);
    assert_eq!(bad.kept.unwrap().tokens_per_second, Some(10.0));
}

#[test]
fn blocks_are_flushed_by_the_next_header_a_foreign_line_or_quiet() {
    let format = format(
        r#"
[block]
header = '\[step=(?P<step>\d+)/(?P<total_steps>\d+)'
entry = '^\s+(?P<key>[^=]+?)=(?P<value>\S+)\s*$'
[block.keys]
"throughput/device/TPS" = "tokens_per_second"
"train/CE loss" = "loss"
"throughput/device/MFU" = "reported_mfu"
[fields.reported_mfu]
unit = "percent"
"#,
    );
    let mut records = SourceRecords::new(Arc::new(format));
    let mut out = Vec::new();
    let file = std::path::Path::new("log");
    let lines = [
        "2025-02-17 INFO [step=120/1000,epoch=0]",
        "    train/CE loss=2.5",
        "    throughput/device/TPS=10,050",
        "    throughput/device/MFU=44.57",
        "    something/else=3",
        "2025-02-17 INFO [step=121/1000,epoch=0]",
        "    throughput/device/TPS=10,000",
        "2025-02-17 INFO saving checkpoint",
        "2025-02-17 INFO [step=122/1000,epoch=0]",
        "    throughput/device/TPS=9,000",
    ];
    for (i, line) in lines.iter().enumerate() {
        records.feed(file, line.as_bytes(), i as f64 * 0.1, &mut |_, o| {
            out.push(o)
        });
    }
    assert_eq!(out.len(), 3, "{out:?}");
    let first = match &out[0] {
        Ok(LineOutcome::Observation(o)) => *o,
        other => panic!("{other:?}"),
    };
    assert_eq!((first.step, first.total_steps), (Some(120), Some(1000)));
    assert_eq!(first.tokens_per_second, Some(10050.0));
    assert_eq!(first.loss, Some(2.5));
    assert_eq!(first.reported_mfu, Some(0.4457));
    assert!(matches!(&out[1], Ok(LineOutcome::Observation(o)) if o.step == Some(121)));
    assert_eq!(out[2], Ok(LineOutcome::Ignored));
    // The last block waits for quiet.
    records.flush_quiet(1.0, &mut |_, o| out.push(o));
    assert_eq!(out.len(), 3);
    assert!(records.has_pending());
    records.flush_quiet(0.9 + QUIET_SECONDS + 0.01, &mut |_, o| out.push(o));
    assert!(matches!(&out[3], Ok(LineOutcome::Observation(o)) if o.step == Some(122)));
}

#[test]
fn json_after_a_prefix_and_python_dicts() {
    let json = Format::load("json").unwrap();
    let o = observe(
        &json,
        r#"slurm_procid 0 : {"step": 5, "tokens": 100, "loss": NaN}"#,
    );
    assert_eq!((o.step, o.tokens, o.loss), (Some(5), Some(100.0), None));
    let python = format(
        r#"
[json]
python_literals = true
[json.keys]
loss = "loss"
step_seconds = "train_runtime"
"#,
    );
    let o = observe(
        &python,
        "{'loss': 1.23, 'grad_norm': nan, 'ok': True, 'x': None, 'train_runtime': 3.5}",
    );
    assert_eq!((o.loss, o.step_seconds), (Some(1.23), Some(3.5)));
}

#[test]
fn documents_count_each_entry_once() {
    let format = format(
        r#"
[document]
array = "log_history"
[json.keys]
step = "step"
loss = "loss"
"#,
    );
    let mut records = SourceRecords::new(Arc::new(format));
    let mut steps = Vec::new();
    let mut feed = |records: &mut SourceRecords, file: &str, text: &str| {
        for line in text.lines() {
            records.feed(
                std::path::Path::new(file),
                line.as_bytes(),
                0.0,
                &mut |_, o| {
                    if let Ok(LineOutcome::Observation(o)) = o {
                        steps.push(o.step);
                    }
                },
            );
        }
    };
    let first = "{\n  \"log_history\": [\n    {\"step\": 1, \"loss\": 2.0},\n    {\"step\": 2, \"loss\": 1.9}\n  ]\n}";
    let second = "{\n  \"log_history\": [\n    {\"step\": 1, \"loss\": 2.0},\n    {\"step\": 2, \"loss\": 1.9},\n    {\"step\": 3, \"loss\": 1.8}\n  ]\n}";
    feed(&mut records, "checkpoint-2/trainer_state.json", first);
    feed(&mut records, "checkpoint-3/trainer_state.json", second);
    assert_eq!(steps, [Some(1), Some(2), Some(3)]);
}

#[test]
fn bad_format_files_name_the_line_and_the_fix() {
    assert_eq!(
        error("[[pattern]]\nregex = '(?P<stepp>\\d+)'\n"),
        format!(
            "test.toml:2: group (?P<stepp>...) names no field; name each group after a field ({}) or make it non-capturing with (?:...)",
            Field::names()
        )
    );
    let invalid = error("\n\n[[pattern]]\nregex = '(unclosed'\n");
    assert!(
        invalid.starts_with("test.toml:4: invalid regular expression"),
        "{invalid}"
    );
    let lookaround = error("[[pattern]]\nregex = '(?=x)'\n");
    assert!(lookaround.contains("no look-around"), "{lookaround}");
    let unknown = error("[[pattern]]\nregex = 'x'\ncolour = 1\n");
    assert!(
        unknown.starts_with("test.toml:3: unknown field `colour`"),
        "{unknown}"
    );
    let unit = error("[[pattern]]\nregex = 'x'\n[fields.loss]\nunit = \"ms\"\n");
    assert!(
        unit.starts_with("test.toml:4: unit \"ms\" does not apply to loss"),
        "{unit}"
    );
    let scope = error("[[pattern]]\nregex = 'x'\n[fields.tokens_per_second]\nscope = \"device\"\n");
    assert!(
        scope.contains("use \"global\" or \"per-device\""),
        "{scope}"
    );
    let entry = error("[block]\nheader = 'h'\nentry = '(?P<k>.*)'\n");
    assert!(entry.contains("needs a group named \"key\""), "{entry}");
    assert!(error("description = 'x'\n").contains("reads nothing"));
    let missing = Format::load("torchtitan-nope").unwrap_err().to_string();
    assert!(
        missing.contains("no built-in format of that name"),
        "{missing}"
    );
    let path = Format::load("/nonexistent/format.toml")
        .unwrap_err()
        .to_string();
    assert!(path.contains("cannot read the format file"), "{path}");
}

#[test]
fn summary_objects_give_their_step_and_loss_but_no_rates() {
    let format = format(
        r#"
[json]
python_literals = true
summary_keys = ["train_loss", "eval_loss"]
[json.keys]
step = ["step"]
loss = ["loss", "train_loss"]
total_tokens = ["num_input_tokens_seen"]
elapsed_seconds = ["train_runtime"]
"#,
    );
    let step = observe(
        &format,
        "{'loss': 2.3369, 'epoch': 1.0, 'num_input_tokens_seen': 19660800, 'train_runtime': 389.1}",
    );
    assert_eq!(step.total_tokens, Some(19660800.0));
    assert_eq!(step.elapsed_seconds, Some(389.1));
    let summary = observe(
        &format,
        "{'train_runtime': 425.4295, 'train_tokens_per_second': 1925.584, 'train_loss': 2.55, 'step': 100, 'num_input_tokens_seen': 19660800}",
    );
    assert_eq!(summary.step, Some(100));
    assert_eq!(summary.loss, Some(2.55));
    assert!(!summary.has_throughput());
    assert_eq!(summary.elapsed_seconds, None);
    // A key that only looks like one, inside a value, is no summary key.
    let value = observe(
        &format,
        r#"{"loss": 1.5, "note": "train_loss", "num_input_tokens_seen": 10}"#,
    );
    assert!(value.has_throughput());
}
