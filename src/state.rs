//! Per-run state: counters, smoothed throughput, staleness and expiry.
//!
//! Runs are fed [`Observation`]s (from a log line or a push) and read by the metrics
//! renderer at scrape time. Time is passed in (`now`, Unix seconds of the exporter's
//! clock); nothing here reads a clock, a file or a socket.
//!
//! Throughput comes from the trainer's own numbers and timestamps, never from how
//! fast lines were read: catching up on a backlog adds tokens to the counters but
//! does not look like a burst in `training_tokens_per_second`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::accounting::gpus::Dtype;
use crate::accounting::mfu::Hardware;
use crate::accounting::Accounting;
use crate::ingest::observation::Observation;
use crate::ingest::push::PushSample;

pub mod goodput;
pub mod labels;
pub mod snapshot;

use goodput::{Goodput, StepRecord};

/// What a run is measured against: its model and its GPUs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub model_name: String,
    pub accounting: Accounting,
    pub hardware: Hardware,
}

impl RunSpec {
    /// Peaks of all the run's GPUs together, by precision label.
    pub fn peaks(&self) -> Vec<(Dtype, f64)> {
        self.hardware
            .peaks()
            .into_iter()
            .map(|(dtype, per_gpu)| (dtype, per_gpu * self.hardware.gpus as f64))
            .collect()
    }
}

/// What the throughput a source reports covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThroughputScope {
    /// As the log format says of each field: torchtitan's `tps` is one device's, fairseq's `wps`
    /// the whole job's. Fields the format says nothing of are the whole job's.
    #[default]
    AsLogged,
    /// Every field is the whole job's, as a trainer logs from rank 0.
    Global,
    /// One GPU's tokens (torchtitan's `tps`): multiplied by the run's GPU count.
    PerGpu,
    /// Each file reports its own share; the files' rates are summed.
    PerFile,
}

/// The scope's name as a setting (`--tail.throughput-scope`, `throughput_scope`).
impl std::str::FromStr for ThroughputScope {
    type Err = String;

    fn from_str(text: &str) -> Result<ThroughputScope, String> {
        match text {
            "global" => Ok(ThroughputScope::Global),
            "per-gpu" => Ok(ThroughputScope::PerGpu),
            "per-file" => Ok(ThroughputScope::PerFile),
            _ => Err("use global, per-gpu or per-file".into()),
        }
    }
}

impl ThroughputScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ThroughputScope::AsLogged => "as-logged",
            ThroughputScope::Global => "global",
            ThroughputScope::PerGpu => "per-gpu",
            ThroughputScope::PerFile => "per-file",
        }
    }
}

/// Where a run's data comes from, which decides whether it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Configured log files: the run lives as long as the exporter.
    Tail,
    /// HTTP pushes: the run expires after a while without pushes.
    Push,
}

/// Upper bounds of the step-duration histogram buckets, in seconds.
pub const STEP_SECONDS_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Cumulative histogram of step durations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepHistogram {
    /// Count per bucket of [`STEP_SECONDS_BUCKETS`] (not cumulative); +Inf is `count`.
    pub bucket_counts: [u64; STEP_SECONDS_BUCKETS.len()],
    pub sum: f64,
    pub count: u64,
}

impl StepHistogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(index) = STEP_SECONDS_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
        {
            if let Some(slot) = self.bucket_counts.get_mut(index) {
                *slot += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// (upper bound, cumulative count) pairs, without +Inf.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut running = 0;
        STEP_SECONDS_BUCKETS
            .iter()
            .zip(self.bucket_counts.iter())
            .map(move |(bound, count)| {
                running += count;
                (*bound, running)
            })
    }
}

/// Weight of a new sample in the moving average, as nanoGPT smooths its MFU.
const EMA_WEIGHT: f64 = 0.1;
/// Trainer-time span of the window rate.
const WINDOW_SECONDS: f64 = 60.0;
/// The highest believable throughput of a run, tokens per second: the push limit.
const MAX_TOKENS_PER_SECOND: f64 = 1e12;
/// The most tokens one record may add: a step of a trillion-token batch ten times over, times
/// the most GPUs a per-device figure is multiplied by.
const TOKENS_PER_RECORD_LIMIT: f64 = 1e19;
/// The most samples a stream's rate window holds, whatever the trainer's clock does: a clock that
/// does not advance would otherwise grow it without end.
const WINDOW_MAX_SAMPLES: usize = 1024;
/// The longest interval between two lines over which a tokens/s figure is integrated when
/// nothing else says how many tokens the line covers, before the first interval is known.
const FIRST_GAP_LIMIT_SECONDS: f64 = 600.0;

/// One stream of observations inside a run: one log file, or the pushes.
#[derive(Debug, Clone, Default)]
struct Stream {
    last_total_tokens: Option<f64>,
    last_timestamp: Option<f64>,
    /// The interval between the last two timestamps, which bounds the next one that counts.
    last_gap: Option<f64>,
    last_step: Option<u64>,
    /// The restart epoch this stream has seen (see [`Run::restart_epoch`]).
    epoch: u64,
    ema_tokens_per_second: Option<f64>,
    /// (trainer time, tokens) of the last [`WINDOW_SECONDS`] of trainer time.
    window: VecDeque<(f64, f64)>,
    /// Trainer time built from step durations when lines carry no timestamp or elapsed clock.
    step_clock: f64,
    last_update: f64,
}

/// How a tailed run reads its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOptions {
    /// Records after a start or a restart whose tokens count but whose rates stay out of the
    /// gauges (compilation, warm-up).
    pub warmup_records: u32,
    /// The first step number of a fresh run, when the format knows it: the first record of a log
    /// read from its first byte then counts its whole interval (step 10 of an every-10 log is 10
    /// steps).
    pub steps_from: Option<u64>,
}

/// What applying one observation did, for the caller to count and report.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observed {
    /// Another rank's copy of a step already counted: nothing was added.
    pub duplicate: bool,
    /// A warm-up record: its tokens count, its rate does not.
    pub warmup: bool,
    /// The MFU the record's rate would have given, above 1 against the configured peak: the rate
    /// was kept out of the gauges.
    pub implausible_mfu: Option<f64>,
    /// Tokens the record added to the run's counters.
    pub tokens: Option<f64>,
    /// The record's own rate, tokens/s (of the whole run, or of its file per file).
    pub tokens_per_second: Option<f64>,
}

/// The longest log interval a fresh run's first record is believed to cover.
const MAX_FIRST_INTERVAL_STEPS: u64 = 1000;

/// A step counter that jumps forward by more than this is taken as one step (a garbled or
/// re-numbered log), never as millions of steps' tokens.
const MAX_STEPS_PER_RECORD: u64 = 1_000_000;

impl Stream {
    fn window_rate(&self) -> Option<f64> {
        let (first, last) = (self.window.front()?, self.window.back()?);
        let span = last.0 - first.0;
        if span <= 0.0 {
            return None;
        }
        // The first entry's tokens were produced before the span began.
        let tokens: f64 = self.window.iter().skip(1).map(|(_, tokens)| tokens).sum();
        Some(tokens / span)
    }
}

