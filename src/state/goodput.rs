//! Goodput and badput of one run from the trainer's own step numbers and timestamps: where the
//! wall-clock time between the run's first sight and its latest record went.
//!
//! The time between two records is split into the ideal time of the steps the second record
//! adds (goodput, or `wasted_progress` for steps redone after a restart) and the rest:
//! `startup` before and at the first step, `recovery` across a restart, `stall` for an interval
//! longer than [`STALL_FACTOR`] ideal steps per step, `slow_steps` otherwise, and `other` for time
//! in which the step did not advance. Every part is a sum that only grows, so each is a counter.
//!
//! The ideal step time follows `ml-goodput-measurement`'s `compute_ideal_step_time`
//! (`goodput_utils.py`): step times under 1 s are dropped, then those above median + 3·MAD, and
//! the rest are averaged. The step-time deviation follows its
//! `compute_step_deviation_from_baseline` (cumulative mode): the absolute deviations from the
//! ideal, p90 of the last [`RECENT_STEPS`] minus the median of the [`BASELINE_STEPS`] before.
//! Both run over a window of fixed size ([`STEP_TIME_WINDOW`]) rather than the whole run.
//!
//! Where this differs from the reference on purpose: the reference counts a kept step's whole
//! time as productive, so its goodput is this module's goodput plus `slow_steps` plus `stall`;
//! it counts the first step's extra time after a restart as program start-up, which is
//! `recovery` here; and it books lost progress when the restart happens, while a counter cannot
//! go back, so here the redone steps are booked as `wasted_progress` while they are redone (the
//! same total once the run has passed the step it had reached).
//!
//! Nothing here reads a clock: every time is the trainer's (or, for a log without timestamps
//! read live, the exporter's arrival time, which the caller decides to pass).

use std::collections::VecDeque;

/// An interval longer than this many ideal steps for each step it covers is a stall
/// (a checkpoint save, a data stall, a hang) rather than slow steps.
pub const STALL_FACTOR: f64 = 3.0;
/// Steps in the recent window of the step-time deviation.
pub const RECENT_STEPS: usize = 100;
/// Steps in the baseline window of the step-time deviation.
pub const BASELINE_STEPS: usize = 1000;
/// Step-time samples kept: the recent and the baseline window.
pub const STEP_TIME_WINDOW: usize = RECENT_STEPS + BASELINE_STEPS;
/// Step times below this are dropped from the ideal, as the reference drops them.
pub const MIN_IDEAL_STEP_SECONDS: f64 = 1.0;
/// The ideal step time is recomputed after this many new samples (and after each of the first
/// ones), so that a long backlog does not sort the window for every record.
const IDEAL_REFRESH_SAMPLES: usize = 32;
/// Intervals held while no step time is known yet (a run's first record, a restart before the
/// second record); past this, the oldest is settled with the best estimate there is.
const MAX_PENDING: usize = 16;

/// Where badput time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadputSource {
    Startup,
    WastedProgress,
    Recovery,
    Stall,
    SlowSteps,
    Other,
}

impl BadputSource {
    pub const ALL: [BadputSource; 6] = [
        BadputSource::Startup,
        BadputSource::WastedProgress,
        BadputSource::Recovery,
        BadputSource::Stall,
        BadputSource::SlowSteps,
        BadputSource::Other,
    ];

    /// The `source` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            BadputSource::Startup => "startup",
            BadputSource::WastedProgress => "wasted_progress",
            BadputSource::Recovery => "recovery",
            BadputSource::Stall => "stall",
            BadputSource::SlowSteps => "slow_steps",
            BadputSource::Other => "other",
        }
    }

    fn index(self) -> usize {
        match self {
            BadputSource::Startup => 0,
            BadputSource::WastedProgress => 1,
            BadputSource::Recovery => 2,
            BadputSource::Stall => 3,
            BadputSource::SlowSteps => 4,
            BadputSource::Other => 5,
        }
    }
}

