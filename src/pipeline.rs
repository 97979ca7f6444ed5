//! The tail-to-state pipeline: followed files → lines → a log format's records → observations
//! → the run's state. `serve` starts it on a thread of its own; `logs` drives the same record
//! handling over one file.
//!
//! The thread has no async runtime: it blocks on a channel that file-system events, a one-second
//! tick and shutdown feed, polls every source, applies what it read to the state in batches under
//! the lock, flushes blocks of files that went quiet, and saves positions at most once a second.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::TailConfig;
use crate::ingest::format::records::{RecordOutcome, SourceRecords};
use crate::ingest::observation::{LineOutcome, Observation, ParseErrorReason};
use crate::ingest::tail::{
    Changes, Positions, Stopper, TailEvent, TailOptions, Tailer, Wake, Wakeups,
    DEFAULT_POLL_INTERVAL,
};
use crate::metrics::SelfMetrics;
use crate::state::{Observed, State};

/// What the pipeline writes to: the shared state and the exporter's own counters.
pub trait Sink {
    fn state(&self) -> MutexGuard<'_, State>;
    fn metrics(&self) -> &SelfMetrics;
}

/// The state behind a mutex whose poisoning (another thread panicked mid-update) does not stop
/// the counters being served: they are still the best data there is.
pub fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many observations are applied under one lock, so that a long catch-up neither holds the
/// lock for seconds nor buffers the whole backlog.
const BATCH: usize = 4096;
/// Least time between two saves of the positions file while data is flowing.
const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// One tailed run.
struct Source {
    config: TailConfig,
    tailer: Tailer,
    records: SourceRecords,
    bytes_seen: u64,
    /// Whether the implausible-rate warning was given for this run.
    warned_implausible: bool,
    /// The source files last handed to the state.
    noted_files: Option<crate::ingest::tail::SourceFiles>,
    /// The logs have been read to their end once: later lines arrive live.
    live: bool,
}

/// What one record turned into before it reaches the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The record reached the state.
    Observed(Observation, Observed),
    /// The format reads nothing from it, or it had no throughput.
    Ignored,
    /// The record was bad; `kept` says whether part of it still counted.
    Error {
        reason: ParseErrorReason,
        detail: String,
        kept: Option<(Observation, Observed)>,
    },
}

/// Fills what a source's settings give (tokens per step) into an observation; `None` when it
/// still says nothing of throughput.
pub fn complete(config: &TailConfig, mut observation: Observation) -> Option<Observation> {
    if observation.tokens_per_step.is_none() && observation.samples_per_step.is_none() {
        observation.tokens_per_step = config.tokens_per_step;
    }
    (observation.has_throughput() || observation.has_progress()).then_some(observation)
}

/// The state's stream name of a record: its file, and its rank where the format tells ranks
/// apart, so that each rank's steps are its own sequence.
pub fn stream_name<'a>(file: &'a str, observation: &Observation) -> std::borrow::Cow<'a, str> {
    match observation.rank {
        Some(rank) => std::borrow::Cow::Owned(format!("{file}#rank{rank}")),
        None => std::borrow::Cow::Borrowed(file),
    }
}

/// Applies one record to the state.
pub fn apply(
    state: &mut State,
    config: &TailConfig,
    file: &str,
    outcome: RecordOutcome,
    now: f64,
    from_start: bool,
) -> Applied {
    let mut observe = |observation: Observation| -> Option<(Observation, Observed)> {
        let observation = complete(config, observation)?;
        let stream = stream_name(file, &observation);
        let observed = state.observe_tail(&config.run, &stream, &observation, now, from_start);
        Some((observation, observed))
    };
    match outcome {
        Ok(LineOutcome::Observation(observation)) => match observe(observation) {
            Some((observation, observed)) => Applied::Observed(observation, observed),
            None => Applied::Ignored,
        },
        Ok(LineOutcome::Ignored) => Applied::Ignored,
        Err(error) => Applied::Error {
            reason: error.reason,
            detail: error.detail,
            // A bad descriptive field loses only itself: the throughput counts.
            kept: error.kept.and_then(|kept| observe(*kept)),
        },
    }
}