/// Everything known about one training run.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    /// The run's label sets, escaped for the exposition once from `name` and `spec` (neither
    /// changes after [`Run::new`]) and shared with every snapshot.
    pub labels: Arc<labels::RunLabels>,
    pub origin: Origin,
    pub scope: ThroughputScope,
    pub spec: Arc<RunSpec>,
    pub tokens_total: f64,
    pub steps_total: f64,
    /// Model FLOPs by formula, in the order of [`Accounting::formulas`].
    pub model_flops_total: Vec<f64>,
    pub restarts_total: u64,
    pub step: Option<u64>,
    pub loss: Option<f64>,
    pub reported_mfu: Option<f64>,
    pub reported_flops_per_second_per_gpu: Option<f64>,
    /// The steps the run is planned to take, where the log says.
    pub total_steps: Option<u64>,
    /// For a tailed run, what its log patterns named at the last poll (None before it).
    pub source_files: Option<crate::ingest::tail::SourceFiles>,
    pub step_durations: StepHistogram,
    /// Exporter time of the last observation; `None` before any.
    pub last_update: Option<f64>,
    /// The GPUs the run is credited with: a tailed run's configured GPUs, the `gpus` a push
    /// named, or `None` for a pushed run that named none (it then has no peak and no MFU).
    pub gpus: Option<u64>,
    /// The last push said `"final": true`: the trainer ended the run.
    pub ended_by_push: bool,
    /// Bumped by the first stream that sees the step counter go backwards.
    restart_epoch: u64,
    /// The stream whose steps are counted when lines carry no step number.
    step_stream: Option<String>,
    /// Keyed by file (and rank): looked up for every record, so hashed with foldhash, not SipHash.
    streams: HashMap<String, Stream, foldhash::fast::RandomState>,
    pub options: RunOptions,
    /// The highest step counted since the last restart: a step at or below it is another rank's
    /// copy.
    counted_step: Option<u64>,
    /// Steps the last record covered, for the first record after a restart.
    last_interval_steps: Option<u64>,
    /// Records since the start or the last restart, for the warm-up.
    records_since_start: u32,
    /// The MFU of one token per second by the larger formula, against the configured peak.
    mfu_per_token_per_second: Option<f64>,
    /// Where the run's wall-clock time went, from the trainer's timestamps.
    pub goodput: Goodput,
    /// Records arrive as the trainer writes them (a push, or a log past its start-up backlog):
    /// a record without a timestamp may then be timed by its arrival.
    pub live: bool,
    /// Records with steps that had no timestamp and arrived in a backlog: no goodput for them.
    pub untimed_backlog_records: u64,
    /// Exporter time at which records began to arrive live: the first sight of a fresh run
    /// whose log carries no timestamps.
    live_since: Option<f64>,
}

impl Run {
    pub fn new(name: &str, origin: Origin, scope: ThroughputScope, spec: Arc<RunSpec>) -> Run {
        Run {
            name: name.to_string(),
            labels: Arc::new(labels::RunLabels::new(name, &spec)),
            origin,
            scope,
            tokens_total: 0.0,
            steps_total: 0.0,
            model_flops_total: vec![0.0; spec.accounting.formulas().len()],
            restarts_total: 0,
            step: None,
            loss: None,
            reported_mfu: None,
            reported_flops_per_second_per_gpu: None,
            total_steps: None,
            source_files: None,
            step_durations: StepHistogram::default(),
            last_update: None,
            gpus: match origin {
                Origin::Tail => Some(spec.hardware.gpus),
                Origin::Push => None,
            },
            ended_by_push: false,
            restart_epoch: 0,
            step_stream: None,
            streams: HashMap::default(),
            options: RunOptions::default(),
            counted_step: None,
            last_interval_steps: None,
            records_since_start: 0,
            mfu_per_token_per_second: match origin {
                Origin::Tail => mfu_per_token_per_second(&spec, Some(spec.hardware.gpus)),
                Origin::Push => None,
            },
            goodput: Goodput::default(),
            live: origin == Origin::Push,
            untimed_backlog_records: 0,
            live_since: None,
            spec,
        }
    }

    /// Credits the run with `gpus` GPUs (a push that names them).
    pub fn set_gpus(&mut self, gpus: u64) {
        if self.gpus != Some(gpus) {
            self.gpus = Some(gpus);
            self.mfu_per_token_per_second = mfu_per_token_per_second(&self.spec, Some(gpus));
        }
    }

