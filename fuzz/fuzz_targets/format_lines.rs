//! Every built-in log format on arbitrary lines: `SourceRecords::feed` and the flushes, as the
//! tailer drives them.
//!
//! Input: byte 0 picks a built-in format (`byte % count`); the rest is the log, cut into lines at
//! each `\n`, with the clock moving one second every 8 lines so that quiet flushes happen.
//!
//! Checks: besides "no panic", every value of every record is finite and within the limits the
//! observation type promises (`plausible_limit`, no negative count or rate, `reported_mfu` in
//! 0..=1), and a rejected line's message stays short however long the line.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use mfu_exporter::ingest::format::records::SourceRecords;
use mfu_exporter::ingest::format::Format;
use mfu_exporter::ingest::observation::{LineOutcome, Observation};

const MAX_DETAIL_BYTES: usize = 2048;

fn formats() -> &'static [Arc<Format>] {
    static FORMATS: OnceLock<Vec<Arc<Format>>> = OnceLock::new();
    FORMATS.get_or_init(|| {
        Format::builtins()
            .expect("the built-in formats compile")
            .into_iter()
            .map(Arc::new)
            .collect()
    })
}

fn check(observation: &Observation) {
    for value in [
        observation.tokens_per_second,
        observation.tokens,
        observation.tokens_per_step,
        observation.samples_per_step,
        observation.total_tokens,
        observation.step_seconds,
        observation.elapsed_seconds,
        observation.timestamp_seconds,
        observation.reported_flops_per_second_per_gpu,
    ]
    .into_iter()
    .flatten()
    {
        assert!(value.is_finite() && value >= 0.0, "{value} in {observation:?}");
    }
    if let Some(loss) = observation.loss {
        assert!(loss.is_finite(), "{observation:?}");
    }
    if let Some(mfu) = observation.reported_mfu {
        assert!((0.0..=1.0).contains(&mfu), "{observation:?}");
    }
}

fn handle(outcome: mfu_exporter::ingest::format::records::RecordOutcome) {
    match outcome {
        Ok(LineOutcome::Observation(observation)) => check(&observation),
        Ok(LineOutcome::Ignored) => {}
        Err(error) => {
            assert!(!error.detail.is_empty());
            assert!(error.detail.len() <= MAX_DETAIL_BYTES, "{}", error.detail.len());
            if let Some(kept) = &error.kept {
                check(kept);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, log)) = data.split_first() else {
        return;
    };
    let formats = formats();
    let format = &formats[usize::from(pick) % formats.len()];
    let mut records = SourceRecords::new(Arc::clone(format));
    let file = std::path::Path::new("train.log");
    records.opened(file, true);
    for (index, line) in log.split(|b| *b == b'\n').enumerate() {
        let now = (index / 8) as f64;
        records.feed(file, line, now, &mut |_, outcome| handle(outcome));
        records.flush_quiet(now, &mut |_, outcome| handle(outcome));
    }
    records.flush_all(&mut |_, outcome| handle(outcome));
});
