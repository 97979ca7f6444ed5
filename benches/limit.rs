//! The exporter's read-and-parse path against the limit of the machine: the same file of JSON
//! lines read by (a) a minimal loop (1 MiB reads, `memchr` line splits, `serde_json` into
//! `IgnoredAny`, which checks the JSON and keeps nothing) and (b) the tailer handing lines to
//! the `json` format's parser, as `serve` does before the state. Run with
//! `cargo bench --bench limit`; it prints both rates and their ratio, so the ratio is measured
//! in every run on the same machine, in the same page cache.

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Instant;

use mfu_exporter::ingest::format::records::parse_line;
use mfu_exporter::ingest::format::Format;
use mfu_exporter::ingest::observation::LineOutcome;
use mfu_exporter::ingest::tail::{Positions, ReadFrom, TailEvent, TailOptions, Tailer};

const LINES: usize = 1_000_000;
const REPETITIONS: usize = 3;

/// Lines per second of the minimal loop over `path`; every line must be valid JSON.
fn limit_loop(path: &std::path::Path) -> f64 {
    let started = Instant::now();
    let mut file = std::fs::File::open(path).expect("the bench file opens");
    let mut buffer = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut lines = 0usize;
    loop {
        let read = file.read(&mut buffer).expect("the bench file reads");
        if read == 0 {
            break;
        }
        carry.extend_from_slice(&buffer[..read]);
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &carry) {
            let line = &carry[start..end];
            let parsed: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(black_box(line));
            assert!(parsed.is_ok(), "every bench line is JSON");
            lines += 1;
            start = end + 1;
        }
        carry.drain(..start);
    }
    assert_eq!(lines, LINES);
    lines as f64 / started.elapsed().as_secs_f64()
}

/// Lines per second of the tailer and the `json` format over `path`, from its first byte.
fn exporter(path: &std::path::Path, format: &Format) -> f64 {
    let started = Instant::now();
    let mut tailer = Tailer::new(
        TailOptions {
            patterns: vec![path.to_string_lossy().into_owned()],
            read_from: ReadFrom::Beginning,
            max_line_bytes: 1 << 20,
        },
        &Positions::default(),
    );
    let mut observations = 0usize;
    loop {
        let summary = tailer.poll(&mut |event| {
            if let TailEvent::Line { line, .. } = event {
                if let Ok(LineOutcome::Observation(_)) = parse_line(format, black_box(line)) {
                    observations += 1;
                }
            }
        });
        if !summary.more_to_read {
            break;
        }
    }
    assert_eq!(observations, LINES, "every bench line gives an observation");
    observations as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("train.jsonl");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for step in 0..LINES {
            writeln!(
                file,
                "{{\"time\": \"2024-05-01T12:00:00.000Z\", \"step\": {step}, \"loss\": 2.{:04}, \
                 \"lr\": 0.0003, \"grad_norm\": 1.0213, \"tokens\": 524288, \"step_time\": 0.5123, \
                 \"tokens_per_sec\": 1023400.5}}",
                step % 10_000
            )
            .unwrap();
        }
    }
    let format = Format::load("json").expect("the json format loads");
    // Alternating, so that both see the same state of the machine.
    let (mut limit, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..REPETITIONS {
        limit.push(limit_loop(&path));
        ours.push(exporter(&path, &format));
    }
    let (limit, ours) = (median(limit), median(ours));
    println!(
        "limit loop (read, memchr, serde_json IgnoredAny)  {:>6.2} M lines/s",
        limit / 1e6
    );
    println!(
        "tailer + json format                             {:>6.2} M lines/s",
        ours / 1e6
    );
    println!(
        "ratio                                            {:>6.1} %",
        100.0 * ours / limit
    );
}
