//! What a scrape needs of the state, taken under the state lock and rendered after it is released.
//!
//! A [`Snapshot`] holds numbers and label strings per run, nothing that grows with a run's history
//! (no smoothing windows, no goodput samples): taking one is a copy of a few hundred bytes per run,
//! so the tailer waits for that copy and never for the rendering of the exposition. `now` is
//! passed in; nothing here reads a clock.

use std::sync::Arc;

use super::goodput::BadputSource;
use super::labels::RunLabels;
use super::{Run, RunSpec, State, StepHistogram};
use crate::accounting::gpus::Dtype;

/// Every run, in the state's order, as the exposition shows it at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub runs: Vec<RunSnapshot>,
}

/// One run's numbers at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSnapshot {
    /// The run's name and its labels as the exposition spells them (shared, never copied).
    pub labels: Arc<RunLabels>,
    /// The model, GPUs and formulas (shared, never copied).
    pub spec: Arc<RunSpec>,
    pub tokens_total: f64,
    pub steps_total: f64,
    /// Model FLOPs so far, in the order of `spec.accounting.formulas()`.
    pub model_flops_total: Vec<f64>,
    pub restarts_total: u64,
    /// Present from the run's first timed step record on.
    pub goodput: Option<GoodputSnapshot>,
    pub ideal_step_seconds: Option<f64>,
    pub step_time_deviation_seconds: Option<f64>,
    pub steps_planned: Option<u64>,
    /// Rates and the trainer's own figures; `None` while the run is stale.
    pub live: Option<LiveSnapshot>,
    /// GPUs the run is credited with: `None` until it has data, and for a push that named none.
    pub credited_gpus: Option<u64>,
    pub step_durations: StepHistogram,
    pub finished: bool,
    pub step: Option<u64>,
    pub loss: Option<f64>,
    pub last_update: Option<f64>,
    /// A tailed run's files by state (following, missing, unreadable, not_a_regular_file).
    pub source_files: Option<[(&'static str, u64); 4]>,
}

/// Goodput and badput of a run so far.
#[derive(Debug, Clone, PartialEq)]
pub struct GoodputSnapshot {
    pub goodput_seconds: f64,
    pub badput_seconds: [(BadputSource, f64); BadputSource::ALL.len()],
    pub wasted_tokens: f64,
}

/// What only a run that is not stale shows.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSnapshot {
    /// Smoothed tokens/s of the whole run; `None` before a rate is known.
    pub tokens_per_second: Option<f64>,
    pub reported_mfu: Option<f64>,
    pub reported_flops_per_second_per_gpu: Option<f64>,
}

impl RunSnapshot {
    pub fn name(&self) -> &str {
        &self.labels.name
    }

    /// The peaks per GPU, by precision label, when the run is credited with GPUs: the run's MFU
    /// divides by `credited_gpus` of these.
    pub fn peaks_per_gpu(&self) -> Vec<(Dtype, f64)> {
        match self.credited_gpus {
            Some(_) => self.spec.hardware.peaks(),
            None => Vec::new(),
        }
    }
}

/// What the landing page at `/` shows of every run, in the state's order: taken under the state
/// lock like [`Snapshot`], so that the page is written after the lock is released.
#[derive(Debug, Clone, PartialEq)]
pub struct LandingSnapshot {
    pub runs: Vec<LandingRunSnapshot>,
}

/// One run's row of the landing page.
#[derive(Debug, Clone, PartialEq)]
pub struct LandingRunSnapshot {
    pub labels: Arc<RunLabels>,
    pub spec: Arc<RunSpec>,
    pub last_update: Option<f64>,
    /// No data yet, or none for `stale_after_seconds`.
    pub stale: bool,
    /// The moving average of tokens/s, and the one-minute window's rate.
    pub tokens_per_second: Option<f64>,
    pub window_tokens_per_second: Option<f64>,
    /// GPUs the run is credited with: `None` until it has data, and for a push that named none.
    pub credited_gpus: Option<u64>,
    pub reported_mfu: Option<f64>,
    pub step: Option<u64>,
    pub loss: Option<f64>,
    /// For a tailed run none of whose files is being read, the first problem its paths have.
    pub unreadable: Option<String>,
}

