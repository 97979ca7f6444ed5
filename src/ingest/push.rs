//! Validates the body of `POST /api/v1/push` into [`PushSample`]s for named runs.
//!
//! The body is one JSON object or a non-empty array of them (at most [`MAX_SAMPLES_PER_PUSH`]).
//! A sample gives a rate (`tokens_per_sec`), or `tokens` and `seconds` together; optional `step`,
//! `loss`, `mfu` (a ratio), `tokens_per_step`, `total_tokens`, `gpus` (the GPUs the throughput
//! covers: without it the run has no peak and no MFU), `final` (`true` when the run has ended),
//! `run` (default [`DEFAULT_RUN`]) and a client clock (`timestamp`, `time`, `ts`: ignored). Each
//! field also answers to the keys the default log mapping gives it (`tokens_per_second`, `tps`,
//! `throughput`, `dt`, `step_time`, `dt_ms`, `iter`, `mfu_percent`, ... with their scales; see
//! [`FieldMapping::default`]), and numbers may be written as logs write them (`"1,234"`, `"1.2k"`,
//! `"34%"`, `"0:00:02"`): one trainer snippet serves a log and a push. An unknown field, a field
//! given twice, or two names of one field is an error, so a typo is never silently dropped; a
//! `null` value counts as absent. Every [`PushError`] is a client error whose message goes back
//! to the client as is; an error inside an array names the element's 0-based index. The first
//! problem in the body is the one reported.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::mapping::{FieldMapping, FieldPath};
use super::observation::{Field, FieldKind, Observation};
use super::quote::{float_text, quote};
use super::values::{apply_scale, duration_text, number_text};

/// The run a sample belongs to when it names none.
pub const DEFAULT_RUN: &str = "default";

/// The most samples one push may carry.
pub const MAX_SAMPLES_PER_PUSH: usize = 10_000;

/// Far beyond any cluster today; a larger figure is a unit mistake.
pub const MAX_TOKENS_PER_SECOND: f64 = 1e12;

/// The most GPUs one push may credit a run with; a larger figure is a mistake, not a cluster.
pub const MAX_GPUS: u64 = 1_000_000;

/// The longest run name, in characters.
pub const MAX_RUN_NAME_CHARS: usize = 64;

/// One validated sample of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushSample {
    pub run: String,
    pub observation: Observation,
    /// The GPUs the sample's throughput covers, when the client named them.
    pub gpus: Option<u64>,
    /// The client said `"final": true`: the run has ended.
    pub finished: bool,
}

/// Why a push body was rejected. Each message is meant for the client (as `{"error": "..."}`,
/// status 400).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PushError {
    #[error("the body is empty; send a json object such as {{\"tokens_per_sec\": 1234.5}} or an array of them")]
    EmptyBody,
    #[error("malformed json: {detail}; send a json object such as {{\"tokens_per_sec\": 1234.5}} or an array of them")]
    MalformedJson { detail: String },
    #[error("{detail}; json numbers must fit a 64-bit float (at most about 1.8e308)")]
    NumberOutOfRange { detail: String },
    #[error("the body must be a json object or a non-empty array of objects, got {kind}")]
    NotAnObject { kind: &'static str },
    #[error("each sample must be a json object, got {kind}")]
    SampleNotAnObject { kind: &'static str },
    #[error("the body is an empty array; send at least one sample object")]
    EmptyArray,
    #[error("the body has more than {MAX_SAMPLES_PER_PUSH} samples; split it into several pushes")]
    TooManySamples,
    /// An unknown or repeated field, as the JSON reader words it (naming the field and the accepted
    /// ones).
    #[error("{detail}")]
    InvalidField { detail: String },
    #[error("`{field}` must be {expected}, got {got}")]
    WrongType {
        field: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("`{field}` must be a number, got string {}; write it as a log would, e.g. 1234.5, \"1,234\", \"1.2k\" or \"34%\"", quote(.text))]
    NotANumber { field: String, text: String },
    #[error("a push needs `tokens_per_sec`, or `tokens` and `seconds`")]
    MissingThroughput,
    #[error("`{present}` needs `{missing}` too; send `tokens` and `seconds` together, or `tokens_per_sec` alone")]
    IncompletePair {
        present: &'static str,
        missing: &'static str,
    },
    #[error("`{field}` is {}, above the limit of {}; check the units", float_text(*.value), float_text(*.limit))]
    AboveLimit {
        field: String,
        value: f64,
        limit: f64,
    },
    #[error("`{field}` must not be negative, got {}", float_text(*.value))]
    Negative { field: String, value: f64 },
    #[error("`seconds` must be above 0, got 0; send the time the tokens took")]
    ZeroSeconds,
    #[error(
        "{what} is {tokens_per_second:e} tokens per second, above the limit of {MAX_TOKENS_PER_SECOND:e}; \
         check the units"
    )]
    TooFast {
        what: String,
        tokens_per_second: f64,
    },
    #[error("`gpus` must be a whole number from 1 to {MAX_GPUS}, got {value}; send the GPUs the throughput covers")]
    InvalidGpus { value: String },
    #[error("`step` must be a whole number 0 or more, got {value}")]
    InvalidStep { value: String },
    #[error("`mfu` must be a ratio from 0 to 1, got {}; divide a percentage by 100", float_text(*.value))]
    MfuOutOfRange { value: f64 },
    #[error(
        "run name {} is invalid; use 1 to {MAX_RUN_NAME_CHARS} characters from A-Z, a-z, 0-9, '_', '.' and '-'",
        quote(.name)
    )]
    InvalidRunName { name: String },
    #[error("element {index}: {source}")]
    Element {
        index: usize,
        source: Box<PushError>,
    },
}

/// Checks a run name: 1 to 64 characters, each one of `A-Z a-z 0-9 _ . -`.
pub fn validate_run_name(name: &str) -> Result<(), PushError> {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-');
    // Every allowed character is one byte, so the byte length is the character count.
    if (1..=MAX_RUN_NAME_CHARS).contains(&name.len()) && name.bytes().all(allowed) {
        Ok(())
    } else {
        Err(PushError::InvalidRunName {
            name: name.to_owned(),
        })
    }
}

