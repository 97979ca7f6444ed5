//! Micro-benchmark of the per-line work of ingest: every built-in log format over lines like
//! the ones it reads. JSON lines are generated; each text format's lines are its real fixtures
//! (`tests/fixtures/logs/<format>/`), repeated. Run with `cargo bench --bench ingest`; the
//! whole-daemon comparison with mtail and the other peers is `bench/run.sh`.

use std::hint::black_box;
use std::time::Instant;

use mfu_exporter::ingest::format::records::parse_line;
use mfu_exporter::ingest::format::{Format, BUILTIN};
use mfu_exporter::ingest::observation::LineOutcome;

const LINES: usize = 200_000;
const REPETITIONS: usize = 5;

/// Median nanoseconds per line of `REPETITIONS` passes, and how many lines gave fields.
fn measure(format: &Format, lines: &[Vec<u8>]) -> (f64, usize) {
    let mut nanoseconds_per_line = Vec::with_capacity(REPETITIONS);
    let mut observations = 0usize;
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        observations = 0;
        for line in lines {
            if let Ok(LineOutcome::Observation(_)) = parse_line(format, black_box(line)) {
                observations += 1;
            }
        }
        nanoseconds_per_line.push(started.elapsed().as_nanos() as f64 / lines.len() as f64);
    }
    nanoseconds_per_line.sort_by(f64::total_cmp);
    (nanoseconds_per_line[REPETITIONS / 2], observations)
}

fn main() {
    let json_lines: Vec<Vec<u8>> = (0..LINES)
        .map(|step| {
            format!(
                "{{\"time\": \"2024-05-01T12:00:00.000Z\", \"step\": {step}, \"loss\": 2.{:04}, \
                 \"lr\": 0.0003, \"grad_norm\": 1.0213, \"tokens\": 524288, \"step_time\": 0.5123, \
                 \"tokens_per_sec\": 1023400.5}}",
                step % 10_000
            )
            .into_bytes()
        })
        .collect();
    let json = Format::load("json").expect("the json format loads");
    let (median, observations) = measure(&json, &json_lines);
    assert_eq!(observations, LINES, "every line should parse");
    println!(
        "{:<14} {median:>6.0} ns/line  {:>5.2} M lines/s  (generated JSON lines)",
        "json",
        1e3 / median
    );
    for (name, _) in BUILTIN.iter().filter(|(name, _)| *name != "json") {
        let format = Format::load(name).expect("built-in formats load");
        let directory = std::path::Path::new("tests/fixtures/logs").join(name);
        let mut sample: Vec<Vec<u8>> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&directory) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path
                    .extension()
                    .is_some_and(|e| e == "log" || e == "jsonl" || e == "txt")
                {
                    if let Ok(text) = std::fs::read(&path) {
                        sample.extend(text.split(|b| *b == b'\n').map(<[u8]>::to_vec));
                    }
                }
            }
        }
        if sample.is_empty() {
            continue;
        }
        let lines: Vec<Vec<u8>> = sample.iter().cycle().take(LINES).cloned().collect();
        let (median, observations) = measure(&format, &lines);
        println!(
            "{name:<14} {median:>6.0} ns/line  {:>5.2} M lines/s  ({} fixture lines repeated, {:.0}% with fields)",
            1e3 / median,
            sample.len(),
            observations as f64 * 100.0 / LINES as f64
        );
    }
}
