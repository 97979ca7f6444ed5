//! Micro-benchmark of the per-line work of ingest: `parse_line` over a typical training-log
//! line with the default field mapping. Run with `cargo bench --bench ingest`; the whole-daemon
//! comparison with mtail and the other peers is `bench/run.sh`.

use std::hint::black_box;
use std::time::Instant;

use mfu_exporter::ingest::schema::{parse_line, FieldMapping, LineOutcome};

const LINES: usize = 200_000;
const REPETITIONS: usize = 5;

fn main() {
    let lines: Vec<String> = (0..LINES)
        .map(|step| {
            format!(
                "{{\"time\": \"2024-05-01T12:00:00.000Z\", \"step\": {step}, \"loss\": 2.{:04}, \
                 \"lr\": 0.0003, \"grad_norm\": 1.0213, \"tokens\": 524288, \"step_time\": 0.5123, \
                 \"tokens_per_sec\": 1023400.5}}",
                step % 10_000
            )
        })
        .collect();
    let mapping = FieldMapping::default();
    let mut nanoseconds_per_line = Vec::with_capacity(REPETITIONS);
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        let mut observations = 0usize;
        for line in &lines {
            if let Ok(LineOutcome::Observation(_)) =
                parse_line(black_box(line.as_bytes()), &mapping)
            {
                observations += 1;
            }
        }
        assert_eq!(observations, LINES, "every line should parse");
        nanoseconds_per_line.push(started.elapsed().as_nanos() as f64 / LINES as f64);
    }
    nanoseconds_per_line.sort_by(f64::total_cmp);
    let median = nanoseconds_per_line[REPETITIONS / 2];
    println!(
        "parse_line: {median:.0} ns/line median of {REPETITIONS} passes over {LINES} lines \
         ({:.2} million lines/s on one core)",
        1e3 / median
    );
}
