//! Every metric the exporter exposes: run metrics rendered from a snapshot of the state at
//! scrape time, and the exporter's own counters and process metrics.
//!
//! Conventions: base units, ratios from 0 to 1, counters for everything additive (so that
//! `sum(rate(training_model_flops_total)) / sum(training_peak_flops_per_second)` gives the
//! MFU of a job over many nodes), no sample timestamps. Every run series carries `run`.

mod text;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::accounting::flops::{FormulaFlops, Recompute};
use crate::accounting::mfu;
use crate::ingest::observation::ParseErrorReason;
use crate::state::snapshot::{LiveSnapshot, RunSnapshot, Snapshot};
use text::Family;

/// Reasons a line is counted in `mfu_exporter_parse_errors_total`, all present from start-up.
pub const PARSE_ERROR_REASONS: [&str; 6] = [
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "invalid_value",
    "implausible",
    "line_too_long",
];

/// Push response codes pre-declared at zero, so that `rate()` sees the first error.
const PUSH_CODES: [u16; 9] = [200, 400, 401, 403, 405, 408, 413, 429, 500];

/// How long the rendered `process_*` metrics are reused. Reading them means reading three files
/// under `/proc` (stat, limits and the fd directory), which cost more than rendering everything
/// else; memory, CPU and descriptor counts a second old are as good to a scrape every few seconds.
const PROCESS_METRICS_MAX_AGE: Duration = Duration::from_secs(1);

/// The exporter's own counters.
#[derive(Clone)]
pub struct SelfMetrics {
    registry: Registry,
    /// Only the process collector, rendered at most once per [`PROCESS_METRICS_MAX_AGE`].
    process_registry: Registry,
    process_text: Arc<Mutex<Option<(Instant, String)>>>,
    /// The length of the last exposition, which the next one's buffer starts at.
    last_body_bytes: Arc<AtomicUsize>,
    pub lines_read: IntCounter,
    pub lines_ignored: IntCounter,
    pub bytes_read: IntCounter,
    pub parse_errors: IntCounterVec,
    pub file_rotations: IntCounter,
    pub file_truncations: IntCounter,
    pub push_requests: IntCounterVec,
    pub malformed_requests: IntCounter,
}

impl SelfMetrics {
    pub fn new() -> Result<SelfMetrics, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let build_info = IntGaugeVec::new(
            Opts::new(
                "mfu_exporter_build_info",
                "A metric with a constant '1' value labeled by version, revision and rustc of the build.",
            ),
            &["version", "revision", "rustc"],
        )?;
        build_info
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                env!("MFU_EXPORTER_REVISION"),
                env!("MFU_EXPORTER_RUSTC"),
            ])
            .set(1);
        registry.register(Box::new(build_info))?;
        let lines_read = counter(
            "mfu_exporter_lines_read_total",
            "Complete lines read from tailed logs.",
        )?;
        let lines_ignored = counter(
            "mfu_exporter_lines_ignored_total",
            "Valid log lines without any throughput field (evaluation lines, config dumps).",
        )?;
        let bytes_read = counter(
            "mfu_exporter_bytes_read_total",
            "Bytes read from tailed logs.",
        )?;
        let parse_errors = IntCounterVec::new(
            Opts::new(
                "mfu_exporter_parse_errors_total",
                "Log lines skipped because they could not be used, by reason.",
            ),
            &["reason"],
        )?;
        for reason in PARSE_ERROR_REASONS {
            parse_errors.with_label_values(&[reason]);
        }
        registry.register(Box::new(parse_errors.clone()))?;
        let file_rotations = counter(
            "mfu_exporter_file_rotations_total",
            "Times a tailed path began naming a new file (rename rotation, delete and re-create).",
        )?;
        let file_truncations = counter(
            "mfu_exporter_file_truncations_total",
            "Times a tailed file got shorter than the position read (copytruncate).",
        )?;
        let push_requests = IntCounterVec::new(
            Opts::new(
                "mfu_exporter_push_requests_total",
                "Push requests answered, by HTTP status code.",
            ),
            &["code"],
        )?;
        for code in PUSH_CODES {
            push_requests.with_label_values(&[&code.to_string()]);
        }
        registry.register(Box::new(push_requests.clone()))?;
        let malformed_requests = counter(
            "mfu_exporter_http_malformed_requests_total",
            "Requests that could not be parsed as HTTP (a bad Content-Length, header or request line), answered 400.",
        )?;
        let process_registry = Registry::new();
        #[cfg(target_os = "linux")]
        process_registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(SelfMetrics {
            registry,
            process_registry,
            process_text: Arc::new(Mutex::new(None)),
            last_body_bytes: Arc::new(AtomicUsize::new(0)),
            lines_read,
            lines_ignored,
            bytes_read,
            parse_errors,
            file_rotations,
            file_truncations,
            push_requests,
            malformed_requests,
        })
    }

    pub fn count_parse_error(&self, reason: ParseErrorReason) {
        self.parse_errors
            .with_label_values(&[reason.as_label()])
            .inc();
    }

    pub fn count_push_response(&self, code: u16) {
        self.push_requests
            .with_label_values(&[&code.to_string()])
            .inc();
    }

    fn render(&self, out: &mut String) {
        write_gathered(&self.registry.gather(), out);
        render_cpu_seconds(out);
        self.render_process(out, Instant::now());
    }

    fn render_process(&self, out: &mut String, now: Instant) {
        let mut cached = self
            .process_text
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fresh = matches!(&*cached, Some((rendered_at, _))
            if now.duration_since(*rendered_at) < PROCESS_METRICS_MAX_AGE);
        if !fresh {
            let mut text = String::new();
            write_gathered(&self.process_registry.gather(), &mut text);
            *cached = Some((now, text));
        }
        if let Some((_, text)) = &*cached {
            out.push_str(text);
        }
    }
}