    /// The dense peak of the GPUs the run is credited with, by precision label. Empty for a run
    /// that has never had data (it occupies no GPUs yet) and for a pushed run that named no GPUs:
    /// peak capacity belongs to GPUs in use, never to a run merely declared.
    pub fn peaks(&self) -> Vec<(Dtype, f64)> {
        match (self.last_update, self.gpus) {
            (Some(_), Some(gpus)) => self
                .spec
                .hardware
                .peaks()
                .into_iter()
                .map(|(dtype, per_gpu)| (dtype, per_gpu * gpus as f64))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A finished run: the last push said `"final": true`, or the log's step reached the steps it
    /// planned (`step >= total_steps`). A later record below the planned steps (a restart) or a
    /// push without `final` makes it unfinished again.
    pub fn is_finished(&self) -> bool {
        match self.origin {
            Origin::Push => self.ended_by_push,
            Origin::Tail => matches!(
                (self.step, self.total_steps),
                (Some(step), Some(total)) if total > 0 && step >= total
            ),
        }
    }

    /// A run is stale when nothing arrived for `stale_after` seconds (or ever).
    pub fn is_stale(&self, now: f64, stale_after: f64) -> bool {
        self.last_update.is_none_or(|last| now - last > stale_after)
    }

    /// The factor that turns a token field into the whole job's (or, per file, the file's) count.
    fn factor(&self, per_device: bool) -> f64 {
        let gpus = self.spec.hardware.gpus as f64;
        match self.scope {
            ThroughputScope::AsLogged if per_device => gpus,
            ThroughputScope::PerGpu => gpus,
            ThroughputScope::AsLogged | ThroughputScope::Global | ThroughputScope::PerFile => 1.0,
        }
    }

    /// The MFU a whole-run rate would give against the configured peak, by the larger formula.
    fn mfu_of_rate(&self, tokens_per_second: f64) -> Option<f64> {
        self.mfu_per_token_per_second
            .map(|per_token_per_second| tokens_per_second * per_token_per_second)
    }

    /// Applies one observation from `stream` (a file path, a file and rank, or "push"), received
    /// at `now`. `from_start`: the stream's file is being read from its first byte, so its first
    /// record may count its whole interval.
    pub fn observe(
        &mut self,
        stream_name: &str,
        observation: &Observation,
        now: f64,
        from_start: bool,
    ) -> Observed {
        let mut observed = Observed::default();
        if !observation.has_throughput() {
            // A step or a loss without throughput moves the gauges and touches none of the
            // counting state: the step that carries tokens still counts when it comes.
            self.note_progress(observation, now);
            return observed;
        }
        let per_device = observation.per_device;
        let tokens_per_second = observation
            .tokens_per_second
            .map(|v| v * self.factor(per_device.tokens_per_second));
        let interval_tokens = observation
            .tokens
            .map(|v| v * self.factor(per_device.tokens));
        let tokens_per_step = observation
            .tokens_per_step
            .map(|v| v * self.factor(per_device.tokens_per_step))
            .or_else(|| {
                Some(observation.samples_per_step? * self.spec.accounting.options.seq_len as f64)
            });
        let total_tokens = observation
            .total_tokens
            .map(|v| v * self.factor(per_device.total_tokens));
        let run_epoch = self.restart_epoch;
        let last_interval_steps = self.last_interval_steps;
        let steps_from = self.options.steps_from;
        let first_interval = move |step: u64, restarted_run: bool| -> u64 {
            if restarted_run {
                return last_interval_steps.unwrap_or(1).min(step.max(1));
            }
            // A first step far beyond any log interval is a resumed run (or an excerpt), whose
            // earlier steps this log never showed: only its own step counts.
            match steps_from {
                Some(from)
                    if from_start && step >= from && step - from < MAX_FIRST_INTERVAL_STEPS =>
                {
                    step - from + 1
                }
                _ => 1,
            }
        };
        // Looked up before inserting, so that the common case allocates nothing.
        if !self.streams.contains_key(stream_name) {
            self.streams
                .insert(stream_name.to_string(), Stream::default());
        }
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return observed;
        };

        // A step counter that goes backwards is a trainer restart: forget the baselines (a
        // cumulative count or clock from before the restart means nothing now). A new log file
        // that starts below the run's step is a restart too; a new rank's stream in the same file
        // is not (ranks are a step or so apart), and neither is one step of skew.
        let mut restarted = false;
        let last_step = match (self.scope, stream.last_step, observation.rank) {
            (ThroughputScope::PerFile, own, _)
            | (_, own @ Some(_), _)
            | (_, own @ None, Some(_)) => own,
            (_, None, None) => self.step.map(|step| step.saturating_sub(1)),
        };
        if let (Some(step), Some(last)) = (observation.step, last_step) {
            if step < last {
                restarted = stream.epoch == run_epoch;
                stream.epoch = run_epoch + u64::from(restarted);
                stream.last_total_tokens = None;
                stream.last_timestamp = None;
                stream.last_gap = None;
                stream.window.clear();
            }
        }
        if restarted {
            self.restart_epoch += 1;
            self.restarts_total += 1;
            self.counted_step = None;
            self.records_since_start = 0;
        }
        // Steps this record adds to the run, and whether it only repeats a counted step.
        let after_restart = self.restarts_total > 0 && self.counted_step.is_none();
        let new_steps = match (observation.step, self.counted_step) {
            (Some(step), Some(counted)) => step.saturating_sub(counted),
            (Some(step), None) => first_interval(step, after_restart),
            (None, _) => 1,
        };
        let new_steps = if new_steps > MAX_STEPS_PER_RECORD {
            1
        } else {
            new_steps
        };
        // Per file, every file's tokens are its rank's share; steps still count once.
        let interval_steps = match (self.scope, observation.step, stream.last_step) {
            (ThroughputScope::PerFile, Some(step), Some(own)) if step > own => {
                (step - own).min(MAX_STEPS_PER_RECORD)
            }
            (ThroughputScope::PerFile, Some(step), None) => first_interval(step, after_restart),
            (ThroughputScope::PerFile, _, _) => 1,
            _ => new_steps.max(1),
        };
        // Pushes are each a client's share: only a log's repeated step is a rank's copy.
        let duplicate = self.scope != ThroughputScope::PerFile
            && self.origin == Origin::Tail
            && observation.step.is_some()
            && new_steps == 0;
        observed.duplicate = duplicate;

        let total_delta = match (total_tokens, stream.last_total_tokens) {
            (Some(total), Some(last)) if total >= last => Some(total - last),
            _ => None,
        };
        // The trainer's clock: its timestamps, else its own elapsed time. Time never runs
        // backwards for a stream: an earlier time (another rank's skew, an out-of-order line)
        // adds no interval and does not move the clock back.
        let clock = observation
            .timestamp_seconds
            .or(observation.elapsed_seconds);
        let gap = match (clock, stream.last_timestamp) {
            (Some(now_ts), Some(last)) if now_ts > last => Some(now_ts - last),
            _ => None,
        };
        // A gap far longer than the lines' usual spacing is a pause (preemption, a stopped
        // job resumed into the same log): tokens/s times the pause would invent tokens, so
        // the line only starts a new interval.
        let gap_limit = stream
            .last_gap
            .map_or(FIRST_GAP_LIMIT_SECONDS, |g| (4.0 * g).max(60.0));
        let elapsed = gap.filter(|g| *g <= gap_limit);
        let steps = interval_steps as f64;
        // Tokens of this observation, in order of preference.
        let tokens = if duplicate {
            None
        } else {
            interval_tokens
                .or(total_delta)
                .or_else(|| Some(tokens_per_step? * steps))
                .or_else(|| Some(tokens_per_second? * observation.step_seconds? * steps))
                .or_else(|| Some(tokens_per_second? * elapsed?))
        };
        // The trainer's own rate, never the reading speed.
        let rate = tokens_per_second
            .or_else(|| positive_ratio(tokens_per_step?, observation.step_seconds?))
            .or_else(|| positive_ratio(interval_tokens?, observation.step_seconds? * steps))
            .or_else(|| positive_ratio(total_delta?, elapsed?))
            .or_else(|| positive_ratio(interval_tokens?, elapsed?))
            .or_else(|| positive_ratio(tokens_per_step? * steps, elapsed?));

        if let Some(total) = total_tokens {
            stream.last_total_tokens = Some(total);
        }
        if let Some(clock) = clock {
            if stream.last_timestamp.is_none_or(|last| clock > last) {
                stream.last_timestamp = Some(clock);
            }
        }
        // Every interval is remembered, counted or not: after a pause the next ordinary
        // interval counts again, and a trainer that always logs rarely is believed from its
        // second interval on.
        if gap.is_some() {
            stream.last_gap = gap;
        }
        // Nothing unbelievable reaches the counters or the average: one absurd line must not
        // turn a run's numbers into infinities for the rest of its life.
        let tokens = tokens.filter(|t| t.is_finite() && *t >= 0.0 && *t <= TOKENS_PER_RECORD_LIMIT);
        let mut rate = rate.filter(|r| r.is_finite() && *r <= MAX_TOKENS_PER_SECOND);
        let previous_step = stream.last_step;
        if let Some(step) = observation.step {
            if stream.last_step.is_none_or(|last| step >= last) || restarted {
                stream.last_step = Some(step);
            }
        }
        let warmup = !duplicate && self.records_since_start < self.options.warmup_records;
        observed.warmup = warmup;
        if !duplicate && observation.has_throughput() {
            self.records_since_start = self.records_since_start.saturating_add(1);
        }
        // A rate that says the GPUs did more than their peak is a configuration mistake (GPU
        // count, scope, chip): it stays out of the gauges.
        if let Some(whole_run_rate) = rate.filter(|_| self.scope != ThroughputScope::PerFile) {
            if let Some(mfu) = self.mfu_of_rate(whole_run_rate).filter(|mfu| *mfu > 1.0) {
                observed.implausible_mfu = Some(mfu);
                rate = None;
            }
        }
        observed.tokens = tokens;
        observed.tokens_per_second = rate.filter(|_| !duplicate);
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return observed;
        };
        if let Some(rate) = rate.filter(|_| !warmup && !duplicate) {
            stream.ema_tokens_per_second = Some(match stream.ema_tokens_per_second {
                Some(ema) => (1.0 - EMA_WEIGHT) * ema + EMA_WEIGHT * rate,
                None => rate,
            });
        }
        if let Some(tokens) = tokens {
            let trainer_time = clock.or_else(|| {
                stream.step_clock += observation.step_seconds? * steps;
                Some(stream.step_clock)
            });
            if let Some(time) = trainer_time {
                if warmup {
                    // The window starts after the warm-up: the last warm-up record is its base.
                    stream.window.clear();
                    stream.window.push_back((time, 0.0));
                } else if stream.window.back().is_none_or(|(last, _)| time >= *last) {
                    stream.window.push_back((time, tokens));
                }
                while stream
                    .window
                    .front()
                    .is_some_and(|(t, _)| time - t > WINDOW_SECONDS)
                    || stream.window.len() > WINDOW_MAX_SAMPLES
                {
                    stream.window.pop_front();
                }
            }
        }
        stream.last_update = now;

        if let Some(tokens) = tokens {
            self.tokens_total += tokens;
            for (total, (_, flops)) in self
                .model_flops_total
                .iter_mut()
                .zip(self.spec.accounting.formulas_iter())
            {
                *total += tokens * flops.training;
            }
        }
        if observation.has_throughput() && !duplicate {
            self.count_steps(stream_name, observation.step, previous_step, new_steps);
            if observation.step.is_some() {
                self.last_interval_steps = Some(new_steps.max(1));
            }
        }
        if let Some(step) = observation.step {
            if self.counted_step.is_none_or(|counted| step > counted) {
                self.counted_step = Some(step);
            }
        }
        if let Some(seconds) = observation.step_seconds.filter(|_| !duplicate) {
            if self.scope != ThroughputScope::PerFile
                || self.step_stream.as_deref() == Some(stream_name)
            {
                self.step_durations.observe(seconds);
            }
        }
        if observation.step.is_some() && (!duplicate || self.step.is_none()) {
            self.step = observation
                .step
                .max(if restarted { None } else { self.step });
        }
        // Per file, every rank logs the same steps: one stream's records time them.
        let timing_stream = self.scope != ThroughputScope::PerFile
            || self.step_stream.as_deref() == Some(stream_name);
        if !duplicate && timing_stream {
            self.note_goodput(observation, tokens, restarted, now);
        }
        self.note_gauges(observation, now);
        observed
    }