impl LandingRunSnapshot {
    pub fn name(&self) -> &str {
        &self.labels.name
    }
}

impl State {
    /// What the landing page at `now` shows. Expire first (`State::expire`), as for a scrape.
    pub fn landing_snapshot(&self, now: f64) -> LandingSnapshot {
        let stale_after = self.options.stale_after_seconds;
        LandingSnapshot {
            runs: self
                .runs()
                .map(|run| LandingRunSnapshot {
                    labels: Arc::clone(&run.labels),
                    spec: Arc::clone(&run.spec),
                    last_update: run.last_update,
                    stale: run.is_stale(now, stale_after),
                    tokens_per_second: run.tokens_per_second(now, stale_after),
                    window_tokens_per_second: run.window_tokens_per_second(now, stale_after),
                    credited_gpus: run.last_update.and(run.gpus),
                    reported_mfu: run.reported_mfu,
                    step: run.step,
                    loss: run.loss,
                    unreadable: run
                        .source_files
                        .as_ref()
                        .filter(|files| files.following == 0)
                        .and_then(|files| files.problem.clone()),
                })
                .collect(),
        }
    }

    /// What a scrape at `now` shows. Expire first (`State::expire`) for expired pushes to go.
    pub fn snapshot(&self, now: f64) -> Snapshot {
        let stale_after = self.options.stale_after_seconds;
        Snapshot {
            runs: self
                .runs()
                .map(|run| RunSnapshot::of(run, now, stale_after))
                .collect(),
        }
    }
}