/// Writes `mfu_exporter_cpu_seconds_total`, read at each scrape. `process_cpu_seconds_total`
/// counts whole seconds, so its rate reads 0 for an exporter that uses a few milliseconds a
/// second; this counter has getrusage's microsecond resolution, so its rate moves even then.
fn render_cpu_seconds(out: &mut String) {
    let Some(seconds) = process_cpu_seconds() else {
        return;
    };
    Family::new(
        out,
        "mfu_exporter_cpu_seconds_total",
        "counter",
        "User and system CPU time of the exporter process, in seconds, with microsecond resolution.",
    )
    .sample("", &[], seconds);
}

/// User plus system CPU time of the whole process (every thread), in seconds; `None` if the
/// kernel refuses, which getrusage on the calling process does not do in practice.
pub fn process_cpu_seconds() -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills in the whole rusage it is pointed at, and the zeroed value is a
    // valid rusage even where it would not.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

/// Renders the whole exposition: run metrics from a snapshot of the state, then the exporter's
/// own. Takes no lock on the state: the caller takes the snapshot under it and releases it first.
/// The buffer starts at the size of the last exposition (plus room to grow), so that a scrape
/// writes into one allocation and never copies what it has written to grow.
pub fn render(snapshot: &Snapshot, self_metrics: &SelfMetrics) -> String {
    let last = self_metrics.last_body_bytes.load(Ordering::Relaxed);
    let mut out = String::with_capacity((last + last / 8).max(8192));
    render_runs(snapshot, &mut out);
    self_metrics.render(&mut out);
    self_metrics
        .last_body_bytes
        .store(out.len(), Ordering::Relaxed);
    out
}

/// Writes gathered `prometheus` families (the exporter's own counters, the process collector's
/// metrics) through [`Family`], as the text format spells them.
fn write_gathered(families: &[MetricFamily], out: &mut String) {
    for gathered in families {
        let kind = match gathered.get_field_type() {
            MetricType::COUNTER => "counter",
            MetricType::GAUGE => "gauge",
            MetricType::HISTOGRAM => "histogram",
            // The exporter registers no summaries or untyped metrics.
            MetricType::SUMMARY | MetricType::UNTYPED => continue,
        };
        let mut family = Family::new(out, gathered.name(), kind, gathered.help());
        for metric in gathered.get_metric() {
            let labels: Vec<(&str, &str)> = metric
                .get_label()
                .iter()
                .map(|pair| (pair.name(), pair.value()))
                .collect();
            match gathered.get_field_type() {
                MetricType::COUNTER => family.sample("", &labels, metric.get_counter().value()),
                MetricType::GAUGE => family.sample("", &labels, metric.get_gauge().value()),
                _ => {
                    let histogram = metric.get_histogram();
                    let count = histogram.get_sample_count() as f64;
                    let with_le = |le: &str, family: &mut Family<'_>, value: f64| {
                        let mut labels = labels.clone();
                        labels.push(("le", le));
                        family.sample("_bucket", &labels, value);
                    };
                    for bucket in histogram.get_bucket() {
                        let le = bucket.upper_bound().to_string();
                        with_le(&le, &mut family, bucket.cumulative_count() as f64);
                    }
                    with_le("+Inf", &mut family, count);
                    family.sample("_sum", &labels, histogram.get_sample_sum());
                    family.sample("_count", &labels, count);
                }
            }
        }
    }
}

