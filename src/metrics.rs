//! Every metric the exporter exposes: run metrics rendered from a snapshot of the state at
//! scrape time, and the exporter's own counters and process metrics.
//!
//! Conventions: base units, ratios from 0 to 1, counters for everything additive (so that
//! `sum(rate(training_model_flops_total)) / sum(training_peak_flops_per_second)` gives the
//! MFU of a job over many nodes), no sample timestamps. Every run series carries `run`.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::accounting::flops::{FormulaFlops, Recompute};
use crate::ingest::observation::ParseErrorReason;
use crate::state::goodput::BadputSource;
use crate::state::{Run, State};

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
        // A failed encoding leaves only what was written before the failure; the run metrics
        // are still worth serving.
        let _ = TextEncoder::new().encode_utf8(&self.registry.gather(), out);
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
            let _ = TextEncoder::new().encode_utf8(&self.process_registry.gather(), &mut text);
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
    out.push_str(
        "# HELP mfu_exporter_cpu_seconds_total User and system CPU time of the exporter process, in seconds, with microsecond resolution.\n\
         # TYPE mfu_exporter_cpu_seconds_total counter\n\
         mfu_exporter_cpu_seconds_total ",
    );
    write_value(seconds, out);
    out.push('\n');
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

/// Renders the whole exposition: run metrics from `state` at `now`, then the exporter's own.
pub fn render(state: &State, now: f64, self_metrics: &SelfMetrics) -> String {
    let mut out = String::with_capacity(8192);
    render_runs(state, now, &mut out);
    self_metrics.render(&mut out);
    out
}

/// One metric family being written: HELP and TYPE go out before its first sample only.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    started: bool,
}