/// Parses and validates a push body.
pub fn parse_push(body: &[u8]) -> Result<Vec<PushSample>, PushError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.trim_ascii().is_empty() {
        return Err(PushError::EmptyBody);
    }
    let mut progress = Progress::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let result = de::Deserializer::deserialize_any(
        &mut deserializer,
        BodyVisitor {
            progress: &mut progress,
        },
    )
    .and_then(|samples| deserializer.end().map(|()| samples));
    result.map_err(|error| match progress.failure.take() {
        Some(failure) => failure,
        None => within_element(progress.element, reader_error(&error)),
    })
}

/// Where the walk over the body stands, so that an error from the JSON reader can be attributed,
/// and the typed error that stopped the walk, if any.
#[derive(Default)]
struct Progress {
    element: Option<usize>,
    failure: Option<PushError>,
}

fn within_element(element: Option<usize>, error: PushError) -> PushError {
    match element {
        Some(index) => PushError::Element {
            index,
            source: Box::new(error),
        },
        None => error,
    }
}

fn reader_error(error: &serde_json::Error) -> PushError {
    // serde quotes an unknown key whole: a megabyte of key must not come back as a megabyte.
    let detail = crate::ingest::quote::cut_backticked(&error.to_string());
    match error.classify() {
        serde_json::error::Category::Data => PushError::InvalidField { detail },
        _ if detail.starts_with("number out of range") => PushError::NumberOutOfRange { detail },
        _ => PushError::MalformedJson { detail },
    }
}

/// Reads the top level: one sample object, or an array of them validated one by one.
struct BodyVisitor<'p> {
    progress: &'p mut Progress,
}

impl BodyVisitor<'_> {
    /// Stores the typed error and stops the JSON reader with a placeholder that [`parse_push`]
    /// replaces.
    fn fail<T, E: de::Error>(self, failure: PushError) -> Result<T, E> {
        self.progress.failure = Some(failure);
        Err(E::custom("push rejected"))
    }

    fn not_an_object<T, E: de::Error>(self, kind: &'static str) -> Result<T, E> {
        self.fail(PushError::NotAnObject { kind })
    }
}

impl<'de> Visitor<'de> for BodyVisitor<'_> {
    type Value = Vec<PushSample>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a json object or an array of objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let wire = WireSample::deserialize(MapAccessDeserializer::new(map))?;
        match wire.into_sample() {
            Ok(sample) => Ok(vec![sample]),
            Err(failure) => self.fail(failure),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut samples = Vec::new();
        loop {
            let index = samples.len();
            self.progress.element = Some(index);
            let Some(element) = seq.next_element::<WireElement>()? else {
                break;
            };
            if index >= MAX_SAMPLES_PER_PUSH {
                return self.fail(PushError::TooManySamples);
            }
            let sample = match element {
                WireElement::Object(wire) => wire.into_sample(),
                WireElement::Other(kind) => Err(PushError::SampleNotAnObject { kind }),
            };
            match sample {
                Ok(sample) => samples.push(sample),
                Err(failure) => return self.fail(within_element(Some(index), failure)),
            }
        }
        self.progress.element = None;
        if samples.is_empty() {
            return self.fail(PushError::EmptyArray);
        }
        Ok(samples)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        self.not_an_object("string")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.not_an_object("boolean")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.not_an_object("number")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.not_an_object("number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.not_an_object("number")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.not_an_object("null")
    }
}

/// One element of an array body. A struct would also accept an array of values by position, so
/// elements are checked to be objects before the sample is read.
enum WireElement {
    /// Boxed: a sample is far larger than the other variant.
    Object(Box<WireSample>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for WireElement {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WireElementVisitor)
    }
}

struct WireElementVisitor;