/// One record as the goodput sees it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepRecord {
    /// Trainer time of the record, seconds (the time the step it reports ended).
    pub time_seconds: f64,
    /// The trainer's step counter; a record without one counts one step.
    pub step: Option<u64>,
    /// The step duration the record reports, if any.
    pub step_seconds: Option<f64>,
    /// Tokens the record added, for the wasted tokens of redone steps.
    pub tokens: Option<f64>,
    /// The step counter went back: the trainer restarted from a checkpoint.
    pub restarted: bool,
}

/// What an interval between two records was.
#[derive(Debug, Clone, Copy, PartialEq)]
enum IntervalKind {
    /// From the run's first sight to its first step.
    Startup,
    /// From the last record before a restart to the first step after it.
    Recovery,
    /// Between two records of a running trainer.
    Steps,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    kind: IntervalKind,
    seconds: f64,
    steps: u64,
    redone_steps: u64,
    tokens: f64,
}

/// The goodput accounting of one run.
#[derive(Debug, Clone, Default)]
pub struct Goodput {
    goodput_seconds: f64,
    badput_seconds: [f64; 6],
    wasted_tokens: f64,
    /// The earliest time the run was seen at (its first timestamp).
    start_seconds: Option<f64>,
    last_time_seconds: Option<f64>,
    last_step: Option<u64>,
    /// The highest step the run has reached: steps up to it are redone after a restart.
    high_water_step: Option<u64>,
    step_seconds: VecDeque<f64>,
    ideal_seconds: Option<f64>,
    samples_since_ideal: usize,
    pending: VecDeque<Interval>,
}

impl Goodput {
    /// The run was seen at `time_seconds` (a record with a timestamp, with or without a step):
    /// start-up is counted from the earliest such time.
    pub fn note_seen(&mut self, time_seconds: f64) {
        if !time_seconds.is_finite() {
            return;
        }
        if self.last_time_seconds.is_none() {
            let start = self.start_seconds.get_or_insert(time_seconds);
            *start = start.min(time_seconds);
        }
    }

    /// Adds one record that completed steps.
    pub fn observe(&mut self, record: &StepRecord) {
        let time = record.time_seconds;
        if !time.is_finite() {
            return;
        }
        let Some(last_time) = self.last_time_seconds else {
            // The first record: from the run's first sight to it is start-up and its own steps.
            let start = self.start_seconds.unwrap_or(time).min(time);
            self.start_seconds = Some(start);
            self.last_time_seconds = Some(time);
            self.last_step = record.step;
            self.high_water_step = record.step;
            self.add_sample(record.step_seconds);
            self.add(Interval {
                kind: IntervalKind::Startup,
                seconds: time - start,
                steps: 1,
                redone_steps: 0,
                tokens: record.tokens.unwrap_or(0.0),
            });
            return;
        };
        // Time never runs backwards: an earlier record adds no interval.
        let seconds = (time - last_time).max(0.0);
        let (kind, steps, redone_steps) = match (record.step, self.last_step) {
            (Some(step), _) if record.restarted => {
                let redone = u64::from(self.high_water_step.is_some_and(|high| step <= high));
                (IntervalKind::Recovery, 1, redone)
            }
            (Some(step), Some(last)) => {
                let steps = step.saturating_sub(last);
                let redone = self
                    .high_water_step
                    .map_or(0, |high| step.min(high).saturating_sub(last));
                (IntervalKind::Steps, steps, redone.min(steps))
            }
            _ => (IntervalKind::Steps, 1, 0),
        };
        if kind == IntervalKind::Steps && steps > 0 {
            let sample = record
                .step_seconds
                .or_else(|| (seconds > 0.0).then(|| seconds / steps as f64));
            self.add_sample(sample);
        } else if kind == IntervalKind::Recovery {
            self.add_sample(record.step_seconds);
        }
        if time > last_time {
            self.last_time_seconds = Some(time);
        }
        if record.step.is_some() && (record.restarted || record.step >= self.last_step) {
            self.last_step = record.step;
        }
        if let Some(step) = record.step {
            self.high_water_step = Some(self.high_water_step.map_or(step, |high| high.max(step)));
        }
        self.add(Interval {
            kind,
            seconds,
            steps,
            redone_steps,
            tokens: record.tokens.unwrap_or(0.0),
        });
    }