impl RunSnapshot {
    fn of(run: &Run, now: f64, stale_after: f64) -> RunSnapshot {
        let goodput = run.goodput.has_records().then(|| GoodputSnapshot {
            goodput_seconds: run.goodput.goodput_seconds(),
            badput_seconds: BadputSource::ALL.map(|s| (s, run.goodput.badput_seconds(s))),
            wasted_tokens: run.goodput.wasted_tokens(),
        });
        let live = (!run.is_stale(now, stale_after)).then(|| LiveSnapshot {
            tokens_per_second: run.tokens_per_second(now, stale_after),
            reported_mfu: run.reported_mfu,
            reported_flops_per_second_per_gpu: run.reported_flops_per_second_per_gpu,
        });
        RunSnapshot {
            labels: Arc::clone(&run.labels),
            spec: Arc::clone(&run.spec),
            tokens_total: run.tokens_total,
            steps_total: run.steps_total,
            model_flops_total: run.model_flops_total.clone(),
            restarts_total: run.restarts_total,
            goodput,
            ideal_step_seconds: run.goodput.ideal_step_seconds(),
            step_time_deviation_seconds: run.goodput.step_time_deviation_seconds(),
            steps_planned: run.total_steps,
            live,
            // Peak capacity belongs to GPUs in use: none before the run has data.
            credited_gpus: run.last_update.and(run.gpus),
            step_durations: run.step_durations.clone(),
            finished: run.is_finished(),
            step: run.step,
            loss: run.loss,
            last_update: run.last_update,
            source_files: run.source_files.as_ref().map(|files| files.by_state()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::observation::Observation;
    use crate::ingest::push::PushSample;

    fn state() -> State {
        crate::state::testing::with_tail_run("tailed", 4)
    }

    #[test]
    fn a_snapshot_shows_what_the_state_credits_at_now() {
        let mut state = state();
        let observation = Observation {
            tokens_per_second: Some(1000.0),
            step: Some(7),
            ..Observation::default()
        };
        let sample = PushSample {
            run: "pushed".into(),
            observation,
            gpus: Some(4),
            finished: false,
        };
        state.observe_push(&[sample], 100.0).unwrap();

        let snapshot = state.snapshot(100.0);
        let names: Vec<&str> = snapshot.runs.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            state.runs().map(|r| r.name.as_str()).collect::<Vec<_>>()
        );
        let tailed = snapshot.runs.iter().find(|r| r.name() == "tailed").unwrap();
        // No data yet: no GPUs credited, no rates, no goodput.
        assert_eq!(tailed.credited_gpus, None);
        assert!(tailed.peaks_per_gpu().is_empty());
        assert_eq!(tailed.live, None);
        assert_eq!(tailed.goodput, None);
        let pushed = snapshot.runs.iter().find(|r| r.name() == "pushed").unwrap();
        assert_eq!(pushed.credited_gpus, Some(4));
        assert_eq!(pushed.step, Some(7));
        let run = state.run("pushed").unwrap();
        let totals: Vec<(Dtype, f64)> = pushed
            .peaks_per_gpu()
            .into_iter()
            .map(|(dtype, per_gpu)| (dtype, per_gpu * 4.0))
            .collect();
        assert_eq!(totals, run.peaks());
        assert!(pushed.live.is_some());

        // Labels are escaped once, when the run is made, and shared with every snapshot.
        assert_eq!(pushed.labels.run, "{run=\"pushed\"}");
        assert!(Arc::ptr_eq(&pushed.labels, &run.labels));

        // Past `stale_after`, the rates go and the counters stay.
        let later = state.snapshot(100.0 + 301.0);
        let pushed = later.runs.iter().find(|r| r.name() == "pushed").unwrap();
        assert_eq!(pushed.live, None);
        assert_eq!(pushed.credited_gpus, Some(4));
    }

    #[test]
    fn a_landing_snapshot_holds_each_row_of_the_page() {
        let mut state = state();
        let unreadable = crate::ingest::tail::SourceFiles {
            unreadable: 1,
            problem: Some("/logs/train.log: permission denied".into()),
            ..Default::default()
        };
        state.note_source_files("tailed", &unreadable);
        let sample = PushSample {
            run: "pushed".into(),
            observation: Observation {
                tokens_per_second: Some(1000.0),
                step: Some(7),
                loss: Some(2.5),
                reported_mfu: Some(0.4),
                ..Observation::default()
            },
            gpus: Some(4),
            finished: false,
        };
        state.observe_push(&[sample], 100.0).unwrap();

        let landing = state.landing_snapshot(100.0);
        let names: Vec<&str> = landing.runs.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["pushed", "tailed"]);
        let tailed = landing.runs.iter().find(|r| r.name() == "tailed").unwrap();
        assert!(tailed.stale);
        assert_eq!(tailed.last_update, None);
        assert_eq!(tailed.credited_gpus, None);
        assert_eq!(
            tailed.unreadable.as_deref(),
            Some("/logs/train.log: permission denied")
        );
        let pushed = landing.runs.iter().find(|r| r.name() == "pushed").unwrap();
        assert!(!pushed.stale);
        assert_eq!(pushed.last_update, Some(100.0));
        assert_eq!(pushed.credited_gpus, Some(4));
        assert_eq!(pushed.tokens_per_second, Some(1000.0));
        assert_eq!(
            (pushed.step, pushed.loss, pushed.reported_mfu),
            (Some(7), Some(2.5), Some(0.4))
        );
        assert_eq!(pushed.unreadable, None);

        // A followed file clears the problem; past `stale_after` the run is stale.
        let following = crate::ingest::tail::SourceFiles {
            following: 1,
            ..unreadable
        };
        state.note_source_files("tailed", &following);
        let later = state.landing_snapshot(100.0 + 301.0);
        let tailed = later.runs.iter().find(|r| r.name() == "tailed").unwrap();
        assert_eq!(tailed.unreadable, None);
        let pushed = later.runs.iter().find(|r| r.name() == "pushed").unwrap();
        assert!(pushed.stale);
        assert_eq!(pushed.tokens_per_second, None);
    }
}
