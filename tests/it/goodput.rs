//! Goodput and badput against Google's `ml-goodput-measurement` on the same timelines.
//!
//! `tools/reference/goodput.py` wrote each timeline twice: as the events the reference records
//! (job start, step starts, job end, checkpoint save statistics), which its own calculator turned
//! into the numbers under `reference`, and as the log records the exporter reads (`records`). Here
//! the records go through the exporter's state and its numbers are compared with the
//! reference's, bucket by bucket where the two define a bucket alike, and by the sum that
//! matches where they split time differently on purpose:
//!
//! - the reference counts a kept step's whole time as productive, so its goodput (plus the
//!   checkpoint saves it learns of from Orbax's statistics, which no log carries) is the
//!   exporter's goodput plus `slow_steps` plus `stall`;
//! - the reference books the time before the first step as `other`, the first step's extra after
//!   each start as program start-up and the downtime as infrastructure recovery; the exporter
//!   books the first start as `startup` and everything from the last line before a restart to the
//!   first step after it as `recovery`, so the three sums match;
//! - the checkpoint saves the reference counts from Orbax's statistics are the exporter's
//!   `stall`; its time of anomalous steps beyond the normal mean, less the first step's
//!   (start-up), is the exporter's `slow_steps` plus `stall`.
//!
//! A check passes within 1 % of the reference's value, or, where the reference's value is near
//! zero, within 0.1 % of the run's elapsed time.

use std::sync::Arc;

use mfu_exporter::accounting::flops::{AttentionCounting, FlopOptions, Recompute};
use mfu_exporter::accounting::gpus::Dtype;
use mfu_exporter::accounting::mfu::resolve_hardware;
use mfu_exporter::accounting::Accounting;
use mfu_exporter::ingest::observation::Observation;
use mfu_exporter::state::goodput::BadputSource;
use mfu_exporter::state::{RunOptions, RunSpec, State, StateOptions, ThroughputScope};
use serde_json::Value;

use crate::support::repo_path;

const SCENARIOS: [&str; 5] = [
    "steady",
    "crash-rollback",
    "two-crashes",
    "checkpoint-stall",
    "slow-steps",
];

fn spec() -> Arc<RunSpec> {
    let model = mfu_exporter::model_config::load("gpt2").unwrap().model;
    let options = FlopOptions {
        seq_len: 1024,
        attention: AttentionCounting::Full,
        include_mtp: false,
        recompute: Recompute::None,
    };
    Arc::new(RunSpec {
        model_name: "gpt2".into(),
        accounting: Accounting::new(&model, options),
        hardware: resolve_hardware(Some("h100-sxm"), Dtype::Bf16, 8, None).unwrap(),
    })
}

/// The exporter's numbers for one fixture's records.
struct Ours {
    goodput: f64,
    badput: Vec<(BadputSource, f64)>,
    elapsed: f64,
    ideal: f64,
    deviation: f64,
    wasted_tokens: f64,
    restarts: u64,
}

impl Ours {
    fn badput(&self, source: BadputSource) -> f64 {
        self.badput
            .iter()
            .find(|(s, _)| *s == source)
            .map_or(0.0, |(_, v)| *v)
    }
}

const TOKENS_PER_STEP: f64 = 4096.0;

fn measure(fixture: &Value) -> Ours {
    let mut state = State::new(StateOptions {
        stale_after_seconds: 300.0,
        push_expire_after_seconds: 3600.0,
        push_max_runs: 1,
        push_spec: spec(),
    });
    state.add_tail_run(
        "run",
        ThroughputScope::Global,
        spec(),
        RunOptions::default(),
    );
    for record in fixture["records"].as_array().unwrap() {
        let observation = Observation {
            timestamp_seconds: record["timestamp"].as_f64(),
            step: record["step"].as_u64(),
            tokens_per_step: record["step"].as_u64().map(|_| TOKENS_PER_STEP),
            ..Observation::default()
        };
        let now = observation.timestamp_seconds.unwrap();
        state.observe_tail("run", "train.log", &observation, now, true);
    }
    let run = state.run("run").unwrap();
    let goodput = &run.goodput;
    Ours {
        goodput: goodput.goodput_seconds(),
        badput: BadputSource::ALL
            .iter()
            .map(|s| (*s, goodput.badput_seconds(*s)))
            .collect(),
        elapsed: goodput.elapsed_seconds(),
        ideal: goodput.ideal_step_seconds().unwrap(),
        deviation: goodput.step_time_deviation_seconds().unwrap(),
        wasted_tokens: goodput.wasted_tokens(),
        restarts: run.restarts_total,
    }
}