    fn add_sample(&mut self, seconds: Option<f64>) {
        let Some(seconds) = seconds.filter(|s| s.is_finite() && *s > 0.0) else {
            return;
        };
        if self.step_seconds.len() >= STEP_TIME_WINDOW {
            self.step_seconds.pop_front();
        }
        self.step_seconds.push_back(seconds);
        self.samples_since_ideal += 1;
        if self.ideal_seconds.is_none()
            || self.samples_since_ideal >= IDEAL_REFRESH_SAMPLES
            || self.step_seconds.len() <= IDEAL_REFRESH_SAMPLES
        {
            self.ideal_seconds = ideal_step_seconds(self.step_seconds.iter().copied());
            self.samples_since_ideal = 0;
        }
        if let Some(ideal) = self.ideal_seconds {
            while let Some(interval) = self.pending.pop_front() {
                self.settle(interval, ideal);
            }
        }
    }

    fn add(&mut self, interval: Interval) {
        match self.ideal_seconds {
            Some(ideal) => self.settle(interval, ideal),
            None => {
                if self.pending.len() >= MAX_PENDING {
                    if let Some(oldest) = self.pending.pop_front() {
                        // No step time yet after many records: the interval itself is the
                        // best estimate of its steps' time.
                        let estimate = oldest.seconds / oldest.steps.max(1) as f64;
                        self.settle(oldest, estimate);
                    }
                }
                self.pending.push_back(interval);
            }
        }
    }

    fn settle(&mut self, interval: Interval, ideal_seconds: f64) {
        let Interval {
            kind,
            seconds,
            steps,
            redone_steps,
            tokens,
        } = interval;
        if steps == 0 {
            self.badput_seconds[BadputSource::Other.index()] += seconds;
            return;
        }
        let ideal_time = steps as f64 * ideal_seconds;
        let productive = seconds.min(ideal_time);
        let excess = seconds - productive;
        let redone_share = redone_steps as f64 / steps as f64;
        let wasted = productive * redone_share;
        self.goodput_seconds += productive - wasted;
        self.badput_seconds[BadputSource::WastedProgress.index()] += wasted;
        self.wasted_tokens += tokens * redone_share;
        match kind {
            IntervalKind::Startup => self.badput_seconds[BadputSource::Startup.index()] += excess,
            IntervalKind::Recovery => self.badput_seconds[BadputSource::Recovery.index()] += excess,
            IntervalKind::Steps => {
                // A redone step's slowness is part of the redone time.
                let redone_excess = excess * redone_share;
                self.badput_seconds[BadputSource::WastedProgress.index()] += redone_excess;
                let source = if seconds > STALL_FACTOR * ideal_time {
                    BadputSource::Stall
                } else {
                    BadputSource::SlowSteps
                };
                self.badput_seconds[source.index()] += excess - redone_excess;
            }
        }
    }

    /// Seconds of kept steps at the ideal step time.
    pub fn goodput_seconds(&self) -> f64 {
        self.goodput_seconds
    }

    /// Seconds of badput from `source`.
    pub fn badput_seconds(&self, source: BadputSource) -> f64 {
        self.badput_seconds
            .get(source.index())
            .copied()
            .unwrap_or(0.0)
    }

    /// Tokens of redone steps.
    pub fn wasted_tokens(&self) -> f64 {
        self.wasted_tokens
    }

    /// Whether any record has been counted (the counters exist from the first one).
    pub fn has_records(&self) -> bool {
        self.last_time_seconds.is_some()
    }

    /// Seconds from the run's first sight to its latest record: goodput plus every badput once
    /// every interval is settled.
    pub fn elapsed_seconds(&self) -> f64 {
        match (self.start_seconds, self.last_time_seconds) {
            (Some(start), Some(last)) => last - start,
            _ => 0.0,
        }
    }

    /// The ideal step time over the window, by the reference's rule.
    pub fn ideal_step_seconds(&self) -> Option<f64> {
        ideal_step_seconds(self.step_seconds.iter().copied())
    }