impl<'a> Family<'a> {
    fn new(
        out: &'a mut String,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
    ) -> Family<'a> {
        Family {
            out,
            name,
            help,
            kind,
            started: false,
        }
    }

    fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) {
        if !self.started {
            let _ = writeln!(self.out, "# HELP {} {}", self.name, self.help);
            let _ = writeln!(self.out, "# TYPE {} {}", self.name, self.kind);
            self.started = true;
        }
        self.out.push_str(self.name);
        self.out.push_str(suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                escape_label_value(value, self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        write_value(value, self.out);
        self.out.push('\n');
    }
}

fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_value(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0
        && value.abs() < 1e15
        && !(value == 0.0 && value.is_sign_negative())
    {
        // Counters and most gauges hold whole numbers; integer formatting is several times
        // faster than the shortest-float algorithm and prints the same digits.
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Writes a family with one sample per run (or several), skipping runs `sample` declines.
fn family(
    out: &mut String,
    runs: &[&Run],
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    mut samples: impl FnMut(&Run, &mut Family<'_>),
) {
    let mut family = Family::new(out, name, kind, help);
    for run in runs {
        samples(run, &mut family);
    }
}

fn render_runs(state: &State, now: f64, out: &mut String) {
    let stale_after = state.options.stale_after_seconds;
    let runs: Vec<&Run> = state.runs().collect();
    let live: Vec<&Run> = runs
        .iter()
        .copied()
        .filter(|r| !r.is_stale(now, stale_after))
        .collect();
    let formulas = |run: &Run| run.spec.accounting.formulas();

    family(
        out,
        &runs,
        "training_tokens_total",
        "counter",
        "Tokens trained on.",
        |run, f| f.sample("", &[("run", &run.name)], run.tokens_total),
    );
    family(
        out,
        &runs,
        "training_steps_total",
        "counter",
        "Optimizer steps completed.",
        |run, f| f.sample("", &[("run", &run.name)], run.steps_total),
    );
    family(
        out,
        &runs,
        "training_model_flops_total",
        "counter",
        "Model FLOPs of the tokens trained on (forward and backward), by formula.",
        |run, f| {
            for ((formula, _), total) in formulas(run).iter().zip(&run.model_flops_total) {
                f.sample("", &[("run", &run.name), ("formula", formula)], *total);
            }
        },
    );
    family(
        out,
        &runs,
        "training_restarts_total",
        "counter",
        "Trainer restarts seen (the step counter went backwards).",
        |run, f| f.sample("", &[("run", &run.name)], run.restarts_total as f64),
    );
    // Goodput and badput exist from a run's first timed step record on.
    let timed: Vec<&Run> = runs
        .iter()
        .copied()
        .filter(|r| r.goodput.has_records())
        .collect();
    family(
        out,
        &timed,
        "training_goodput_seconds_total",
        "counter",
        "Seconds of steps whose progress was kept, at the ideal step time, from the trainer's timestamps.",
        |run, f| f.sample("", &[("run", &run.name)], run.goodput.goodput_seconds()),
    );
    family(
        out,
        &timed,
        "training_badput_seconds_total",
        "counter",
        "Seconds of the run that made no kept progress, by source: startup, wasted_progress, recovery, stall, slow_steps, other.",
        |run, f| {
            for source in BadputSource::ALL {
                f.sample(
                    "",
                    &[("run", &run.name), ("source", source.as_str())],
                    run.goodput.badput_seconds(source),
                );
            }
        },
    );
    family(
        out,
        &timed,
        "training_wasted_tokens_total",
        "counter",
        "Tokens of steps redone after a restart (already counted in training_tokens_total once before).",
        |run, f| f.sample("", &[("run", &run.name)], run.goodput.wasted_tokens()),
    );
    family(
        out,
        &runs,
        "training_ideal_step_seconds",
        "gauge",
        "The ideal step time: the mean of recent step times, steps under 1 s and above median + 3 MAD dropped.",
        |run, f| {
            if let Some(ideal) = run.goodput.ideal_step_seconds() {
                f.sample("", &[("run", &run.name)], ideal);
            }
        },
    );
    family(
        out,
        &runs,
        "training_step_time_deviation_seconds",
        "gauge",
        "p90 of the last 100 steps' deviation from the ideal step time minus the median of the 1000 before.",
        |run, f| {
            if let Some(deviation) = run.goodput.step_time_deviation_seconds() {
                f.sample("", &[("run", &run.name)], deviation);
            }
        },
    );
    family(
        out,
        &runs,
        "training_steps_planned",
        "gauge",
        "The steps the run is planned to take, where its log says.",
        |run, f| {
            if let Some(total) = run.total_steps {
                f.sample("", &[("run", &run.name)], total as f64);
            }
        },
    );

    // Rates and utilizations: absent while a run is stale.
    let rate = |run: &Run| run.tokens_per_second(now, stale_after);
    family(
        out,
        &live,
        "training_tokens_per_second",
        "gauge",
        "Smoothed training throughput of the run (all its GPUs), from the trainer's own numbers.",
        |run, f| {
            if let Some(rate) = rate(run) {
                f.sample("", &[("run", &run.name)], rate);
            }
        },
    );
    family(
        out,
        &live,
        "training_achieved_flops_per_second",
        "gauge",
        "Model FLOP/s achieved by the run, by formula.",
        |run, f| {
            if let Some(rate) = rate(run) {
                for (formula, flops) in formulas(run) {
                    f.sample(
                        "",
                        &[("run", &run.name), ("formula", formula)],
                        rate * flops.training,
                    );
                }
            }
        },
    );
    // MFU counts model FLOPs; HFU adds recomputation and exists only when it is configured.
    // A run without a peak (a push that named no GPUs) has no utilization.
    let utilization = |run: &Run, f: &mut Family<'_>, per_token: fn(&FormulaFlops) -> f64| {
        let Some(rate) = rate(run) else { return };
        let peaks = run.peaks();
        for (formula, flops) in formulas(run) {
            for (dtype, peak) in &peaks {
                let peak = *peak;
                let labels = [
                    ("run", run.name.as_str()),
                    ("formula", formula),
                    ("peak_dtype", dtype.as_str()),
                ];
                f.sample("", &labels, rate * per_token(&flops) / peak);
            }
        }
    };
    family(
        out,
        &live,
        "training_mfu_ratio",
        "gauge",
        "Model FLOPs utilization: achieved model FLOP/s over the peak FLOP/s of the run's GPUs.",
        |run, f| utilization(run, f, |flops| flops.training),
    );
    family(
        out,
        &live,
        "training_hfu_ratio",
        "gauge",
        "Hardware FLOPs utilization: model FLOPs plus recomputation over the peak.",
        |run, f| {
            if run.spec.accounting.options.recompute != Recompute::None {
                utilization(run, f, |flops| flops.hardware);
            }
        },
    );
    family(
        out,
        &live,
        "training_reported_mfu_ratio",
        "gauge",
        "The MFU the trainer reports itself, as a ratio.",
        |run, f| {
            if let Some(mfu) = run.reported_mfu {
                f.sample("", &[("run", &run.name)], mfu);
            }
        },
    );
    family(
        out,
        &live,
        "training_reported_flops_per_second_per_gpu",
        "gauge",
        "The model FLOP/s per GPU the trainer reports itself (its own FLOP count).",
        |run, f| {
            if let Some(flops) = run.reported_flops_per_second_per_gpu {
                f.sample("", &[("run", &run.name)], flops);
            }
        },
    );

    let mut histogram = Family::new(
        out,
        "training_step_duration_seconds",
        "histogram",
        "Optimizer step durations from the trainer's log.",
    );
    for run in &runs {
        for (bound, count) in run.step_durations.cumulative() {
            let le = bound.to_string();
            histogram.sample("_bucket", &[("run", &run.name), ("le", &le)], count as f64);
        }
        let count = run.step_durations.count as f64;
        histogram.sample("_bucket", &[("run", &run.name), ("le", "+Inf")], count);
        histogram.sample("_sum", &[("run", &run.name)], run.step_durations.sum);
        histogram.sample("_count", &[("run", &run.name)], count);
    }

    family(
        out,
        &runs,
        "training_peak_flops_per_second",
        "gauge",
        "Dense peak FLOP/s of the GPUs the run is credited with, by precision; absent until the run has data, and for a pushed run that named no GPUs.",
        |run, f| {
            for (dtype, peak) in run.peaks() {
                f.sample(
                    "",
                    &[("run", &run.name), ("peak_dtype", dtype.as_str())],
                    peak,
                );
            }
        },
    );
    family(
        out,
        &runs,
        "training_gpus",
        "gauge",
        "GPUs the run is credited with; absent until the run has data, and for a pushed run that named no GPUs.",
        |run, f| {
            if let (Some(gpus), Some(_)) = (run.gpus, run.last_update) {
                f.sample("", &[("run", &run.name)], gpus as f64);
            }
        },
    );
    family(
        out,
        &runs,
        "training_run_finished",
        "gauge",
        "1 once the run has ended (its log reached the planned steps, or a push said final), else 0.",
        |run, f| {
            let finished = if run.is_finished() { 1.0 } else { 0.0 };
            f.sample("", &[("run", &run.name)], finished);
        },
    );
    family(
        out,
        &runs,
        "training_model_flops_per_token",
        "gauge",
        "Model FLOPs per token of training (forward and backward), by formula.",
        |run, f| {
            for (formula, flops) in formulas(run) {
                f.sample(
                    "",
                    &[("run", &run.name), ("formula", formula)],
                    flops.training,
                );
            }
        },
    );
    family(
        out,
        &runs,
        "training_model_parameters",
        "gauge",
        "Parameters of the model: all of them, and those one token uses.",
        |run, f| {
            let params = run.spec.accounting.params;
            f.sample(
                "",
                &[("run", &run.name), ("kind", "total")],
                params.total as f64,
            );
            f.sample(
                "",
                &[("run", &run.name), ("kind", "active")],
                params.active as f64,
            );
        },
    );
    family(
        out,
        &runs,
        "training_step",
        "gauge",
        "The trainer's latest step number.",
        |run, f| {
            if let Some(step) = run.step {
                f.sample("", &[("run", &run.name)], step as f64);
            }
        },
    );
    family(
        out,
        &runs,
        "training_loss",
        "gauge",
        "The trainer's latest training loss.",
        |run, f| {
            if let Some(loss) = run.loss {
                f.sample("", &[("run", &run.name)], loss);
            }
        },
    );
    family(
        out,
        &runs,
        "training_last_update_timestamp_seconds",
        "gauge",
        "Unix time at which the exporter last received data for the run.",
        |run, f| {
            if let Some(last) = run.last_update {
                f.sample("", &[("run", &run.name)], last);
            }
        },
    );
    family(
        out,
        &runs,
        "training_run_info",
        "gauge",
        "A metric with a constant '1' value labeled by the run's model, GPU, precision and attention counting.",
        |run, f| {
            let spec = &run.spec;
            let labels = [
                ("run", run.name.as_str()),
                ("model", spec.model_name.as_str()),
                ("gpu", spec.hardware.gpu_label.as_str()),
                ("dtype", spec.hardware.dtype.as_str()),
                ("attention", spec.accounting.options.attention.as_str()),
            ];
            f.sample("", &labels, 1.0);
        },
    );
    family(
        out,
        &runs,
        "mfu_exporter_source_files",
        "gauge",
        "What a tailed run's log paths and globs named at the last poll, by state (following, missing, unreadable, not_a_regular_file).",
        |run, f| {
            if let Some(files) = &run.source_files {
                for (state, count) in files.by_state() {
                    f.sample("", &[("run", &run.name), ("state", state)], count as f64);
                }
            }
        },
    );
    family(
        out,
        &runs,
        "mfu_exporter_source_up",
        "gauge",
        "1 when at least one log file of the tailed run is being read, else 0.",
        |run, f| {
            if let Some(files) = &run.source_files {
                f.sample(
                    "",
                    &[("run", &run.name)],
                    f64::from(u8::from(files.following > 0)),
                );
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_label_value("a\"b\\c\nd", &mut out);
        assert_eq!(out, "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn values_use_prometheus_spellings() {
        let check = |value: f64, expected: &str| {
            let mut out = String::new();
            write_value(value, &mut out);
            assert_eq!(out, expected);
        };
        check(f64::NAN, "NaN");
        check(f64::INFINITY, "+Inf");
        check(0.25, "0.25");
        check(3.0, "3");
    }

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