/// Follows every source until the stopper fires. `primed` gets the stopper once the first poll
/// has decided which files existed at start-up.
pub fn tail_thread(
    tails: Vec<TailConfig>,
    state_file: Option<PathBuf>,
    sink: Arc<dyn Sink + Send + Sync>,
    primed: std::sync::mpsc::Sender<Stopper>,
) {
    let saved = match state_file.as_deref().map(Positions::load) {
        None => Positions::default(),
        Some(Ok(positions)) => positions,
        Some(Err(error)) => {
            let kept = match (&error, state_file.as_deref()) {
                (crate::ingest::tail::PositionsError::Parse { .. }, Some(path)) => {
                    Positions::set_aside(path)
                        .map(|aside| aside.display().to_string())
                        .unwrap_or_else(|error| format!("not kept ({error})"))
                }
                _ => "left in place".to_owned(),
            };
            let restart: Vec<String> = tails
                .iter()
                .map(|tail| format!("run {}: {}", tail.run, tail.read_from.describe()))
                .collect();
            tracing::warn!(
                %error,
                kept = %kept,
                restart = %restart.join("; "),
                "starting without saved positions: every file starts as --tail.read-from says"
            );
            Positions::default()
        }
    };
    let poll_only = tails.iter().any(|t| t.poll);
    let mut sources: Vec<Source> = tails
        .into_iter()
        .map(|config| {
            let options = TailOptions {
                patterns: config.patterns.clone(),
                read_from: config.read_from,
                max_line_bytes: config.max_line_bytes,
            };
            let mut tailer = Tailer::new(options, &saved);
            if failpoint_set("tail-small-polls") {
                // A catch-up of a few megabytes takes many polls, as one of gigabytes does.
                tailer.set_max_bytes_per_poll(64 * 1024);
            }
            Source {
                tailer,
                records: SourceRecords::new(Arc::clone(&config.format)),
                config,
                bytes_seen: 0,
                warned_implausible: false,
                noted_files: None,
                live: false,
            }
        })
        .collect();
    let watch_paths = |sources: &[Source]| -> Vec<PathBuf> {
        sources
            .iter()
            .flat_map(|s| s.tailer.watch_paths())
            .collect()
    };
    let mut wakeups = match Wakeups::new(&watch_paths(&sources), poll_only, DEFAULT_POLL_INTERVAL) {
        Ok(wakeups) => wakeups,
        Err(error) => {
            tracing::warn!(%error, "file-system events unavailable; polling once a second");
            match Wakeups::new(&[], true, DEFAULT_POLL_INTERVAL) {
                Ok(wakeups) => wakeups,
                Err(error) => {
                    tracing::error!(%error, "cannot schedule polls: logs are not read");
                    return;
                }
            }
        }
    };
    let started = Instant::now();
    let mut primed = Some(primed);
    let mut last_save = Instant::now();
    let mut unsaved = false;
    let mut backlog = false;
    loop {
        // After a poll that stopped short of a file's end, poll again at once (still seeing
        // a stop request in between).
        let stopping = if backlog {
            wakeups.wait_at_most(Duration::ZERO) == Some(Wake::Stop)
        } else {
            wakeups.wait() == Wake::Stop
        };
        let mut advanced = false;
        let monotonic = started.elapsed().as_secs_f64();
        // A stop reads nothing more: the positions saved below are those of what the state
        // holds, which HTTP is still serving (it stops after this thread).
        if !stopping {
            let changes = wakeups.take_changes();
            for source in &mut sources {
                advanced |= poll_source(source, &changes, sink.as_ref(), monotonic);
            }
            backlog = sources.iter().any(|source| source.tailer.has_backlog());
            if changes == Changes::Everything {
                // Only a full poll finds new files and directories to watch.
                wakeups.set_paths(&watch_paths(&sources));
            }
        }
        if let Some(primed) = primed.take() {
            let _ = primed.send(wakeups.stopper());
        } else if failpoint_set("tail-panic") {
            panic!("failpoint tail-panic");
        }
        unsaved |= advanced;
        if let Some(path) = state_file.as_deref() {
            if unsaved && (stopping || last_save.elapsed() >= SAVE_INTERVAL) {
                let mut positions = Positions::default();
                for source in &sources {
                    positions.extend(source.tailer.positions());
                }
                match positions.save_atomically(path) {
                    Ok(()) => unsaved = false,
                    Err(error) => tracing::warn!(%error, "positions not saved"),
                }
                last_save = Instant::now();
            }
        }
        if stopping {
            let state = sink.state();
            for source in &sources {
                let run = &source.config.run;
                let tokens = state.run(run).map_or(0.0, |run| run.tokens_total);
                tracing::info!(%run, tokens, "stopped reading: the saved positions cover what was exported");
            }
            break;
        }
    }
}