    /// The step-time deviation over the window, by the reference's rule (cumulative mode).
    pub fn step_time_deviation_seconds(&self) -> Option<f64> {
        let ideal = self.ideal_step_seconds()?;
        let deviations: Vec<f64> = self
            .step_seconds
            .iter()
            .map(|seconds| (seconds - ideal).abs())
            .collect();
        step_time_deviation_seconds(&deviations)
    }
}

/// The reference's ideal step time: samples under [`MIN_IDEAL_STEP_SECONDS`] dropped, then those
/// above median + 3·MAD, the rest averaged. Where every sample is under a second (a small
/// model's steps), all of them are used: the reference would give none.
pub fn ideal_step_seconds(samples: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let mut kept: Vec<f64> = samples
        .clone()
        .filter(|seconds| *seconds >= MIN_IDEAL_STEP_SECONDS)
        .collect();
    if kept.is_empty() {
        kept = samples.collect();
    }
    let median = median(&mut kept)?;
    let mut absolute: Vec<f64> = kept
        .iter()
        .map(|seconds| (seconds - median).abs())
        .collect();
    let mad = median_of(&mut absolute)?;
    let normal: Vec<f64> = kept
        .into_iter()
        .filter(|seconds| *seconds <= median + 3.0 * mad)
        .collect();
    (!normal.is_empty()).then(|| normal.iter().sum::<f64>() / normal.len() as f64)
}

/// The reference's `compute_step_deviation_from_baseline` in cumulative mode, over deviations
/// oldest first.
pub fn step_time_deviation_seconds(deviations: &[f64]) -> Option<f64> {
    if deviations.is_empty() {
        return None;
    }
    if deviations.len() < RECENT_STEPS {
        return Some(deviations.iter().sum::<f64>() / deviations.len() as f64);
    }
    let recent_from = deviations.len() - RECENT_STEPS;
    let recent = deviations.get(recent_from..)?;
    let spike = percentile(recent, 90.0)?;
    if deviations.len() < STEP_TIME_WINDOW {
        return Some(spike);
    }
    let mut baseline = deviations
        .get(recent_from - BASELINE_STEPS..recent_from)?
        .to_vec();
    Some(spike - median_of(&mut baseline)?)
}

/// Linear-interpolated percentile, as the reference's `compute_percentile`.
fn percentile(values: &[f64], percentile: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = (sorted.len().checked_sub(1)? as f64) * percentile / 100.0;
    let lower = index.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    let (low, high) = (*sorted.get(lower)?, *sorted.get(upper)?);
    Some(low + (high - low) * (index - lower as f64))
}

fn median(values: &mut [f64]) -> Option<f64> {
    median_of(values)
}