fn load(name: &str) -> Value {
    let path = repo_path(&format!("tests/fixtures/goodput/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn reference(fixture: &Value, key: &str) -> f64 {
    let value = match key.strip_prefix("badput.") {
        Some(kind) => &fixture["reference"]["badput_seconds"][kind],
        None => &fixture["reference"][key],
    };
    value.as_f64().unwrap_or(0.0)
}

/// Every comparison of one scenario: (what, ours, the reference's).
fn comparisons(fixture: &Value, ours: &Ours) -> Vec<(&'static str, f64, f64)> {
    let r = |key: &str| reference(fixture, key);
    let b = |source| ours.badput(source);
    use BadputSource::*;
    vec![
        ("elapsed", ours.elapsed, r("total_elapsed_seconds")),
        (
            "goodput + slow_steps + stall = productive + checkpoint saves",
            ours.goodput + b(SlowSteps) + b(Stall),
            r("goodput_seconds") + r("badput.unproductive_checkpoint_save_time"),
        ),
        (
            "wasted_progress",
            b(WastedProgress),
            r("badput.wasted_progress_from_disruption"),
        ),
        (
            "startup + recovery + other = program start-up + recovery + other",
            b(Startup) + b(Recovery) + b(Other),
            r("badput.program_startup")
                + r("badput.infrastructure_recovery_from_disruption")
                + r("badput.other")
                + r("badput.tpu_initialization")
                + r("badput.training_prep")
                + r("badput.data_loading_sync"),
        ),
        (
            "stall = checkpoint saves",
            b(Stall),
            r("badput.unproductive_checkpoint_save_time"),
        ),
        (
            "slow_steps + stall = anomalous steps' extra - program start-up",
            b(SlowSteps) + b(Stall),
            r("anomalous_step_extra_seconds") - r("badput.program_startup"),
        ),
        ("ideal step", ours.ideal, r("ideal_step_seconds")),
        ("restarts", ours.restarts as f64, r("disruptions")),
    ]
}

#[test]
fn goodput_and_badput_match_ml_goodput_measurement() {
    let mut failures = Vec::new();
    for name in SCENARIOS {
        let fixture = load(name);
        let ours = measure(&fixture);
        for (what, mine, theirs) in comparisons(&fixture, &ours) {
            let tolerance = (0.01 * theirs.abs()).max(0.001 * ours.elapsed);
            let verdict = if (mine - theirs).abs() <= tolerance {
                "ok"
            } else {
                failures.push(format!("{name}: {what}: {mine} vs {theirs}"));
                "FAIL"
            };
            println!(
                "{name:<16} {what:<66} ours {mine:>10.3}  reference {theirs:>10.3}  {verdict}"
            );
        }
        let buckets: Vec<String> = ours
            .badput
            .iter()
            .map(|(source, seconds)| format!("{}={seconds:.3}", source.as_str()))
            .collect();
        println!(
            "{name:<16} ours: goodput={:.3} {}",
            ours.goodput,
            buckets.join(" ")
        );
        // The deviation is a small number: within 1 % of it, or half a millisecond.
        let deviation = reference(&fixture, "step_time_deviation_seconds");
        println!(
            "{name:<16} step-time deviation ours {:.5}, reference {deviation:.5}; wasted tokens {}",
            ours.deviation, ours.wasted_tokens
        );
        if (ours.deviation - deviation).abs() > (0.01 * deviation).max(0.0005) {
            failures.push(format!(
                "{name}: step-time deviation: {} vs {deviation}",
                ours.deviation
            ));
        }
        // Wasted tokens are the tokens of the redone steps: their wasted time at the ideal step.
        let redone_steps = ours.badput(BadputSource::WastedProgress) / ours.ideal;
        assert!(
            (ours.wasted_tokens / TOKENS_PER_STEP - redone_steps).abs() < 1.0,
            "{name}: wasted tokens {} for {redone_steps} redone steps",
            ours.wasted_tokens
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