impl<'de> Visitor<'de> for WireElementVisitor {
    type Value = WireElement;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        WireSample::deserialize(MapAccessDeserializer::new(map))
            .map(|sample| WireElement::Object(Box::new(sample)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(WireElement::Other("array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(WireElement::Other("string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(WireElement::Other("boolean"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(WireElement::Other("number"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(WireElement::Other("number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(WireElement::Other("number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(WireElement::Other("null"))
    }
}

/// The push's fields. Each is fed by its own name and by every top-level key that the default log
/// mapping ([`FieldMapping::default`]) gives the log field behind it, with that key's scale: one
/// list of names serves logs and pushes, so one trainer snippet serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    TokensPerSec,
    Tokens,
    Seconds,
    Step,
    Loss,
    Mfu,
    TokensPerStep,
    TotalTokens,
    Gpus,
    Final,
    Run,
    Timestamp,
}

/// Each slot, its own name and the log field whose keys also feed it.
const SLOTS: [(Slot, &str, Option<Field>); 12] = [
    (
        Slot::TokensPerSec,
        "tokens_per_sec",
        Some(Field::TokensPerSecond),
    ),
    (Slot::Tokens, "tokens", Some(Field::Tokens)),
    (Slot::Seconds, "seconds", Some(Field::StepSeconds)),
    (Slot::Step, "step", Some(Field::Step)),
    (Slot::Loss, "loss", Some(Field::Loss)),
    (Slot::Mfu, "mfu", Some(Field::ReportedMfu)),
    (
        Slot::TokensPerStep,
        "tokens_per_step",
        Some(Field::TokensPerStep),
    ),
    (Slot::TotalTokens, "total_tokens", Some(Field::TotalTokens)),
    (Slot::Gpus, "gpus", None),
    (Slot::Final, "final", None),
    (Slot::Run, "run", None),
    (Slot::Timestamp, "timestamp", Some(Field::Timestamp)),
];

/// Every accepted key with its slot and scale, each slot's own name first, then the log
/// mapping's keys for it in the mapping's order.
fn accepted_keys() -> &'static [(String, Slot, f64)] {
    static KEYS: std::sync::OnceLock<Vec<(String, Slot, f64)>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mapping = FieldMapping::default();
        let mut keys: Vec<(String, Slot, f64)> = Vec::new();
        for (slot, name, field) in SLOTS {
            keys.push((name.to_owned(), slot, 1.0));
            let logged = field.map(|field| mapping.specs(field)).unwrap_or_default();
            for spec in logged {
                if let FieldPath::Key(key) = &spec.path {
                    if !keys.iter().any(|(known, _, _)| known == key) {
                        keys.push((key.clone(), slot, spec.scale));
                    }
                }
            }
        }
        keys
    })
}

/// "expected one of `tokens_per_sec`, ..." for an unknown key, as serde words it.
fn expected_keys() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let names: Vec<String> = accepted_keys()
            .iter()
            .map(|(key, _, _)| format!("`{key}`"))
            .collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// One value as the client gave it: the key it used, the value, and the key's scale.
#[derive(Debug, Clone, PartialEq)]
struct Given {
    key: String,
    value: WireValue,
    scale: f64,
}

/// A sample as the client wrote it, by slot. Values of any JSON type are accepted here so that a
/// wrong type gets a message naming the key; unknown keys, repeated keys and two keys of one slot
/// are rejected while reading.
#[derive(Default)]
struct WireSample {
    given: [Option<Given>; SLOTS.len()],
}

impl WireSample {
    fn take(&mut self, slot: Slot) -> Option<Given> {
        // `Slot` discriminants are the indexes of `SLOTS`.
        self.given[slot as usize].take()
    }
}

impl<'de> Deserialize<'de> for WireSample {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WireSampleVisitor)
    }
}

struct WireSampleVisitor;

impl<'de> Visitor<'de> for WireSampleVisitor {
    type Value = WireSample;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut sample = WireSample::default();
        while let Some(key) = map.next_key::<String>()? {
            let Some((_, slot, scale)) = accepted_keys().iter().find(|(known, _, _)| *known == key)
            else {
                return Err(de::Error::custom(format!(
                    "unknown field `{key}`, {}",
                    expected_keys()
                )));
            };
            let entry = &mut sample.given[*slot as usize];
            if let Some(earlier) = entry.as_ref() {
                return Err(de::Error::custom(if earlier.key == key {
                    format!("duplicate field `{key}`")
                } else {
                    format!(
                        "`{}` and `{key}` give the same field; send one of them",
                        earlier.key
                    )
                }));
            }
            let value: WireValue = map.next_value()?;
            *entry = Some(Given {
                key,
                value,
                scale: *scale,
            });
        }
        Ok(sample)
    }
}

/// Any non-null JSON value; only numbers and strings keep their content.
#[derive(Debug, Clone, PartialEq)]
enum WireValue {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    String(String),
    Boolean(bool),
    Array,
    Object,
    Null,
}

impl WireValue {
    fn kind(&self) -> &'static str {
        match self {
            WireValue::Unsigned(_) | WireValue::Signed(_) | WireValue::Float(_) => "number",
            WireValue::String(_) => "string",
            WireValue::Boolean(_) => "boolean",
            WireValue::Array => "array",
            WireValue::Object => "object",
            WireValue::Null => "null",
        }
    }
}

impl<'de> Deserialize<'de> for WireValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WireValueVisitor)
    }
}

struct WireValueVisitor;

impl<'de> Visitor<'de> for WireValueVisitor {
    type Value = WireValue;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any json value")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(WireValue::Unsigned(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(WireValue::Signed(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(WireValue::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(WireValue::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(WireValue::String(value))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(WireValue::Boolean(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(WireValue::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(WireValue::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(WireValue::Object)
    }
}

/// A finite number in the field's base unit (a JSON number, or numeric text as logs write it:
/// `"1,234"`, `"1.2k"`, `"34%"`, and `"0:00:02"` for seconds), times the key's scale unless the
/// text says its own unit; `None` when absent, null, or `nan`/`inf` text (as in a log).
fn number(field: Field, given: Option<&Given>) -> Result<Option<f64>, PushError> {
    let Some(given) = given else {
        return Ok(None);
    };
    let (number, scale) = match &given.value {
        WireValue::Null => return Ok(None),
        WireValue::Unsigned(value) => (*value as f64, given.scale),
        WireValue::Signed(value) => (*value as f64, given.scale),
        WireValue::Float(value) => (*value, given.scale),
        WireValue::String(text) => match (field.kind(), duration_text(text)) {
            (FieldKind::Seconds, Some(seconds)) if text.contains(':') => (seconds, 1.0),
            _ => match number_text(text) {
                Some(parsed) if !parsed.value.is_finite() => return Ok(None),
                Some(parsed) => (
                    parsed.value,
                    if parsed.self_scaled { 1.0 } else { given.scale },
                ),
                None => {
                    return Err(PushError::NotANumber {
                        field: given.key.clone(),
                        text: text.clone(),
                    })
                }
            },
        },
        other => {
            return Err(PushError::WrongType {
                field: given.key.clone(),
                expected: "a number",
                got: other.kind(),
            })
        }
    };
    let scaled = apply_scale(number, scale);
    // The JSON reader rejects numbers beyond a 64-bit float; a scale or an SI suffix can still
    // overflow.
    if scaled.is_finite() {
        Ok(Some(scaled))
    } else {
        Err(PushError::NumberOutOfRange {
            detail: format!("`{}` is not finite", given.key),
        })
    }
}

fn non_negative(given: Option<&Given>, value: Option<f64>) -> Result<Option<f64>, PushError> {
    match (given, value) {
        (Some(given), Some(value)) if value < 0.0 => Err(PushError::Negative {
            field: given.key.clone(),
            value,
        }),
        _ => Ok(value),
    }
}

fn at_most_max_rate(what: String, tokens_per_second: f64) -> Result<f64, PushError> {
    if tokens_per_second > MAX_TOKENS_PER_SECOND {
        Err(PushError::TooFast {
            what,
            tokens_per_second,
        })
    } else {
        Ok(tokens_per_second)
    }
}