/// The median as numpy takes it: the mean of the two middle values of an even count.
fn median_of(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        values.get(n / 2).copied()
    } else {
        Some((values.get(n / 2 - 1)? + values.get(n / 2)?) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time_seconds: f64, step: u64) -> StepRecord {
        StepRecord {
            time_seconds,
            step: Some(step),
            ..StepRecord::default()
        }
    }

    fn run(records: &[StepRecord]) -> Goodput {
        let mut goodput = Goodput::default();
        for record in records {
            goodput.observe(record);
        }
        goodput
    }

    fn total(goodput: &Goodput) -> f64 {
        goodput.goodput_seconds()
            + BadputSource::ALL
                .iter()
                .map(|s| goodput.badput_seconds(*s))
                .sum::<f64>()
    }

    #[test]
    fn steady_steps_are_all_goodput_after_the_first() {
        let mut goodput = Goodput::default();
        goodput.note_seen(0.0);
        // Start-up of 30 s, then the first step took 10 s, and 9 more of 10 s each.
        let records: Vec<StepRecord> = (1..=10)
            .map(|s| record(30.0 + 10.0 * s as f64, s))
            .collect();
        for r in &records {
            goodput.observe(r);
        }
        assert!((goodput.goodput_seconds() - 100.0).abs() < 1e-9);
        assert!((goodput.badput_seconds(BadputSource::Startup) - 30.0).abs() < 1e-9);
        assert!((total(&goodput) - 130.0).abs() < 1e-9);
        assert_eq!(goodput.ideal_step_seconds(), Some(10.0));
    }

    #[test]
    fn a_big_forward_jump_is_progress_not_a_restart() {
        let goodput = run(&[record(0.0, 1), record(10.0, 2), record(20.0, 5_000_000)]);
        assert_eq!(goodput.badput_seconds(BadputSource::WastedProgress), 0.0);
        assert_eq!(goodput.badput_seconds(BadputSource::Recovery), 0.0);
        assert!((goodput.goodput_seconds() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn redone_steps_are_wasted_and_recovery_spans_the_restart() {
        let mut records: Vec<StepRecord> = (1..=20).map(|s| record(10.0 * s as f64, s)).collect();
        // Crash after step 20 (t=200); back at t=300 from the checkpoint of step 10.
        let mut restart = record(300.0, 11);
        restart.restarted = true;
        restart.tokens = Some(4.0);
        records.push(restart);
        records.extend((12..=25).map(|s| StepRecord {
            tokens: Some(4.0),
            ..record(300.0 + 10.0 * (s - 11) as f64, s)
        }));
        let goodput = run(&records);
        // Steps 11..=20 redone: 10 steps at 10 s.
        assert!((goodput.badput_seconds(BadputSource::WastedProgress) - 100.0).abs() < 1e-9);
        assert!((goodput.wasted_tokens() - 40.0).abs() < 1e-9);
        assert!((goodput.badput_seconds(BadputSource::Recovery) - 90.0).abs() < 1e-9);
        assert!((total(&goodput) - 430.0).abs() < 1e-9);
    }

    #[test]
    fn a_long_gap_is_a_stall_and_a_short_one_slow_steps() {
        let mut records: Vec<StepRecord> = (1..=20).map(|s| record(10.0 * s as f64, s)).collect();
        records.push(record(200.0 + 15.0, 21));
        records.push(record(215.0 + 100.0, 22));
        let goodput = run(&records);
        assert!((goodput.badput_seconds(BadputSource::SlowSteps) - 5.0).abs() < 1e-9);
        assert!((goodput.badput_seconds(BadputSource::Stall) - 90.0).abs() < 1e-9);
    }

    #[test]
    fn a_record_that_adds_no_step_is_other_time() {
        let goodput = run(&[record(0.0, 1), record(10.0, 2), record(15.0, 2)]);
        assert!((goodput.badput_seconds(BadputSource::Other) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn the_window_is_bounded() {
        let records: Vec<StepRecord> = (1..=5000).map(|s| record(2.0 * s as f64, s)).collect();
        let goodput = run(&records);
        assert_eq!(goodput.step_seconds.len(), STEP_TIME_WINDOW);
        assert!(goodput.pending.is_empty());
    }

    #[test]
    fn deviation_follows_the_reference_windows() {
        // Fewer than 100: the mean.
        assert_eq!(step_time_deviation_seconds(&[1.0, 3.0]), Some(2.0));
        // 100 recent of 0..99 and nothing before: p90 of 0..99 is 89.1.
        let recent: Vec<f64> = (0..100).map(f64::from).collect();
        let spike = step_time_deviation_seconds(&recent).unwrap();
        assert!((spike - 89.1).abs() < 1e-9);
        // A baseline of 1,000 ones below it: minus its median.
        let mut all = vec![1.0; 1000];
        all.extend(recent);
        assert!((step_time_deviation_seconds(&all).unwrap() - 88.1).abs() < 1e-9);
    }

    #[test]
    fn ideal_drops_short_steps_and_outliers() {
        let samples = [0.5, 10.0, 10.0, 11.0, 9.0, 100.0];
        // Median of the five ≥ 1 s is 10, MAD 1: 100 is dropped, the mean of the rest is 10.
        assert_eq!(ideal_step_seconds(samples.iter().copied()), Some(10.0));
        let all_short = ideal_step_seconds([0.2, 0.4].iter().copied()).unwrap();
        assert!((all_short - 0.3).abs() < 1e-12);
        assert_eq!(ideal_step_seconds(std::iter::empty()), None);
    }
}