    /// Adds a record that completed steps to the goodput, timed by the trainer's timestamp, or by
    /// its arrival when records arrive live. An elapsed clock is not used: it starts again with
    /// every restart, so the time across one would be lost.
    fn note_goodput(
        &mut self,
        observation: &Observation,
        tokens: Option<f64>,
        restarted: bool,
        now: f64,
    ) {
        let time_seconds = match observation.timestamp_seconds {
            Some(timestamp) => timestamp,
            None if self.live => {
                // A fresh run (nothing read from a backlog) starts at the exporter's first sight
                // of it live: the time before its first step is start-up.
                if self.untimed_backlog_records == 0 && !self.goodput.has_records() {
                    if let Some(since) = self.live_since.filter(|since| *since <= now) {
                        self.goodput.note_seen(since);
                    }
                }
                now
            }
            None => {
                self.untimed_backlog_records += 1;
                return;
            }
        };
        self.goodput.observe(&StepRecord {
            time_seconds,
            step: observation.step,
            step_seconds: observation.step_seconds,
            tokens,
            restarted,
        });
    }

    /// The gauges of a record without throughput: the latest step (a restart moves it back),
    /// loss, the trainer's own figures.
    fn note_progress(&mut self, observation: &Observation, now: f64) {
        // A line the trainer timestamped before its first step (start-up messages) starts the
        // run's clock for the start-up badput.
        if let Some(timestamp) = observation.timestamp_seconds {
            self.goodput.note_seen(timestamp);
        }
        if observation.step.is_some() {
            self.step = observation.step;
        }
        self.note_gauges(observation, now);
    }

    /// Loss, the trainer's own figures, the planned steps and the time of the update.
    fn note_gauges(&mut self, observation: &Observation, now: f64) {
        if observation.loss.is_some() {
            self.loss = observation.loss;
        }
        if observation.reported_mfu.is_some() {
            self.reported_mfu = observation.reported_mfu;
        }
        if observation.reported_flops_per_second_per_gpu.is_some() {
            self.reported_flops_per_second_per_gpu = observation.reported_flops_per_second_per_gpu;
        }
        if observation.total_steps.is_some() {
            self.total_steps = observation.total_steps;
        }
        self.last_update = Some(now);
    }

    /// Counts optimizer steps: `new_steps` when records carry a step counter (a line every N
    /// steps counts N, a rank's copy of a counted step none), else one per record; without step
    /// numbers and with per-file scope, every rank logs the same steps, so only one stream counts.
    fn count_steps(
        &mut self,
        stream_name: &str,
        step: Option<u64>,
        _previous: Option<u64>,
        new_steps: u64,
    ) {
        let counted_stream = self
            .step_stream
            .get_or_insert_with(|| stream_name.to_string());
        if step.is_some() {
            self.steps_total += new_steps as f64;
            return;
        }
        if self.scope == ThroughputScope::PerFile && counted_stream != stream_name {
            return;
        }
        self.steps_total += 1.0;
    }

    /// Smoothed tokens/s of the whole run (EMA), from streams that are not stale.
    pub fn tokens_per_second(&self, now: f64, stale_after: f64) -> Option<f64> {
        self.combine(now, stale_after, |stream| stream.ema_tokens_per_second)
    }

    /// Tokens/s over the last minute of the trainer's own time.
    pub fn window_tokens_per_second(&self, now: f64, stale_after: f64) -> Option<f64> {
        self.combine(now, stale_after, Stream::window_rate)
    }

    fn combine(
        &self,
        now: f64,
        stale_after: f64,
        value: impl Fn(&Stream) -> Option<f64>,
    ) -> Option<f64> {
        let live = self
            .streams
            .values()
            .filter(|s| now - s.last_update <= stale_after);
        match self.scope {
            ThroughputScope::PerFile => {
                let values: Vec<f64> = live.filter_map(value).collect();
                (!values.is_empty()).then(|| values.iter().sum())
            }
            // The whole job's rate: the latest stream's (a new log file after a restart).
            ThroughputScope::AsLogged | ThroughputScope::Global | ThroughputScope::PerGpu => live
                .filter(|s| value(s).is_some())
                .max_by(|a, b| a.last_update.total_cmp(&b.last_update))
                .and_then(value),
        }
    }
}

/// The MFU one token per second gives against the peak of `gpus` GPUs, by the larger of this
/// tool's two formulas (palm, detailed);
/// `None` without GPUs.
fn mfu_per_token_per_second(spec: &RunSpec, gpus: Option<u64>) -> Option<f64> {
    let per_gpu = spec.hardware.peaks().first().map(|(_, peak)| *peak)?;
    let peak = per_gpu * gpus? as f64;
    // This tool's own counts, not a framework's exported beside them (nanoGPT counts every
    // expert of an MoE model, which would make every record look implausible).
    let flops_per_token = spec.accounting.own_training_flops_per_token();
    (peak > 0.0).then(|| flops_per_token / peak)
}

fn positive_ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// Why a push could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("run {run:?} would exceed the limit of {max_runs} pushed runs; reuse a run name, wait for old runs to expire, or raise --push.max-runs")]
    TooManyRuns { run: String, max_runs: usize },
    #[error(
        "run {run:?} is fed by a tailed log; push under another run name (set \"run\" in the body)"
    )]
    TailedRun { run: String },
}

/// Limits and defaults of the state.
#[derive(Debug, Clone)]
pub struct StateOptions {
    pub stale_after_seconds: f64,
    pub push_expire_after_seconds: f64,
    pub push_max_runs: usize,
    /// What pushed runs are measured against.
    pub push_spec: Arc<RunSpec>,
}

/// All runs, by name.
#[derive(Debug)]
pub struct State {
    pub options: StateOptions,
    runs: BTreeMap<String, Run>,
}

impl State {
    pub fn new(options: StateOptions) -> State {
        State {
            options,
            runs: BTreeMap::new(),
        }
    }

    /// Declares a run fed by log files; it exists (with zero counters) from start-up.
    pub fn add_tail_run(
        &mut self,
        name: &str,
        scope: ThroughputScope,
        spec: Arc<RunSpec>,
        options: RunOptions,
    ) {
        let run = self
            .runs
            .entry(name.to_string())
            .or_insert_with(|| Run::new(name, Origin::Tail, scope, spec));
        run.options = options;
    }

    /// Applies a log record's observation to a configured run.
    pub fn observe_tail(
        &mut self,
        run: &str,
        stream: &str,
        observation: &Observation,
        now: f64,
        from_start: bool,
    ) -> Observed {
        match self.runs.get_mut(run) {
            Some(run) => run.observe(stream, observation, now, from_start),
            None => Observed::default(),
        }
    }