/// Numeric text as a JSON number, for the whole-number fields (`step`, `gpus`).
fn whole_number_value(given: Option<Given>) -> Option<Given> {
    given.map(|mut given| {
        if let WireValue::String(text) = &given.value {
            if let Some(parsed) = number_text(text).filter(|parsed| !parsed.self_scaled) {
                given.value = WireValue::Float(parsed.value);
            }
        }
        given
    })
}

fn step(given: Option<Given>) -> Result<Option<u64>, PushError> {
    let Some(given) = whole_number_value(given) else {
        return Ok(None);
    };
    match given.value {
        WireValue::Null => Ok(None),
        WireValue::Unsigned(step) => Ok(Some(step)),
        WireValue::Signed(step) => Err(PushError::InvalidStep {
            value: step.to_string(),
        }),
        // 2^64 is exactly representable; every integral float below it fits a u64.
        WireValue::Float(step)
            if step.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&step) =>
        {
            Ok(Some(step as u64))
        }
        WireValue::Float(step) => Err(PushError::InvalidStep {
            value: float_text(step),
        }),
        other => Err(PushError::WrongType {
            field: given.key,
            expected: "a whole number",
            got: other.kind(),
        }),
    }
}

/// A GPU count from 1 to [`MAX_GPUS`], or `None` when absent or null.
fn gpus(given: Option<Given>) -> Result<Option<u64>, PushError> {
    let invalid = |value: String| Err(PushError::InvalidGpus { value });
    let Some(given) = whole_number_value(given) else {
        return Ok(None);
    };
    match given.value {
        WireValue::Null => Ok(None),
        WireValue::Unsigned(gpus) if (1..=MAX_GPUS).contains(&gpus) => Ok(Some(gpus)),
        WireValue::Unsigned(gpus) => invalid(gpus.to_string()),
        WireValue::Signed(gpus) => invalid(gpus.to_string()),
        WireValue::Float(gpus)
            if gpus.fract() == 0.0 && (1.0..=MAX_GPUS as f64).contains(&gpus) =>
        {
            Ok(Some(gpus as u64))
        }
        WireValue::Float(gpus) => invalid(float_text(gpus)),
        other => Err(PushError::WrongType {
            field: given.key,
            expected: "a whole number",
            got: other.kind(),
        }),
    }
}

/// `final`: a boolean, absent or null meaning `false`.
fn finished(given: Option<Given>) -> Result<bool, PushError> {
    match given.map(|given| given.value) {
        None | Some(WireValue::Null) => Ok(false),
        Some(WireValue::Boolean(finished)) => Ok(finished),
        Some(other) => Err(PushError::WrongType {
            field: "final".to_owned(),
            expected: "true or false",
            got: other.kind(),
        }),
    }
}

/// A token count or rate of the push: numeric, not negative, within the field's limit.
fn tokens_field(field: Field, given: Option<&Given>) -> Result<Option<f64>, PushError> {
    let value = non_negative(given, number(field, given)?)?;
    match (given, value) {
        (Some(given), Some(value)) if value > field.plausible_limit() => {
            Err(PushError::AboveLimit {
                field: given.key.clone(),
                value,
                limit: field.plausible_limit(),
            })
        }
        _ => Ok(value),
    }
}

