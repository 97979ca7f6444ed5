//! `parse_json_line`: one log line into an observation, through the default field mapping and through
//! a mapping built from the input itself.
//!
//! Input: the whole input is a line for the default mapping. When it holds a `\n`, what comes
//! before the first one is also read as a mapping (`|`-separated field paths, assigned to the
//! fields in turn, with scales taken in turn from a fixed list) and what follows as the line.
//!
//! Besides "no panic", it checks what the parser promises: every value of an observation is
//! finite and in its range, messages stay short whatever the line, trailing whitespace changes
//! nothing, and a field path prints back to itself.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mfu_exporter::ingest::json::{parse_json_line, JsonOptions};
use mfu_exporter::ingest::mapping::{FieldMapping, FieldPath, FieldSpec};
use mfu_exporter::ingest::observation::{Field, LineOutcome, ParseErrorReason};

/// Both readings: a bare object, and an object after a text prefix, possibly a Python dict.
const OPTIONS: [JsonOptions; 2] = [
    JsonOptions {
        after_prefix: false,
        python_literals: false,
    },
    JsonOptions {
        after_prefix: true,
        python_literals: true,
    },
];

fn parse_line(
    line: &[u8],
    mapping: &FieldMapping,
    options: JsonOptions,
) -> Result<LineOutcome, mfu_exporter::ingest::observation::LineError> {
    parse_json_line(line, mapping, options)
}

/// Scales a mapping may carry: ratios, milliseconds, percent, nanoseconds, and odd ones.
const SCALES: [f64; 7] = [1.0, 0.001, 0.01, 1e-9, 1000.0, 3.0, 1e300];

/// A message longer than this means a hostile value was quoted whole.
const MAX_DETAIL_BYTES: usize = 2048;

fuzz_target!(|data: &[u8]| {
    static DEFAULT: OnceLock<FieldMapping> = OnceLock::new();
    let default = DEFAULT.get_or_init(FieldMapping::default);
    for options in OPTIONS {
        check(data, default, options);
    }

    if let Some(newline) = data.iter().position(|byte| *byte == b'\n') {
        let (header, line) = (&data[..newline], &data[newline + 1..]);
        if let Ok(header) = std::str::from_utf8(header) {
            let mapping = mapping_from(header);
            for options in OPTIONS {
                check(line, &mapping, options);
            }
        }
    }
});

fn mapping_from(header: &str) -> FieldMapping {
    let mut specs: Vec<Vec<FieldSpec>> = vec![Vec::new(); Field::ALL.len()];
    for (index, text) in header.split('|').enumerate() {
        let Ok(path) = FieldPath::parse(text) else {
            continue;
        };
        // The printed form must read back as the same path.
        let printed = path.to_string();
        assert_eq!(
            FieldPath::parse(&printed).as_ref(),
            Ok(&path),
            "{text:?} printed as {printed:?}"
        );
        let scale = SCALES[(index / Field::ALL.len()) % SCALES.len()];
        let spec = FieldSpec::new(path, scale).expect("every scale in SCALES is valid");
        specs[index % Field::ALL.len()].push(spec);
    }
    let mut mapping = FieldMapping::default();
    for (field, specs) in Field::ALL.into_iter().zip(specs) {
        if !specs.is_empty() {
            mapping = mapping.with_override(field, specs);
        }
    }
    mapping
}

/// The outcome with the message left out, for comparing two parses.
fn summary(
    line: &[u8],
    mapping: &FieldMapping,
    options: JsonOptions,
) -> Result<LineOutcome, ParseErrorReason> {
    parse_line(line, mapping, options).map_err(|error| error.reason)
}

fn check(line: &[u8], mapping: &FieldMapping, options: JsonOptions) {
    let outcome = parse_line(line, mapping, options);
    match &outcome {
        Ok(LineOutcome::Observation(observation)) => {
            assert!(!observation.is_empty(), "{observation:?}");
            for value in [
                observation.tokens_per_second,
                observation.tokens,
                observation.total_tokens,
                observation.step_seconds,
                observation.timestamp_seconds,
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
        Ok(LineOutcome::Ignored) => {}
        Err(error) => {
            assert!(!error.detail.is_empty());
            assert!(
                error.detail.len() <= MAX_DETAIL_BYTES,
                "a {}-byte message: {}",
                error.detail.len(),
                error.detail
            );
        }
    }

    // Trailing whitespace, `\r` included, is tolerated and changes nothing.
    let expected = outcome.map_err(|error| error.reason);
    for suffix in [&b"\r"[..], b" "] {
        let mut padded = line.to_vec();
        padded.extend_from_slice(suffix);
        assert_eq!(summary(&padded, mapping, options), expected, "with {suffix:?} appended");
    }
}