/// Writes a family with one sample per run (or several), skipping runs `sample` declines.
fn family<'r>(
    out: &mut String,
    runs: impl IntoIterator<Item = &'r RunSnapshot>,
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    mut samples: impl FnMut(&'r RunSnapshot, &mut Family<'_>),
) {
    let mut family = Family::new(out, name, kind, help);
    for run in runs {
        samples(run, &mut family);
    }
}

/// Writes MFU (model FLOPs per token) or HFU (hardware FLOPs per token) of one live run, by
/// formula and peak precision, through `accounting::mfu`. A run without GPUs has no peak.
fn utilization(
    run: &RunSnapshot,
    live: &LiveSnapshot,
    per_token: fn(&FormulaFlops) -> f64,
    f: &mut Family<'_>,
) {
    let (Some(rate), Some(gpus)) = (live.tokens_per_second, run.credited_gpus) else {
        return;
    };
    let peaks = run.spec.hardware.peaks_iter();
    let pairs = run
        .spec
        .accounting
        .formulas_iter()
        .flat_map(|(_, flops)| peaks.clone().map(move |(_, peak)| (flops, peak)));
    for ((flops, peak_per_gpu), labels) in pairs.zip(&run.labels.formula_peak) {
        let ratio = mfu::utilization(rate, per_token(&flops), gpus, peak_per_gpu);
        f.run_sample("", labels, ratio);
    }
}

/// The one label most samples carry, `{run="..."}`, escaped when the run was made.
fn run_label(run: &RunSnapshot) -> &str {
    &run.labels.run
}