impl WireSample {
    fn into_sample(mut self) -> Result<PushSample, PushError> {
        let run = match self.take(Slot::Run).map(|given| given.value) {
            None | Some(WireValue::Null) => DEFAULT_RUN.to_owned(),
            Some(WireValue::String(run)) => {
                validate_run_name(&run)?;
                run
            }
            Some(other) => {
                return Err(PushError::WrongType {
                    field: "run".to_owned(),
                    expected: "a string",
                    got: other.kind(),
                })
            }
        };
        // The client's clock is accepted and ignored: client timestamps never become sample
        // timestamps, and the exporter times pushes by its own clock.
        let _ = self.take(Slot::Timestamp);
        let rate_given = self.take(Slot::TokensPerSec);
        let tokens_given = self.take(Slot::Tokens);
        let seconds_given = self.take(Slot::Seconds);
        let tokens_per_sec = non_negative(
            rate_given.as_ref(),
            number(Field::TokensPerSecond, rate_given.as_ref())?,
        )?;
        let tokens = non_negative(
            tokens_given.as_ref(),
            number(Field::Tokens, tokens_given.as_ref())?,
        )?;
        let seconds = non_negative(
            seconds_given.as_ref(),
            number(Field::StepSeconds, seconds_given.as_ref())?,
        )?;
        let step = step(self.take(Slot::Step))?;
        let gpus = gpus(self.take(Slot::Gpus))?;
        let finished = finished(self.take(Slot::Final))?;
        let loss = number(Field::Loss, self.take(Slot::Loss).as_ref())?;
        let mfu_given = self.take(Slot::Mfu);
        let mfu = match number(Field::ReportedMfu, mfu_given.as_ref())? {
            Some(value) if !(0.0..=1.0).contains(&value) => {
                return Err(PushError::MfuOutOfRange { value })
            }
            mfu => mfu,
        };
        let tokens_per_step = tokens_field(
            Field::TokensPerStep,
            self.take(Slot::TokensPerStep).as_ref(),
        )?;
        let total_tokens = tokens_field(Field::TotalTokens, self.take(Slot::TotalTokens).as_ref())?;

        // The same per-field limits as every log format: one absurd sample must not turn a run's
        // counters into infinities.
        for (given, field, value) in [
            (&tokens_given, Field::Tokens, tokens),
            (&seconds_given, Field::StepSeconds, seconds),
        ] {
            if let (Some(given), Some(value)) = (given, value) {
                if value > field.plausible_limit() {
                    return Err(PushError::AboveLimit {
                        field: given.key.clone(),
                        value,
                        limit: field.plausible_limit(),
                    });
                }
            }
        }
        let key_of = |given: &Option<Given>| {
            given
                .as_ref()
                .map_or_else(String::new, |given| given.key.clone())
        };
        // A step that took no time is no step time (and, with tokens, no rate).
        if seconds == Some(0.0) {
            return Err(PushError::ZeroSeconds);
        }
        let (tokens_per_second, step_seconds) = match (tokens_per_sec, tokens, seconds) {
            // A rate beside a count: the count says how many tokens, the rate how fast, as in a
            // log line with both.
            (Some(rate), _, seconds) => (
                at_most_max_rate(format!("`{}`", key_of(&rate_given)), rate)?,
                seconds,
            ),
            (None, Some(tokens), Some(seconds)) => (
                at_most_max_rate(
                    format!("`{}` / `{}`", key_of(&tokens_given), key_of(&seconds_given)),
                    tokens / seconds,
                )?,
                Some(seconds),
            ),
            (None, Some(_), None) => {
                return Err(PushError::IncompletePair {
                    present: "tokens",
                    missing: "seconds",
                });
            }
            (None, None, Some(_)) => {
                return Err(PushError::IncompletePair {
                    present: "seconds",
                    missing: "tokens",
                });
            }
            (None, None, None) => return Err(PushError::MissingThroughput),
        };

        Ok(PushSample {
            run,
            observation: Observation {
                tokens_per_second: Some(tokens_per_second),
                tokens,
                tokens_per_step,
                total_tokens,
                step_seconds,
                step,
                loss,
                reported_mfu: mfu,
                ..Observation::default()
            },
            gpus,
            finished,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders samples as `run: field=value ...` joined by `; `, or the error message.
    fn render(result: Result<Vec<PushSample>, PushError>) -> String {
        match result {
            Ok(samples) => samples
                .iter()
                .map(render_sample)
                .collect::<Vec<_>>()
                .join("; "),
            Err(error) => error.to_string(),
        }
    }

    fn render_sample(sample: &PushSample) -> String {
        let observation = &sample.observation;
        let reals = [
            ("tokens_per_second", observation.tokens_per_second),
            ("tokens", observation.tokens),
            ("tokens_per_step", observation.tokens_per_step),
            ("total_tokens", observation.total_tokens),
            ("step_seconds", observation.step_seconds),
            ("step", observation.step.map(|step| step as f64)),
            ("loss", observation.loss),
            ("timestamp_seconds", observation.timestamp_seconds),
            ("reported_mfu", observation.reported_mfu),
        ];
        let fields: Vec<String> = reals
            .iter()
            .filter_map(|(name, value)| value.map(|value| format!("{name}={}", float_text(value))))
            .collect();
        let mut text = format!("{}: {}", sample.run, fields.join(" "));
        if let Some(gpus) = sample.gpus {
            text.push_str(&format!(" gpus={gpus}"));
        }
        if sample.finished {
            text.push_str(" final");
        }
        text
    }

    #[track_caller]
    fn check(body: &str, expected: &str) {
        assert_eq!(
            render(parse_push(body.as_bytes())),
            expected,
            "body {body:?}"
        );
    }

    /// Each push field's own name, then the default log mapping's keys for it (`mapping.rs`).
    const EXPECTED_FIELDS: &str =
        "expected one of `tokens_per_sec`, `tokens_per_second`, `tps`, `throughput`, `tokens`, `num_tokens`, `seconds`, `dt`, `step_time`, `dt_ms`, `time_ms`, `elapsed_ms`, `iter_time_ms`, `step_time_ms`, `step`, `iter`, `iteration`, `loss`, `mfu`, `mfu_percent`, `mfu_pct`, `tokens_per_step`, `total_tokens`, `consumed_tokens`, `gpus`, `final`, `run`, `timestamp`, `time`, `ts`";
    const ALLOWED: &str = "use 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-'";

    #[test]
    fn valid_samples() {
        check(
            r#"{"tokens_per_sec": 1234.5}"#,
            "default: tokens_per_second=1234.5",
        );
        check(
            r#"{"tokens": 4096, "seconds": 2}"#,
            "default: tokens_per_second=2048 tokens=4096 step_seconds=2",
        );
        // A client's clock is accepted and ignored, under any of the usual names.
        for key in ["timestamp", "time", "ts"] {
            check(
                &format!(r#"{{"tokens": 4096, "seconds": 2, "{key}": "2024-05-01T12:00:00Z"}}"#),
                "default: tokens_per_second=2048 tokens=4096 step_seconds=2",
            );
        }
        check(
            r#"{"run": "llama-7b_v1.2", "tokens_per_sec": 5, "step": 3, "loss": 2.5, "mfu": 0.4}"#,
            "llama-7b_v1.2: tokens_per_second=5 step=3 loss=2.5 reported_mfu=0.4",
        );
        check(
            r#"[{"run": "a", "tokens_per_sec": 1}, {"run": "b", "tokens": 10, "seconds": 0.5}]"#,
            "a: tokens_per_second=1; b: tokens_per_second=20 tokens=10 step_seconds=0.5",
        );
        check(
            r#"{"tokens_per_sec": 5, "loss": null, "run": null, "tokens": null}"#,
            "default: tokens_per_second=5",
        );
        check(r#"{"tokens_per_sec": 0}"#, "default: tokens_per_second=0");
        check(
            r#"{"tokens": 0, "seconds": 1}"#,
            "default: tokens_per_second=0 tokens=0 step_seconds=1",
        );
        check(
            r#"{"tokens_per_sec": 1e12}"#,
            "default: tokens_per_second=1000000000000",
        );
        check(
            r#"{"tokens_per_sec": 1, "step": 12.0}"#,
            "default: tokens_per_second=1 step=12",
        );
        check(
            r#"{"tokens_per_sec": 1, "step": 0}"#,
            "default: tokens_per_second=1 step=0",
        );
        check(
            r#"{"tokens_per_sec": 1, "loss": -0.5}"#,
            "default: tokens_per_second=1 loss=-0.5",
        );
        check(
            r#"{"tokens_per_sec": 1, "mfu": 0}"#,
            "default: tokens_per_second=1 reported_mfu=0",
        );
        check(
            r#"{"tokens_per_sec": 1, "mfu": 1}"#,
            "default: tokens_per_second=1 reported_mfu=1",
        );
        check(
            "\u{feff} \r\n{\"tokens_per_sec\": 1}\r\n",
            "default: tokens_per_second=1",
        );
        check(
            r#"{"r\u0075n": "x", "tokens_per_sec": 1}"#,
            "x: tokens_per_second=1",
        );
    }

    #[test]
    fn malformed_bodies() {
        let send = r#"send a json object such as {"tokens_per_sec": 1234.5} or an array of them"#;
        check("", &format!("the body is empty; {send}"));
        check(" \r\n\t", &format!("the body is empty; {send}"));
        check(
            r#"{"tokens_per_sec": 1"#,
            &format!("malformed json: EOF while parsing an object at line 1 column 20; {send}"),
        );
        check(
            "step=1",
            &format!("malformed json: expected value at line 1 column 1; {send}"),
        );
        check(
            r#"{"tokens_per_sec": 1}{}"#,
            &format!("malformed json: trailing characters at line 1 column 22; {send}"),
        );
        check(
            r#"{"tokens_per_sec": 1,}"#,
            &format!("malformed json: trailing comma at line 1 column 22; {send}"),
        );
        check("{\"run\": \"\u{1}\", \"tokens_per_sec\": 1}", &format!("malformed json: control character (\\u0000-\\u001F) found while parsing a string at line 1 column 10; {send}"));
        assert_eq!(
            render(parse_push(b"{\"run\": \"\xff\", \"tokens_per_sec\": 1}")),
            format!("malformed json: invalid unicode code point at line 1 column 10; {send}")
        );
        check(
            r#"[{"tokens_per_sec": 1}, {"tokens_per_sec": 1]"#,
            &format!("element 1: malformed json: expected `,` or `}}` at line 1 column 45; {send}"),
        );
    }

    #[test]
    fn bodies_that_are_not_objects() {
        check(
            "42",
            "the body must be a json object or a non-empty array of objects, got number",
        );
        check(
            "-1.5",
            "the body must be a json object or a non-empty array of objects, got number",
        );
        check(
            r#""tokens""#,
            "the body must be a json object or a non-empty array of objects, got string",
        );
        check(
            "true",
            "the body must be a json object or a non-empty array of objects, got boolean",
        );
        check(
            "null",
            "the body must be a json object or a non-empty array of objects, got null",
        );
        check(
            "[]",
            "the body is an empty array; send at least one sample object",
        );
        check(
            " [ ] ",
            "the body is an empty array; send at least one sample object",
        );
        check(
            "[1]",
            "element 0: each sample must be a json object, got number",
        );
        check(
            r#"[{"tokens_per_sec": 1}, [1, 2]]"#,
            "element 1: each sample must be a json object, got array",
        );
        check(
            r#"[{"tokens_per_sec": 1}, null]"#,
            "element 1: each sample must be a json object, got null",
        );
        check(
            r#"[[100, null, null, null, null, null, null]]"#,
            "element 0: each sample must be a json object, got array",
        );
        check(
            &format!("[{}1{}]", "[".repeat(100_000), "]".repeat(100_000)),
            "element 0: each sample must be a json object, got array",
        );
    }

    #[test]
    fn unknown_and_repeated_fields() {
        check(
            r#"{"token_per_sec": 5}"#,
            &format!("unknown field `token_per_sec`, {EXPECTED_FIELDS} at line 1 column 16"),
        );
        check(
            r#"{"tokens_per_sec": 5, "Loss": 1}"#,
            &format!("unknown field `Loss`, {EXPECTED_FIELDS} at line 1 column 28"),
        );
        check(
            r#"[{"tokens_per_sec": 1}, {"tokens_per_sec": 1}, {"tokens_per_sec": 1}, {"tpm": 1}]"#,
            &format!("element 3: unknown field `tpm`, {EXPECTED_FIELDS} at line 1 column 76"),
        );
        // Two names of one field are one field given twice.
        check(
            r#"{"tokens_per_sec": 5, "tps": 5}"#,
            "`tokens_per_sec` and `tps` give the same field; send one of them at line 1 column 27",
        );
        check(
            r#"{"tokens": 1, "tokens": 2, "seconds": 1}"#,
            "duplicate field `tokens` at line 1 column 22",
        );
        // A megabyte of key is quoted by its first 64 characters only.
        let key = "k".repeat(1 << 20);
        let message = parse_push(format!("{{\"{key}\": 1}}").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(message.len() < 1024, "{} bytes", message.len());
        assert!(
            message.starts_with(&format!("unknown field `{}...`", "k".repeat(64))),
            "{message}"
        );
    }

    #[test]
    fn wrong_types() {
        check(
            r#"{"tokens_per_sec": "fast"}"#,
            "`tokens_per_sec` must be a number, got string \"fast\"; write it as a log would, e.g. 1234.5, \"1,234\", \"1.2k\" or \"34%\"",
        );
        check(
            r#"{"tokens_per_sec": true}"#,
            "`tokens_per_sec` must be a number, got boolean",
        );
        check(
            r#"{"tokens_per_sec": [5]}"#,
            "`tokens_per_sec` must be a number, got array",
        );
        check(
            r#"{"tps": {"value": 5}}"#,
            "`tps` must be a number, got object",
        );
        check(
            r#"{"tokens": 1, "seconds": false}"#,
            "`seconds` must be a number, got boolean",
        );
        check(
            r#"{"tokens_per_sec": 1, "step": "three"}"#,
            "`step` must be a whole number, got string",
        );
        check(
            r#"{"tokens_per_sec": 1, "run": 7}"#,
            "`run` must be a string, got number",
        );
        check(
            r#"{"tokens_per_sec": 1, "run": ["a"]}"#,
            "`run` must be a string, got array",
        );
        check(
            &format!(
                r#"{{"tokens_per_sec": 1, "loss": {}1{}}}"#,
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
            "`loss` must be a number, got array",
        );
    }

    /// The log parser's names and number forms (`mapping.rs`, `values.rs`) work in a push: the
    /// same JSON line the trainer logs can be pushed.
    #[test]
    fn log_names_and_number_forms() {
        for key in ["tokens_per_sec", "tokens_per_second", "tps", "throughput"] {
            check(
                &format!(r#"{{"{key}": 1234.5}}"#),
                "default: tokens_per_second=1234.5",
            );
        }
        check(r#"{"tokens_per_sec": "5"}"#, "default: tokens_per_second=5");
        check(
            r#"{"tokens_per_sec": "1,234"}"#,
            "default: tokens_per_second=1234",
        );
        check(
            r#"{"tps": "1.5k", "loss": "2.5"}"#,
            "default: tokens_per_second=1500 loss=2.5",
        );
        check(
            r#"{"num_tokens": 4096, "dt": 2}"#,
            "default: tokens_per_second=2048 tokens=4096 step_seconds=2",
        );
        check(
            r#"{"tokens": "4096", "step_time": "2"}"#,
            "default: tokens_per_second=2048 tokens=4096 step_seconds=2",
        );
        check(
            r#"{"tokens": 4096, "dt_ms": 500}"#,
            "default: tokens_per_second=8192 tokens=4096 step_seconds=0.5",
        );
        check(
            r#"{"tokens": 4096, "seconds": "0:00:02"}"#,
            "default: tokens_per_second=2048 tokens=4096 step_seconds=2",
        );
        check(
            r#"{"tps": 1, "iter": "12", "mfu": "40%"}"#,
            "default: tokens_per_second=1 step=12 reported_mfu=0.4",
        );
        check(
            r#"{"tps": 1, "mfu_percent": 40}"#,
            "default: tokens_per_second=1 reported_mfu=0.4",
        );
        check(
            r#"{"tps": 1, "total_tokens": 1000000, "tokens_per_step": 4096}"#,
            "default: tokens_per_second=1 tokens_per_step=4096 total_tokens=1000000",
        );
        check(
            r#"{"tps": "nan", "loss": 1}"#,
            "a push needs `tokens_per_sec`, or `tokens` and `seconds`",
        );
        check(r#"{"tps": -1}"#, "`tps` must not be negative, got -1");
        check(r#"{"dt": 2}"#, "`seconds` needs `tokens` too; send `tokens` and `seconds` together, or `tokens_per_sec` alone");
        check(
            r#"{"tps": 1, "mfu_percent": 4000}"#,
            "`mfu` must be a ratio from 0 to 1, got 40; divide a percentage by 100",
        );
    }

    #[test]
    fn throughput_combinations() {
        check(
            "{}",
            "a push needs `tokens_per_sec`, or `tokens` and `seconds`",
        );
        check(
            r#"{"loss": 2, "step": 3, "run": "a"}"#,
            "a push needs `tokens_per_sec`, or `tokens` and `seconds`",
        );
        check(r#"{"tokens": 4096}"#, "`tokens` needs `seconds` too; send `tokens` and `seconds` together, or `tokens_per_sec` alone");
        check(r#"{"seconds": 2}"#, "`seconds` needs `tokens` too; send `tokens` and `seconds` together, or `tokens_per_sec` alone");
        // A rate beside a count is accepted, as in a log line: the count counts, the rate is
        // the rate.
        check(
            r#"{"tokens_per_sec": 1, "tokens": 2, "seconds": 2}"#,
            "default: tokens_per_second=1 tokens=2 step_seconds=2",
        );
        check(
            r#"{"tokens_per_sec": 1, "seconds": 2}"#,
            "default: tokens_per_second=1 step_seconds=2",
        );
        check(
            r#"{"tokens_per_sec": 1, "tokens": 2}"#,
            "default: tokens_per_second=1 tokens=2",
        );
        // The per-field limits of every log format apply: no counter can become infinite.
        check(
            r#"{"run": "r", "tokens": 1e300, "seconds": 1e290}"#,
            "`tokens` is 1e300, above the limit of 10000000000000; check the units",
        );
        check(
            r#"{"tokens": 1000, "seconds": 1e9}"#,
            "`seconds` is 1000000000, above the limit of 604800; check the units",
        );
    }

    #[test]
    fn numbers_out_of_range() {
        let fit = "json numbers must fit a 64-bit float (at most about 1.8e308)";
        check(
            r#"{"tokens_per_sec": 1e999}"#,
            &format!("number out of range at line 1 column 24; {fit}"),
        );
        check(
            r#"{"tokens_per_sec": 1, "loss": -1e999}"#,
            &format!("number out of range at line 1 column 36; {fit}"),
        );
        check(
            r#"[{"tokens_per_sec": 1}, {"tokens_per_sec": 1e400}]"#,
            &format!("element 1: number out of range at line 1 column 48; {fit}"),
        );
        check(
            r#"{"tokens_per_sec": -1}"#,
            "`tokens_per_sec` must not be negative, got -1",
        );
        check(
            r#"{"tokens": -5, "seconds": 1}"#,
            "`tokens` must not be negative, got -5",
        );
        check(
            r#"{"tokens": 5, "seconds": -0.5}"#,
            "`seconds` must not be negative, got -0.5",
        );
        check(
            r#"{"tokens": 5, "seconds": 0}"#,
            "`seconds` must be above 0, got 0; send the time the tokens took",
        );
        check(
            r#"{"tokens": 5, "seconds": 0.0}"#,
            "`seconds` must be above 0, got 0; send the time the tokens took",
        );
        // Beside a rate, `seconds` is a step time: none that took no time (fuzz: push_body).
        check(
            r#"{"tokens_per_sec": 0,                "seconds":0}"#,
            "`seconds` must be above 0, got 0; send the time the tokens took",
        );
        check(
            r#"{"tokens_per_sec": 2e12}"#,
            "`tokens_per_sec` is 2e12 tokens per second, above the limit of 1e12; check the units",
        );
        check(r#"{"tokens": 1e13, "seconds": 1}"#, "`tokens` / `seconds` is 1e13 tokens per second, above the limit of 1e12; check the units");
        check(r#"{"tokens": 2e12, "seconds": 0.5}"#, "`tokens` / `seconds` is 4e12 tokens per second, above the limit of 1e12; check the units");
        check(
            r#"{"tokens_per_sec": 1, "step": -1}"#,
            "`step` must be a whole number 0 or more, got -1",
        );
        check(
            r#"{"tokens_per_sec": 1, "step": 12.5}"#,
            "`step` must be a whole number 0 or more, got 12.5",
        );
        check(
            r#"{"tokens_per_sec": 1, "step": 1e20}"#,
            "`step` must be a whole number 0 or more, got 1e20",
        );
        check(
            r#"{"tokens_per_sec": 1, "mfu": 45}"#,
            "`mfu` must be a ratio from 0 to 1, got 45; divide a percentage by 100",
        );
        check(
            r#"{"tokens_per_sec": 1, "mfu": -0.1}"#,
            "`mfu` must be a ratio from 0 to 1, got -0.1; divide a percentage by 100",
        );
        check(
            r#"{"tokens_per_sec": 1, "mfu": 1.0000001}"#,
            "`mfu` must be a ratio from 0 to 1, got 1.0000001; divide a percentage by 100",
        );
    }

    /// `gpus` credits the run with GPUs (a whole number from 1 to [`MAX_GPUS`]); `final` ends it.
    #[test]
    fn gpus_and_final() {
        check(
            r#"{"tokens_per_sec": 1, "gpus": 8}"#,
            "default: tokens_per_second=1 gpus=8",
        );
        check(
            r#"{"tokens_per_sec": 1, "gpus": 8.0, "final": true}"#,
            "default: tokens_per_second=1 gpus=8 final",
        );
        check(
            r#"{"tokens_per_sec": 1, "gpus": 1000000, "final": false}"#,
            "default: tokens_per_second=1 gpus=1000000",
        );
        check(
            r#"{"tokens_per_sec": 1, "gpus": null, "final": null}"#,
            "default: tokens_per_second=1",
        );
        let range = "must be a whole number from 1 to 1000000";
        let fix = "send the GPUs the throughput covers";
        for (gpus, shown) in [
            ("0", "0"),
            ("-8", "-8"),
            ("2.5", "2.5"),
            ("1000001", "1000001"),
            ("1e300", "1e300"),
            ("18446744073709551615", "18446744073709551615"),
        ] {
            check(
                &format!(r#"{{"tokens_per_sec": 1, "gpus": {gpus}}}"#),
                &format!("`gpus` {range}, got {shown}; {fix}"),
            );
        }
        // Numbers in strings, as a log writes them.
        check(
            r#"{"tokens_per_sec": 1, "gpus": "8"}"#,
            "default: tokens_per_second=1 gpus=8",
        );
        check(
            r#"{"tokens_per_sec": 1, "gpus": "eight"}"#,
            "`gpus` must be a whole number, got string",
        );
        check(
            r#"{"tokens_per_sec": 1, "final": 1}"#,
            "`final` must be true or false, got number",
        );
        check(
            r#"{"tokens_per_sec": 1, "final": "yes"}"#,
            "`final` must be true or false, got string",
        );
    }

    #[test]
    fn run_names_in_bodies() {
        check(
            r#"{"tokens_per_sec": 1, "run": ""}"#,
            &format!(r#"run name "" is invalid; {ALLOWED}"#),
        );
        check(
            r#"{"tokens_per_sec": 1, "run": "my run"}"#,
            &format!(r#"run name "my run" is invalid; {ALLOWED}"#),
        );
        check(
            r#"{"tokens_per_sec": 1, "run": "a\"b\n"}"#,
            &format!(r#"run name "a\"b\n" is invalid; {ALLOWED}"#),
        );
        check(
            r#"[{"tokens_per_sec": 1, "run": "ok"}, {"tokens_per_sec": 1, "run": "a/b"}]"#,
            &format!(r#"element 1: run name "a/b" is invalid; {ALLOWED}"#),
        );
    }

    #[track_caller]
    fn check_run_name(name: &str, expected: &str) {
        let actual = match validate_run_name(name) {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        assert_eq!(actual, expected, "{name:?}");
    }

    #[test]
    fn run_names() {
        check_run_name("default", "ok");
        check_run_name("a", "ok");
        check_run_name("llama-3.1_70B-run.2", "ok");
        check_run_name("..", "ok");
        check_run_name(&"x".repeat(64), "ok");
        check_run_name(
            &"x".repeat(65),
            &format!(r#"run name "{}"... is invalid; {ALLOWED}"#, "x".repeat(64)),
        );
        check_run_name("", &format!(r#"run name "" is invalid; {ALLOWED}"#));
        check_run_name("é", &format!(r#"run name "é" is invalid; {ALLOWED}"#));
        check_run_name(
            "run:1",
            &format!(r#"run name "run:1" is invalid; {ALLOWED}"#),
        );
        check_run_name(
            "run\u{0}",
            &format!(r#"run name "run\0" is invalid; {ALLOWED}"#),
        );
        assert_eq!(validate_run_name(DEFAULT_RUN), Ok(()));
    }

    #[test]
    fn sample_count_limit() {
        let body =
            |count: usize| format!("[{}]", vec![r#"{"tokens_per_sec": 1}"#; count].join(","));
        assert_eq!(
            parse_push(body(MAX_SAMPLES_PER_PUSH).as_bytes()).map(|samples| samples.len()),
            Ok(MAX_SAMPLES_PER_PUSH)
        );
        check(
            &body(MAX_SAMPLES_PER_PUSH + 1),
            "the body has more than 10000 samples; split it into several pushes",
        );
        check(
            &body(MAX_SAMPLES_PER_PUSH * 3),
            "the body has more than 10000 samples; split it into several pushes",
        );
    }

    #[test]
    fn the_first_problem_is_reported() {
        check(
            r#"[{"tokens_per_sec": 1}, {"tokens_per_sec": -1}, {"tps": 1}, 7]"#,
            "element 1: `tokens_per_sec` must not be negative, got -1",
        );
        check(r#"[{"tokens_per_sec": 1}, {"tokens": 1}, {"tokens_per_sec": 1,"#, "element 1: `tokens` needs `seconds` too; send `tokens` and `seconds` together, or `tokens_per_sec` alone");
        check(
            r#"{"run": "bad name", "tokens_per_sec": "x"}"#,
            &format!(r#"run name "bad name" is invalid; {ALLOWED}"#),
        );
    }
}