/// Reads everything new of one run's logs into the state. True when anything was read.
fn poll_source(
    source: &mut Source,
    changes: &Changes,
    sink: &dyn Sink,
    monotonic_seconds: f64,
) -> bool {
    let metrics = sink.metrics();
    let now = crate::cli::serve::unix_now();
    let (mut lines, mut ignored, mut lines_reported) = (0u64, 0u64, 0u64);
    let config = &source.config;
    let records = &mut source.records;
    let warned = &mut source.warned_implausible;
    // Records go straight into the state, under a lock held for at most BATCH lines, so that a
    // scrape waits for a few hundred microseconds at most and no record is copied into a queue.
    let mut state: Option<MutexGuard<'_, State>> = None;
    let mut held = 0usize;
    source
        .tailer
        .poll_changes(changes, &mut |event| match event {
            TailEvent::Line { file, line } => {
                lines += 1;
                let guard = state.get_or_insert_with(|| sink.state());
                records.feed(file, line, monotonic_seconds, &mut |file, outcome| {
                    let applied = apply(guard, config, file.name, outcome, now, file.from_start);
                    count(&applied, metrics, &mut ignored, config, warned, file.name);
                });
                held += 1;
                if held >= BATCH {
                    state = None;
                    held = 0;
                    // The exporter's own counters keep pace during a long catch-up.
                    metrics.lines_read.inc_by(lines - lines_reported);
                    lines_reported = lines;
                }
            }
            TailEvent::LineTooLong { file, bytes } => {
                lines += 1;
                metrics
                    .parse_errors
                    .with_label_values(&["line_too_long"])
                    .inc();
                tracing::debug!(file = %file.display(), bytes, "over-long line skipped");
            }
            TailEvent::Opened { file, offset } => {
                tracing::info!(file = %file.display(), offset, "following");
                records.opened(file, offset == 0);
            }
            TailEvent::Rotated { file } => {
                metrics.file_rotations.inc();
                tracing::info!(file = %file.display(), "rotated");
            }
            TailEvent::Truncated { file } => {
                metrics.file_truncations.inc();
                tracing::info!(file = %file.display(), "truncated");
                records.opened(file, true);
            }
            TailEvent::Error { file, error } => {
                tracing::warn!(file = %file.display(), %error, "cannot read")
            }
        });
    if records.has_pending() {
        let guard = state.get_or_insert_with(|| sink.state());
        records.flush_quiet(monotonic_seconds, &mut |file, outcome| {
            let applied = apply(guard, config, file.name, outcome, now, file.from_start);
            count(&applied, metrics, &mut ignored, config, warned, file.name);
        });
    }
    // What the patterns name, for the source gauges, readiness and the landing page.
    let files = source.tailer.source_files();
    if source.noted_files.as_ref() != Some(files) {
        let guard = state.get_or_insert_with(|| sink.state());
        guard.note_source_files(&config.run, files);
        if files.following == 0 {
            if let Some(problem) = &files.problem {
                tracing::warn!(run = %config.run, %problem, "no log file of the run can be read");
            }
        }
        source.noted_files = Some(files.clone());
    }
    // The lines of this poll were read as a backlog or live; from the first poll that reached
    // every file's end on, the next ones are live.
    if !source.live && !source.tailer.has_backlog() {
        source.live = true;
        let guard = state.get_or_insert_with(|| sink.state());
        guard.note_live(&config.run, now);
    }
    drop(state);
    metrics.lines_read.inc_by(lines - lines_reported);
    metrics.lines_ignored.inc_by(ignored);
    let bytes = source.tailer.bytes_read_total();
    let new_bytes = bytes.saturating_sub(source.bytes_seen);
    metrics.bytes_read.inc_by(new_bytes);
    source.bytes_seen = bytes;
    lines > 0 || new_bytes > 0
}

/// Counts what a record did in the exporter's own metrics, and warns once per run about rates
/// beyond the peak.
fn count(
    applied: &Applied,
    metrics: &SelfMetrics,
    ignored: &mut u64,
    config: &TailConfig,
    warned: &mut bool,
    file: &str,
) {
    let observed = match applied {
        Applied::Observed(_, observed) => Some(observed),
        Applied::Ignored => {
            *ignored += 1;
            None
        }
        Applied::Error {
            reason,
            detail,
            kept,
        } => {
            metrics.count_parse_error(*reason);
            tracing::debug!(file, reason = reason.as_label(), %detail, "bad value skipped");
            kept.as_ref().map(|(_, observed)| observed)
        }
    };
    if let Some(mfu) = observed.and_then(|observed| observed.implausible_mfu) {
        metrics.count_parse_error(ParseErrorReason::Implausible);
        if !*warned {
            *warned = true;
            tracing::warn!(
                run = %config.run,
                file,
                mfu = format!("{:.0}%", mfu * 100.0),
                "the logged throughput gives an MFU above 100% against the configured peak: it is kept out of \
                 the rate gauges; check --gpus (the GPUs the logged throughput covers), --tail.throughput-scope \
                 (per-device or global figures) and --gpu / --dtype"
            );
        }
    }
}

/// Whether the failpoint `name` is switched on by `MFU_EXPORTER_FAILPOINT`: the test suite's
/// way to make the tailer fail inside the real binary, to check that a failure shows
/// (`tail-panic`), or read at most 64 KiB of a file per poll (`tail-small-polls`).
fn failpoint_set(name: &str) -> bool {
    std::env::var_os("MFU_EXPORTER_FAILPOINT").is_some_and(|value| value == name)
}