fn render_runs(snapshot: &Snapshot, out: &mut String) {
    let runs = &snapshot.runs;
    let live = || runs.iter().filter_map(|r| r.live.as_ref().map(|l| (r, l)));

    family(
        out,
        runs,
        "training_tokens_total",
        "counter",
        "Tokens trained on.",
        |run, f| f.run_sample("", run_label(run), run.tokens_total),
    );
    family(
        out,
        runs,
        "training_steps_total",
        "counter",
        "Optimizer steps completed.",
        |run, f| f.run_sample("", run_label(run), run.steps_total),
    );
    family(
        out,
        runs,
        "training_model_flops_total",
        "counter",
        "Model FLOPs of the tokens trained on (forward and backward), by formula.",
        |run, f| {
            for (labels, total) in run.labels.formula.iter().zip(&run.model_flops_total) {
                f.run_sample("", labels, *total);
            }
        },
    );
    family(
        out,
        runs,
        "training_restarts_total",
        "counter",
        "Trainer restarts seen (the step counter went backwards).",
        |run, f| f.run_sample("", run_label(run), run.restarts_total as f64),
    );
    // Goodput and badput exist from a run's first timed step record on.
    let timed = || {
        runs.iter()
            .filter_map(|r| r.goodput.as_ref().map(|g| (r, g)))
    };
    let mut goodput = Family::new(
        out,
        "training_goodput_seconds_total",
        "counter",
        "Seconds of steps whose progress was kept, at the ideal step time, from the trainer's timestamps.",
    );
    for (run, g) in timed() {
        goodput.run_sample("", run_label(run), g.goodput_seconds);
    }
    let mut badput = Family::new(
        out,
        "training_badput_seconds_total",
        "counter",
        "Seconds of the run that made no kept progress, by source: startup, wasted_progress, recovery, stall, slow_steps, other.",
    );
    for (run, g) in timed() {
        for ((_, seconds), labels) in g.badput_seconds.iter().zip(&run.labels.badput_source) {
            badput.run_sample("", labels, *seconds);
        }
    }
    let mut wasted = Family::new(
        out,
        "training_wasted_tokens_total",
        "counter",
        "Tokens of steps redone after a restart (already counted in training_tokens_total once before).",
    );
    for (run, g) in timed() {
        wasted.run_sample("", run_label(run), g.wasted_tokens);
    }
    family(
        out,
        runs,
        "training_ideal_step_seconds",
        "gauge",
        "The ideal step time: the mean of recent step times, steps under 1 s and above median + 3 MAD dropped.",
        |run, f| {
            if let Some(ideal) = run.ideal_step_seconds {
                f.run_sample("", run_label(run), ideal);
            }
        },
    );
    family(
        out,
        runs,
        "training_step_time_deviation_seconds",
        "gauge",
        "p90 of the last 100 steps' deviation from the ideal step time minus the median of the 1000 before.",
        |run, f| {
            if let Some(deviation) = run.step_time_deviation_seconds {
                f.run_sample("", run_label(run), deviation);
            }
        },
    );
    family(
        out,
        runs,
        "training_steps_planned",
        "gauge",
        "The steps the run is planned to take, where its log says.",
        |run, f| {
            if let Some(total) = run.steps_planned {
                f.run_sample("", run_label(run), total as f64);
            }
        },
    );

    // Rates and utilizations: absent while a run is stale.
    let mut tokens_per_second = Family::new(
        out,
        "training_tokens_per_second",
        "gauge",
        "Smoothed training throughput of the run (all its GPUs), from the trainer's own numbers.",
    );
    for (run, l) in live() {
        if let Some(rate) = l.tokens_per_second {
            tokens_per_second.run_sample("", run_label(run), rate);
        }
    }
    let mut achieved = Family::new(
        out,
        "training_achieved_flops_per_second",
        "gauge",
        "Model FLOP/s achieved by the run, by formula.",
    );
    for (run, l) in live() {
        if let Some(rate) = l.tokens_per_second {
            let formulas = run.spec.accounting.formulas_iter();
            for ((_, flops), labels) in formulas.zip(&run.labels.formula) {
                let flops_per_second = mfu::achieved_flops_per_second(rate, flops.training);
                achieved.run_sample("", labels, flops_per_second);
            }
        }
    }
    // MFU counts model FLOPs; HFU adds recomputation and exists only when it is configured.
    let mut mfu_family = Family::new(
        out,
        "training_mfu_ratio",
        "gauge",
        "Model FLOPs utilization: achieved model FLOP/s over the peak FLOP/s of the run's GPUs.",
    );
    for (run, l) in live() {
        utilization(run, l, |flops| flops.training, &mut mfu_family);
    }
    let mut hfu_family = Family::new(
        out,
        "training_hfu_ratio",
        "gauge",
        "Hardware FLOPs utilization: model FLOPs plus recomputation over the peak.",
    );
    for (run, l) in live() {
        if run.spec.accounting.options.recompute != Recompute::None {
            utilization(run, l, |flops| flops.hardware, &mut hfu_family);
        }
    }
    let mut reported_mfu = Family::new(
        out,
        "training_reported_mfu_ratio",
        "gauge",
        "The MFU the trainer reports itself, as a ratio.",
    );
    for (run, l) in live() {
        if let Some(mfu) = l.reported_mfu {
            reported_mfu.run_sample("", run_label(run), mfu);
        }
    }
    let mut reported_flops = Family::new(
        out,
        "training_reported_flops_per_second_per_gpu",
        "gauge",
        "The model FLOP/s per GPU the trainer reports itself (its own FLOP count).",
    );
    for (run, l) in live() {
        if let Some(flops) = l.reported_flops_per_second_per_gpu {
            reported_flops.run_sample("", run_label(run), flops);
        }
    }

    let mut histogram = Family::new(
        out,
        "training_step_duration_seconds",
        "histogram",
        "Optimizer step durations from the trainer's log.",
    );
    for run in runs {
        let buckets = &run.labels.bucket;
        for ((_, count), labels) in run.step_durations.cumulative().zip(buckets) {
            histogram.run_sample("_bucket", labels, count as f64);
        }
        let count = run.step_durations.count as f64;
        if let Some(infinity) = buckets.last() {
            histogram.run_sample("_bucket", infinity, count);
        }
        histogram.run_sample("_sum", run_label(run), run.step_durations.sum);
        histogram.run_sample("_count", run_label(run), count);
    }

    family(
        out,
        runs,
        "training_peak_flops_per_second",
        "gauge",
        "Dense peak FLOP/s of the GPUs the run is credited with, by precision; absent until the run has data, and for a pushed run that named no GPUs.",
        |run, f| {
            let Some(gpus) = run.credited_gpus else { return };
            for ((_, per_gpu), labels) in run.spec.hardware.peaks_iter().zip(&run.labels.peak) {
                f.run_sample("", labels, per_gpu * gpus as f64);
            }
        },
    );
    family(
        out,
        runs,
        "training_gpus",
        "gauge",
        "GPUs the run is credited with; absent until the run has data, and for a pushed run that named no GPUs.",
        |run, f| {
            if let Some(gpus) = run.credited_gpus {
                f.run_sample("", run_label(run), gpus as f64);
            }
        },
    );
    family(
        out,
        runs,
        "training_run_finished",
        "gauge",
        "1 once the run has ended (its log reached the planned steps, or a push said final), else 0.",
        |run, f| {
            let finished = if run.finished { 1.0 } else { 0.0 };
            f.run_sample("", run_label(run), finished);
        },
    );
    family(
        out,
        runs,
        "training_model_flops_per_token",
        "gauge",
        "Model FLOPs per token of training (forward and backward), by formula.",
        |run, f| {
            let formulas = run.spec.accounting.formulas_iter();
            for ((_, flops), labels) in formulas.zip(&run.labels.formula) {
                f.run_sample("", labels, flops.training);
            }
        },
    );
    family(
        out,
        runs,
        "training_model_parameters",
        "gauge",
        "Parameters of the model: all of them, and those one token uses.",
        |run, f| {
            let params = run.spec.accounting.params;
            let [total, active] = &run.labels.parameter_kind;
            f.run_sample("", total, params.total as f64);
            f.run_sample("", active, params.active as f64);
        },
    );
    family(
        out,
        runs,
        "training_step",
        "gauge",
        "The trainer's latest step number.",
        |run, f| {
            if let Some(step) = run.step {
                f.run_sample("", run_label(run), step as f64);
            }
        },
    );
    family(
        out,
        runs,
        "training_loss",
        "gauge",
        "The trainer's latest training loss.",
        |run, f| {
            if let Some(loss) = run.loss {
                f.run_sample("", run_label(run), loss);
            }
        },
    );
    family(
        out,
        runs,
        "training_last_update_timestamp_seconds",
        "gauge",
        "Unix time at which the exporter last received data for the run.",
        |run, f| {
            if let Some(last) = run.last_update {
                f.run_sample("", run_label(run), last);
            }
        },
    );
    family(
        out,
        runs,
        "training_run_info",
        "gauge",
        "A metric with a constant '1' value labeled by the run's model, GPU, precision and attention counting.",
        |run, f| f.run_sample("", &run.labels.info, 1.0),
    );
    family(
        out,
        runs,
        "mfu_exporter_source_files",
        "gauge",
        "What a tailed run's log paths and globs named at the last poll, by state (following, missing, unreadable, not_a_regular_file).",
        |run, f| {
            if let Some(files) = &run.source_files {
                for ((_, count), labels) in files.iter().zip(&run.labels.file_state) {
                    f.run_sample("", labels, *count as f64);
                }
            }
        },
    );
    family(
        out,
        runs,
        "mfu_exporter_source_up",
        "gauge",
        "1 when at least one log file of the tailed run is being read, else 0.",
        |run, f| {
            if let Some(files) = &run.source_files {
                let following = files
                    .iter()
                    .any(|(state, count)| *state == "following" && *count > 0);
                f.run_sample("", run_label(run), f64::from(u8::from(following)));
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_move_in_less_than_a_second() {
        let start = process_cpu_seconds().expect("getrusage");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut spin = 0_u64;
        let mut now = start;
        while now == start && Instant::now() < deadline {
            spin = std::hint::black_box(spin.wrapping_mul(31).wrapping_add(1));
            now = process_cpu_seconds().expect("getrusage");
        }
        assert!(now > start, "CPU time did not move in 5 s of spinning");
        assert!(
            now - start < 0.5,
            "CPU time moved by {} s at once",
            now - start
        );

        let mut out = String::new();
        render_cpu_seconds(&mut out);
        assert!(
            out.contains(
                "# TYPE mfu_exporter_cpu_seconds_total counter\nmfu_exporter_cpu_seconds_total "
            ),
            "{out}"
        );
    }

    #[test]
    fn self_metrics_start_at_zero() {
        let metrics = SelfMetrics::new().unwrap();
        let mut out = String::new();
        metrics.render(&mut out);
        for needle in [
            "mfu_exporter_build_info{",
            "mfu_exporter_lines_read_total 0",
            "mfu_exporter_parse_errors_total{reason=\"invalid_json\"} 0",
            "mfu_exporter_push_requests_total{code=\"400\"} 0",
            "mfu_exporter_file_rotations_total 0",
        ] {
            assert!(out.contains(needle), "missing {needle}:\n{out}");
        }
    }
}