    /// Applies pushed observations, creating runs as needed. All or nothing: a batch that
    /// would exceed the run limit changes nothing.
    pub fn observe_push(&mut self, samples: &[PushSample], now: f64) -> Result<(), StateError> {
        self.expire(now);
        // A push must not blend into a run its log already measures.
        if let Some(sample) = samples.iter().find(|sample| {
            self.runs
                .get(&sample.run)
                .is_some_and(|r| r.origin == Origin::Tail)
        }) {
            return Err(StateError::TailedRun {
                run: sample.run.clone(),
            });
        }
        // Constant work per sample, and none past the first run over the limit: a push that
        // names thousands of new runs is refused as fast as one that names one too many.
        let room = self.options.push_max_runs.saturating_sub(
            self.runs
                .values()
                .filter(|r| r.origin == Origin::Push)
                .count(),
        );
        let mut new_runs: HashSet<&str> = HashSet::new();
        for PushSample { run: name, .. } in samples {
            if self.runs.contains_key(name) || !new_runs.insert(name) || new_runs.len() <= room {
                continue;
            }
            return Err(StateError::TooManyRuns {
                run: name.clone(),
                max_runs: self.options.push_max_runs,
            });
        }
        for sample in samples {
            let name = &sample.run;
            let spec = Arc::clone(&self.options.push_spec);
            let run = self
                .runs
                .entry(name.clone())
                .or_insert_with(|| Run::new(name, Origin::Push, ThroughputScope::Global, spec));
            // GPUs once named stay named: a later push may leave them out.
            if let Some(gpus) = sample.gpus {
                run.set_gpus(gpus);
            }
            run.ended_by_push = sample.finished;
            let mut observation = sample.observation;
            // A push of tokens/s alone is integrated over the time between pushes, by the
            // exporter's clock: a live push has no backlog to misread.
            if observation.tokens.is_none() && observation.timestamp_seconds.is_none() {
                observation.timestamp_seconds = Some(now);
            }
            run.observe("push", &observation, now, false);
        }
        Ok(())
    }

    /// Drops pushed runs that have had no push for `push_expire_after_seconds`.
    pub fn expire(&mut self, now: f64) {
        let expire_after = self.options.push_expire_after_seconds;
        self.runs.retain(|_, run| {
            run.origin == Origin::Tail
                || run
                    .last_update
                    .is_some_and(|last| now - last <= expire_after)
        });
    }

    pub fn runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.values()
    }

    /// Records what a tailed run's log patterns named at the tailer's last poll.
    pub fn note_source_files(&mut self, run: &str, files: &crate::ingest::tail::SourceFiles) {
        if let Some(run) = self.runs.get_mut(run) {
            if run.source_files.as_ref() != Some(files) {
                run.source_files = Some(files.clone());
            }
        }
    }

    /// The tailed runs none of whose log files can be read, with the first problem of each:
    /// the daemon is not ready while every source is so.
    pub fn unreadable_sources(&self) -> Vec<(&str, Option<&str>)> {
        self.runs
            .values()
            .filter_map(|run| {
                let files = run.source_files.as_ref()?;
                (files.following == 0).then_some((run.name.as_str(), files.problem.as_deref()))
            })
            .collect()
    }

    pub fn run(&self, name: &str) -> Option<&Run> {
        self.runs.get(name)
    }

    /// A tailed run's logs have been read to their end once, at `now`: records from now on
    /// arrive as the trainer writes them.
    pub fn note_live(&mut self, run: &str, now: f64) {
        if let Some(run) = self.runs.get_mut(run) {
            run.live = true;
            run.live_since.get_or_insert(now);
        }
    }
}

/// What the tests of the state and of its readers start from.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::accounting::flops::{AttentionCounting, FlopOptions, Recompute};
    use crate::accounting::mfu::resolve_hardware;

    /// GPT-2 at 1,024 tokens, full attention, on `gpus` A100 SXM in bf16.
    pub(crate) fn spec(gpus: u64) -> Arc<RunSpec> {
        let model = crate::model_config::load("gpt2").unwrap().model;
        let options = FlopOptions {
            seq_len: 1024,
            attention: AttentionCounting::Full,
            include_mtp: false,
            recompute: Recompute::None,
        };
        Arc::new(RunSpec {
            model_name: "gpt2".into(),
            accounting: Accounting::new(&model, options),
            hardware: resolve_hardware(Some("a100-sxm"), Dtype::Bf16, gpus, None).unwrap(),
        })
    }

    /// A state of [`spec`] runs (8 GPUs) with one tailed run named `run`, without warm-up.
    pub(crate) fn with_tail_run(run: &str, push_max_runs: usize) -> State {
        let spec = spec(8);
        let mut state = State::new(StateOptions {
            stale_after_seconds: 300.0,
            push_expire_after_seconds: 3600.0,
            push_max_runs,
            push_spec: Arc::clone(&spec),
        });
        let options = RunOptions {
            warmup_records: 0,
            steps_from: None,
        };
        state.add_tail_run(run, ThroughputScope::AsLogged, spec, options);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::testing::spec;
    use super::*;
    use goodput::BadputSource;

    fn state() -> State {
        State::new(StateOptions {
            stale_after_seconds: 300.0,
            push_expire_after_seconds: 3600.0,
            push_max_runs: 2,
            push_spec: spec(8),
        })
    }

    fn obs(f: impl FnOnce(&mut Observation)) -> Observation {
        let mut o = Observation::default();
        f(&mut o);
        o
    }

    /// A pushed sample that names no GPUs and does not end its run.
    fn push(run: &str, observation: Observation) -> PushSample {
        PushSample {
            run: run.to_string(),
            observation,
            gpus: None,
            finished: false,
        }
    }

    /// Feeds observations to a fresh run and returns it.
    fn check(scope: ThroughputScope, lines: &[(&str, Observation)]) -> Run {
        let mut run = Run::new("r", Origin::Tail, scope, spec(8));
        for (i, (stream, o)) in lines.iter().enumerate() {
            run.observe(stream, o, 1000.0 + i as f64, false);
        }
        run
    }

    #[test]
    fn a_push_over_the_run_limit_is_refused_whole_and_fast() {
        let mut state = state();
        let tokens = obs(|o| o.tokens = Some(10.0));
        state.observe_push(&[push("a", tokens)], 0.0).unwrap();
        // One run of room: the second new name is the one named, and nothing is applied.
        let many: Vec<PushSample> = (0..100_000)
            .map(|i| push(&format!("run-{i}"), tokens))
            .collect();
        let started = std::time::Instant::now();
        let refused = state.observe_push(&many, 1.0);
        let elapsed = started.elapsed();
        assert!(
            matches!(&refused, Err(StateError::TooManyRuns { run, max_runs: 2 }) if run == "run-1"),
            "{refused:?}"
        );
        assert!(state.run("run-0").is_none());
        assert_eq!(state.run("a").map(|r| r.tokens_total), Some(10.0));
        // Linear in the samples (each looked up once), not quadratic in the new names (about
        // 5·10⁹ comparisons for this push); the bound leaves room for a debug build
        // on a loaded machine.
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
        // Repeats of known and new names take no room twice.
        let repeats = [push("a", tokens), push("b", tokens), push("b", tokens)];
        state.observe_push(&repeats, 2.0).unwrap();
        assert_eq!(state.run("b").map(|r| r.tokens_total), Some(20.0));
    }

    #[test]
    fn goodput_of_an_untimed_log_comes_from_arrival_times_only_once_lines_arrive_live() {
        let step = |step: u64| {
            obs(|o| {
                o.step = Some(step);
                o.tokens = Some(100.0)
            })
        };
        let mut run = Run::new("r", Origin::Tail, ThroughputScope::Global, spec(8));
        // The start-up backlog: read in a burst, its arrival times mean nothing.
        for s in 1..=50 {
            run.observe("f", &step(s), 1000.0 + s as f64 * 0.001, true);
        }
        assert!(!run.goodput.has_records());
        assert_eq!(run.untimed_backlog_records, 50);
        // Live lines, every 10 s, then a 100 s pause.
        run.live = true;
        run.live_since = Some(1500.0);
        for s in 51..=60 {
            run.observe("f", &step(s), 2000.0 + (s - 51) as f64 * 10.0, false);
        }
        run.observe("f", &step(61), 2190.0, false);
        assert_eq!(run.untimed_backlog_records, 50);
        assert!((run.goodput.goodput_seconds() - 100.0).abs() < 1e-9);
        assert!((run.goodput.badput_seconds(BadputSource::Stall) - 90.0).abs() < 1e-9);
        assert_eq!(run.goodput.ideal_step_seconds(), Some(10.0));
        // After a backlog, the time before the first live line is not start-up.
        assert_eq!(run.goodput.badput_seconds(BadputSource::Startup), 0.0);
    }

    #[test]
    fn a_fresh_untimed_log_starts_up_from_the_first_sight_of_it_live() {
        let mut state = state();
        state.add_tail_run("r", ThroughputScope::Global, spec(8), RunOptions::default());
        // The log was empty when the exporter looked at t=1000; steps every 10 s from t=1100.
        state.note_live("r", 1000.0);
        for s in 1..=5 {
            let o = obs(|o| {
                o.step = Some(s);
                o.tokens = Some(100.0)
            });
            state.observe_tail("r", "f", &o, 1090.0 + 10.0 * s as f64, true);
        }
        let goodput = &state.run("r").unwrap().goodput;
        assert!((goodput.badput_seconds(BadputSource::Startup) - 90.0).abs() < 1e-9);
        assert!((goodput.goodput_seconds() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn goodput_follows_a_restart_the_state_detects() {
        let step = |step: u64, time: f64| {
            obs(|o| {
                o.step = Some(step);
                o.tokens = Some(100.0);
                o.timestamp_seconds = Some(time)
            })
        };
        let mut lines: Vec<(&str, Observation)> =
            (1..=30).map(|s| ("f", step(s, 10.0 * s as f64))).collect();
        // A new log file after a crash, resuming from step 20 a minute later.
        lines.extend((21..=40).map(|s| ("g", step(s, 350.0 + 10.0 * (s - 21) as f64))));
        let run = check(ThroughputScope::Global, &lines);
        assert_eq!(run.restarts_total, 1);
        let goodput = &run.goodput;
        // Steps 21..=30 redone.
        assert!((goodput.badput_seconds(BadputSource::WastedProgress) - 100.0).abs() < 1e-9);
        assert!((goodput.wasted_tokens() - 1000.0).abs() < 1e-9);
        assert!((goodput.badput_seconds(BadputSource::Recovery) - 40.0).abs() < 1e-9);
        assert!((goodput.goodput_seconds() - 390.0).abs() < 1e-9);
    }

    #[test]
    fn a_step_without_throughput_moves_the_gauges_and_counts_nothing() {
        let step_loss = |step: u64, loss: f64| {
            obs(|o| {
                o.step = Some(step);
                o.loss = Some(loss)
            })
        };
        let tokens = |step: u64| {
            obs(|o| {
                o.step = Some(step);
                o.tokens = Some(100.0)
            })
        };
        // A loss line printed before its step's throughput line does not make that a copy.
        let run = check(
            ThroughputScope::Global,
            &[
                ("f", tokens(1)),
                ("f", step_loss(2, 2.5)),
                ("f", tokens(2)),
                ("f", step_loss(3, 2.4)),
            ],
        );
        assert_eq!(run.tokens_total, 200.0);
        assert_eq!(run.steps_total, 2.0);
        assert_eq!(run.step, Some(3));
        assert_eq!(run.loss, Some(2.4));
        assert_eq!(run.restarts_total, 0);
        // Without any throughput: the latest step, also after a restart.
        let run = check(
            ThroughputScope::Global,
            &[("f", step_loss(500, 1.0)), ("f", step_loss(10, 3.0))],
        );
        assert_eq!(
            (run.step, run.tokens_total, run.steps_total),
            (Some(10), 0.0, 0.0)
        );
        assert!(run.last_update.is_some());
    }

    #[test]
    fn tokens_come_from_the_preferred_field() {
        let cases: &[(Observation, f64)] = &[
            (obs(|o| o.tokens = Some(100.0)), 100.0),
            (
                obs(|o| {
                    o.tokens = Some(100.0);
                    o.tokens_per_second = Some(5.0);
                    o.step_seconds = Some(1.0)
                }),
                100.0,
            ),
            (
                obs(|o| {
                    o.tokens_per_second = Some(50.0);
                    o.step_seconds = Some(2.0)
                }),
                100.0,
            ),
            (obs(|o| o.tokens_per_second = Some(50.0)), 0.0),
        ];
        for (observation, expected) in cases {
            let run = check(ThroughputScope::Global, &[("f", *observation)]);
            assert_eq!(run.tokens_total, *expected, "{observation:?}");
        }
    }

    #[test]
    fn cumulative_counts_and_timestamps_give_differences() {
        let run = check(
            ThroughputScope::Global,
            &[
                (
                    "f",
                    obs(|o| {
                        o.total_tokens = Some(1000.0);
                        o.timestamp_seconds = Some(10.0)
                    }),
                ),
                (
                    "f",
                    obs(|o| {
                        o.total_tokens = Some(1500.0);
                        o.timestamp_seconds = Some(12.0)
                    }),
                ),
                (
                    "f",
                    obs(|o| {
                        o.tokens_per_second = Some(300.0);
                        o.timestamp_seconds = Some(14.0)
                    }),
                ),
            ],
        );
        // 500 from the cumulative difference, 300 × 2 s by the trainer's timestamps.
        assert_eq!(run.tokens_total, 1100.0);
        assert_eq!(run.steps_total, 3.0);
        // Rates: 250 tokens/s from the difference, then 300 reported.
        let ema = run.tokens_per_second(1003.0, 300.0).unwrap();
        assert!((ema - (0.9 * 250.0 + 0.1 * 300.0)).abs() < 1e-9, "{ema}");
    }

    #[test]
    fn per_gpu_scope_multiplies_by_the_gpu_count() {
        let run = check(
            ThroughputScope::PerGpu,
            &[(
                "f",
                obs(|o| {
                    o.tokens_per_second = Some(1000.0);
                    o.step_seconds = Some(1.0)
                }),
            )],
        );
        assert_eq!(run.tokens_total, 8000.0);
        assert_eq!(run.tokens_per_second(1000.0, 300.0), Some(8000.0));
        let flops = run.spec.accounting.palm.training * 8000.0;
        assert_eq!(run.model_flops_total[0], flops);
    }

    #[test]
    fn per_file_scope_sums_files_and_counts_steps_once() {
        let line = |step| {
            obs(|o| {
                o.step = Some(step);
                o.tokens = Some(10.0);
                o.step_seconds = Some(1.0)
            })
        };
        let run = check(
            ThroughputScope::PerFile,
            &[
                ("rank0", line(1)),
                ("rank1", line(1)),
                ("rank0", line(2)),
                ("rank1", line(2)),
            ],
        );
        assert_eq!(run.tokens_total, 40.0);
        assert_eq!(run.steps_total, 2.0);
        assert_eq!(run.tokens_per_second(1003.0, 300.0), Some(20.0));
        assert_eq!(run.step_durations.count, 2);
    }

    #[test]
    fn step_going_backwards_is_one_restart_even_across_files() {
        let line = |step| {
            obs(|o| {
                o.step = Some(step);
                o.tokens = Some(10.0)
            })
        };
        let run = check(
            ThroughputScope::PerFile,
            &[
                ("a", line(5)),
                ("b", line(5)),
                ("a", line(1)),
                ("b", line(1)),
                ("a", line(2)),
            ],
        );
        assert_eq!(run.restarts_total, 1);
        assert_eq!(run.tokens_total, 50.0);
        assert_eq!(run.step, Some(2));
    }

    #[test]
    fn cumulative_count_after_restart_rebaselines() {
        let line = |step, total| {
            obs(|o| {
                o.step = Some(step);
                o.total_tokens = Some(total)
            })
        };
        let run = check(
            ThroughputScope::Global,
            &[
                ("f", line(10, 1000.0)),
                ("f", line(11, 1100.0)),
                ("f", line(1, 50.0)),
                ("f", line(2, 150.0)),
            ],
        );
        assert_eq!(run.tokens_total, 200.0);
        assert_eq!(run.restarts_total, 1);
    }

    #[test]
    fn a_backlog_read_at_once_is_not_a_burst() {
        // Ten steps of 1000 tokens, one second apart by the trainer's clock, all read in
        // the same instant: the rate is the trainer's 1000 tokens/s.
        let mut run = Run::new("r", Origin::Tail, ThroughputScope::Global, spec(8));
        for i in 0..10 {
            let o = obs(|o| {
                o.tokens = Some(1000.0);
                o.timestamp_seconds = Some(100.0 + i as f64)
            });
            run.observe("f", &o, 5000.0, false);
        }
        assert_eq!(run.tokens_per_second(5000.0, 300.0), Some(1000.0));
        assert_eq!(run.window_tokens_per_second(5000.0, 300.0), Some(1000.0));
    }

    #[test]
    fn staleness_hides_rates_but_keeps_counters() {
        let run = check(
            ThroughputScope::Global,
            &[(
                "f",
                obs(|o| {
                    o.tokens_per_second = Some(10.0);
                    o.step_seconds = Some(1.0)
                }),
            )],
        );
        assert!(!run.is_stale(1100.0, 300.0));
        assert!(run.is_stale(1301.0, 300.0));
        assert_eq!(run.tokens_per_second(1301.0, 300.0), None);
        assert_eq!(run.tokens_total, 10.0);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = StepHistogram::default();
        for s in [0.04, 0.3, 0.3, 700.0] {
            h.observe(s);
        }
        let cumulative: Vec<_> = h.cumulative().collect();
        assert_eq!(cumulative.first(), Some(&(0.05, 1)));
        assert_eq!(cumulative.iter().find(|(b, _)| *b == 0.5), Some(&(0.5, 3)));
        assert_eq!(cumulative.last(), Some(&(600.0, 3)));
        assert_eq!(h.count, 4);
    }

    #[test]
    fn pushed_runs_are_limited_and_expire() {
        let mut state = state();
        let sample = |run: &str| {
            push(
                run,
                obs(|o| {
                    o.tokens = Some(5.0);
                    o.step_seconds = Some(1.0)
                }),
            )
        };
        state
            .observe_push(&[sample("a"), sample("b")], 0.0)
            .unwrap();
        let error = state.observe_push(&[sample("c")], 1.0).unwrap_err();
        assert!(error.to_string().contains("--push.max-runs"), "{error}");
        // Existing runs still take pushes.
        state.observe_push(&[sample("a")], 2.0).unwrap();
        assert_eq!(state.run("a").unwrap().tokens_total, 10.0);
        // After an hour without pushes, b expires and c fits.
        state.observe_push(&[sample("a")], 3000.0).unwrap();
        state.observe_push(&[sample("c")], 3700.0).unwrap();
        assert!(state.run("b").is_none());
        assert!(state.run("c").is_some());
    }

    #[test]
    fn pushes_into_a_tailed_run_are_refused() {
        let mut state = state();
        state.add_tail_run(
            "default",
            ThroughputScope::Global,
            spec(8),
            RunOptions::default(),
        );
        let sample = push("default", obs(|o| o.tokens_per_second = Some(100.0)));
        let error = state.observe_push(&[sample], 1.0).unwrap_err();
        assert!(error.to_string().contains("tailed log"), "{error}");
        assert_eq!(state.run("default").unwrap().tokens_total, 0.0);
    }

    #[test]
    fn a_pause_is_not_integrated_into_tokens() {
        let line = |ts: f64| {
            obs(|o| {
                o.tokens_per_second = Some(100.0);
                o.timestamp_seconds = Some(ts)
            })
        };
        // Lines every 10 s, then a day's pause, then lines every 10 s again.
        let times = [0.0, 10.0, 20.0, 86_420.0, 86_430.0, 86_440.0];
        let lines: Vec<_> = times.iter().map(|t| ("f", line(*t))).collect();
        let run = check(ThroughputScope::Global, &lines);
        assert_eq!(run.tokens_total, 4.0 * 10.0 * 100.0);
        // A trainer that always logs rarely is believed from its second interval on.
        let rare: Vec<_> = [0.0, 1200.0, 2400.0, 3600.0]
            .iter()
            .map(|t| ("f", line(*t)))
            .collect();
        assert_eq!(
            check(ThroughputScope::Global, &rare).tokens_total,
            2.0 * 1200.0 * 100.0
        );
    }

    #[test]
    fn absurd_rates_do_not_poison_the_average() {
        let run = check(
            ThroughputScope::Global,
            &[
                (
                    "f",
                    obs(|o| {
                        o.tokens = Some(1e6);
                        o.step_seconds = Some(1e-300)
                    }),
                ),
                (
                    "f",
                    obs(|o| {
                        o.tokens = Some(1000.0);
                        o.step_seconds = Some(1.0)
                    }),
                ),
            ],
        );
        assert_eq!(run.tokens_per_second(1002.0, 300.0), Some(1000.0));
        assert!(run.tokens_total.is_finite());
    }

    #[test]
    fn a_new_log_starting_below_the_run_step_is_a_restart() {
        let line = |step| {
            obs(|o| {
                o.step = Some(step);
                o.tokens = Some(10.0)
            })
        };
        let run = check(
            ThroughputScope::Global,
            &[("a", line(100)), ("b", line(51)), ("b", line(52))],
        );
        assert_eq!(run.restarts_total, 1);
        // Ranks of a per-file run log the same steps out of step with each other: no restart.
        let ranks = check(
            ThroughputScope::PerFile,
            &[("a", line(100)), ("b", line(99)), ("a", line(101))],
        );
        assert_eq!(ranks.restarts_total, 0);
    }

    #[test]
    fn push_rate_alone_integrates_over_exporter_time() {
        let mut state = state();
        let sample = push("p", obs(|o| o.tokens_per_second = Some(100.0)));
        state
            .observe_push(std::slice::from_ref(&sample), 10.0)
            .unwrap();
        state
            .observe_push(std::slice::from_ref(&sample), 12.0)
            .unwrap();
        assert_eq!(state.run("p").unwrap().tokens_total, 200.0);
    }

    /// Issue 13, bug 4: one out-of-order timestamp is not integrated as elapsed time.
    #[test]
    fn bug4_out_of_order_timestamp_adds_no_time() {
        let line = |ts: f64| {
            obs(|o| {
                o.tokens_per_second = Some(1000.0);
                o.timestamp_seconds = Some(ts)
            })
        };
        let lines: Vec<(&str, Observation)> = [100.0, 101.0, 102.0, 60.0, 103.0]
            .into_iter()
            .map(|ts| ("f", line(ts)))
            .collect();
        let run = check(ThroughputScope::Global, &lines);
        assert_eq!(run.tokens_total, 3000.0);
        assert_eq!(run.restarts_total, 0);
    }

    /// Issue 13, bug 6: a trainer clock that never advances cannot grow the rate window.
    #[test]
    fn bug6_constant_clock_keeps_the_window_bounded() {
        let mut run = Run::new("r", Origin::Tail, ThroughputScope::Global, spec(8));
        for i in 0..20_000 {
            let o = obs(|o| {
                o.tokens = Some(10.0);
                o.timestamp_seconds = Some(1000.0)
            });
            run.observe("f", &o, 1000.0 + i as f64, false);
        }
        assert_eq!(run.tokens_total, 200_000.0);
        let window = run.streams.get("f").map_or(0, |s| s.window.len());
        assert!(window <= WINDOW_MAX_SAMPLES, "{window}");
    }

    /// Issue 13, bug 8: with per-file scope, steps count from every file, not only the first.
    #[test]
    fn bug8_per_file_steps_count_across_files() {
        let line = |step| {
            obs(|o| {
                o.step = Some(step);
                o.tokens = Some(10.0)
            })
        };
        let mut lines = Vec::new();
        for step in 1..=10 {
            lines.push(("rank0-attempt1.jsonl", line(step)));
        }
        for step in 11..=20 {
            lines.push(("rank0-attempt2.jsonl", line(step)));
        }
        let run = check(ThroughputScope::PerFile, &lines);
        assert_eq!(run.steps_total, 20.0);
        assert_eq!(run.tokens_total, 200.0);
    }

    /// Two ranks in one file one step apart are neither restarts nor double counts.
    #[test]
    fn ranks_one_step_apart_are_not_restarts() {
        let line = |step, rank| {
            obs(|o| {
                o.step = Some(step);
                o.tokens_per_step = Some(100.0);
                o.rank = Some(rank)
            })
        };
        let mut lines = Vec::new();
        for step in 1..=100 {
            lines.push(("f#rank0", line(step, 0)));
            lines.push(("f#rank1", line(step - 1, 1)));
        }
        let run = check(ThroughputScope::AsLogged, &lines);
        assert_eq!(run.restarts_total, 0);
        assert_eq!(run.steps_total, 100.0);
        assert_eq!(run.tokens_total, 100.0 * 100.0);
    }

    /// A record every K steps counts K steps and K steps' tokens; the first record of a fresh
    /// log counts its own interval when the format knows where steps start; a rank's copy of a
    /// step adds nothing.
    #[test]
    fn log_intervals_and_copies() {
        let mut run = Run::new("r", Origin::Tail, ThroughputScope::AsLogged, spec(8));
        run.options = RunOptions {
            warmup_records: 1,
            steps_from: Some(1),
        };
        let line = |step| {
            obs(|o| {
                o.step = Some(step);
                o.samples_per_step = Some(4.0);
                o.step_seconds = Some(2.0)
            })
        };
        for (i, step) in [10, 20, 20, 30].into_iter().enumerate() {
            run.observe("f", &line(step), 1000.0 + i as f64, true);
        }
        // gpt2 at seq len 1024: 4 sequences are 4096 tokens per step.
        assert_eq!(run.steps_total, 30.0);
        assert_eq!(run.tokens_total, 30.0 * 4096.0);
        // The first record is the warm-up; the rate is 4096 / 2 s.
        assert_eq!(run.tokens_per_second(1003.0, 300.0), Some(2048.0));
    }

    /// Per-device fields are multiplied by the GPUs, global ones are not: never twice.
    #[test]
    fn per_device_rate_beside_a_global_count() {
        let mut o = obs(|o| {
            o.step = Some(5);
            o.tokens_per_second = Some(1000.0);
            o.total_tokens = Some(10_000.0)
        });
        o.per_device.tokens_per_second = true;
        let mut second = o;
        second.step = Some(6);
        second.total_tokens = Some(18_000.0);
        let mut run = Run::new("r", Origin::Tail, ThroughputScope::AsLogged, spec(8));
        run.observe("f", &o, 1000.0, false);
        run.observe("f", &second, 1001.0, false);
        assert_eq!(run.tokens_total, 8000.0);
        assert_eq!(run.tokens_per_second(1001.0, 300.0), Some(8000.0));
        // The user's scope wins: global means no multiplication at all.
        let mut run = Run::new("r", Origin::Tail, ThroughputScope::Global, spec(8));
        run.observe("f", &o, 1000.0, false);
        run.observe("f", &second, 1001.0, false);
        assert_eq!(run.tokens_per_second(1001.0, 300.0), Some(1000.0));
    }

    /// A rate beyond the peak stays out of the gauges and says so.
    #[test]
    fn implausible_rates_are_reported_not_averaged() {
        let mut run = Run::new("r", Origin::Tail, ThroughputScope::Global, spec(1));
        // gpt2 on one A100: 312 TF / ~0.87 GFLOP per token is about 360k tokens/s at MFU 1.
        let fast = obs(|o| {
            o.tokens_per_second = Some(5e6);
            o.tokens = Some(5e6)
        });
        let observed = run.observe("f", &fast, 1000.0, false);
        assert!(observed.implausible_mfu.is_some_and(|mfu| mfu > 1.0));
        assert_eq!(run.tokens_per_second(1000.0, 300.0), None);
        assert_eq!(run.tokens_total, 5e6);
    }

    /// Peak capacity belongs to GPUs in use: a tailed run has its peak once it has had data; a
    /// pushed run only once a push named its GPUs, and keeps them when later pushes leave them
    /// out.
    #[test]
    fn peaks_belong_to_runs_that_use_gpus() {
        let a100_bf16 = 312e12;
        let peak = |run: &Run| run.peaks().first().map(|(_, peak)| *peak);
        let mut tailed = Run::new("t", Origin::Tail, ThroughputScope::Global, spec(8));
        assert_eq!((tailed.gpus, peak(&tailed)), (Some(8), None));
        tailed.observe("f", &obs(|o| o.tokens_per_second = Some(1.0)), 1.0, false);
        assert_eq!(peak(&tailed), Some(8.0 * a100_bf16));

        let mut state = state();
        let rate = obs(|o| o.tokens_per_second = Some(1000.0));
        state
            .observe_push(&[push("smoke-test", rate)], 10.0)
            .unwrap();
        let smoke = state.run("smoke-test").unwrap();
        assert_eq!((smoke.gpus, peak(smoke)), (None, None));
        // Its counters still count, but an implausibility check needs a peak.
        let mut named = push("node", rate);
        named.gpus = Some(2);
        state.observe_push(&[named], 10.0).unwrap();
        state.observe_push(&[push("node", rate)], 11.0).unwrap();
        let node = state.run("node").unwrap();
        assert_eq!((node.gpus, peak(node)), (Some(2), Some(2.0 * a100_bf16)));
        assert!(node.tokens_total > 0.0);
    }

    /// A run ends with a push that says `final` or a log line at the planned steps; a restart
    /// (a step below them) or a push without `final` resumes it.
    #[test]
    fn finished_runs() {
        let line = |step, total| {
            obs(|o| {
                o.step = Some(step);
                o.total_steps = total;
                o.tokens = Some(10.0)
            })
        };
        let cases: &[(&[Observation], bool)] = &[
            (&[line(99, Some(100))], false),
            (&[line(99, Some(100)), line(100, Some(100))], true),
            (&[line(100, None)], false),
            (&[line(100, Some(100)), line(1, Some(100))], false),
            (&[line(5, Some(0))], false),
        ];
        for (lines, finished) in cases {
            let mut run = Run::new("r", Origin::Tail, ThroughputScope::Global, spec(8));
            for (i, o) in lines.iter().enumerate() {
                run.observe("f", o, 1000.0 + i as f64, false);
            }
            assert_eq!(run.is_finished(), *finished, "{lines:?}");
        }
        let mut state = state();
        let rate = obs(|o| o.tokens_per_second = Some(100.0));
        let mut last = push("p", rate);
        last.finished = true;
        state.observe_push(&[push("p", rate)], 1.0).unwrap();
        assert!(!state.run("p").unwrap().is_finished());
        state.observe_push(&[last], 2.0).unwrap();
        assert!(state.run("p").unwrap().is_finished());
        state.observe_push(&[push("p", rate)], 3.0).unwrap();
        assert!(!state.run("p").unwrap().is_finished());
    }
}
