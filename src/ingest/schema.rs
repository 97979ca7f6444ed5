//! Turns a JSON-lines log line into an [`Observation`] through a configurable [`FieldMapping`].
//!
//! The parser is pure and single-pass. It never builds a `serde_json::Value`: a custom visitor
//! walks the top-level object, looks each key up in a small prefix tree compiled from the mapping,
//! converts the values of mapped keys on the spot and skips every other value without allocating.
//! It descends into a nested object only when a dotted path or a JSON pointer in the mapping starts
//! with that object's key.
//!
//! Rules, in the order a line meets them:
//!
//! - The line must be UTF-8 ([`ParseErrorReason::InvalidUtf8`]) and one JSON value
//!   ([`ParseErrorReason::InvalidJson`]); a leading byte-order mark and surrounding whitespace
//!   (`\r` included) are tolerated, and a blank line is [`LineOutcome::Ignored`]. The value must be
//!   an object ([`ParseErrorReason::NotAnObject`]).
//! - Each field has a list of [`FieldSpec`]s; the first one present in the line wins. A mapped key
//!   whose value is `null` counts as absent. A path that runs into a non-object before its last
//!   segment counts as absent too.
//! - Every present mapped key is checked, even one that loses to an earlier spec, so a line never
//!   hides a broken value: a value that is not a number or a numeric string, a non-finite number, a
//!   negative token count, throughput or step time, a fractional or negative step, a reported MFU
//!   outside 0..=1 after scaling, a throughput field above its plausible limit (tokens/s over
//!   1e12, a step of over 1e13 tokens, a cumulative count over 1e17, a step over a week), or a
//!   timestamp that is neither a plausible number nor RFC 3339 makes the line
//!   [`ParseErrorReason::InvalidValue`]. The first such problem in the line is the one reported.
//!   When only descriptive fields were bad (loss, step, timestamp, reported MFU), the error keeps
//!   the rest of the line in [`LineError::kept`], so that its throughput still counts.
//! - When a key appears more than once in an object, the last non-null occurrence wins, as in
//!   `serde_json::Value`.
//! - A line with none of the throughput fields (see [`Observation::has_throughput`]) is
//!   [`LineOutcome::Ignored`]: evaluation lines, configuration dumps and the like.
//! - Numbers are taken as written, times the spec's scale. Numeric timestamps above 1e11 are taken
//!   as milliseconds, above 1e14 as microseconds and above 1e17 as nanoseconds. The scale does not
//!   apply to `step` or to RFC 3339 timestamps. JSON numbers too large for a 64-bit float are
//!   rejected by the JSON reader as [`ParseErrorReason::InvalidJson`] (`number out of range`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What one log line or push says about training progress. All optional; units in names.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// Throughput as the trainer reports it.
    pub tokens_per_second: Option<f64>,
    /// Tokens processed in this step.
    pub tokens: Option<f64>,
    /// Cumulative token count since the start of the run.
    pub total_tokens: Option<f64>,
    /// The step's duration.
    pub step_seconds: Option<f64>,
    /// The trainer's step counter.
    pub step: Option<u64>,
    /// The training loss.
    pub loss: Option<f64>,
    /// The trainer's own wall clock, Unix seconds.
    pub timestamp_seconds: Option<f64>,
    /// The trainer's own MFU as a ratio from 0 to 1.
    pub reported_mfu: Option<f64>,
}

impl Observation {
    /// Whether the observation says anything about throughput: `tokens_per_second`, `tokens` or
    /// `total_tokens`. A step duration alone is not throughput.
    pub fn has_throughput(&self) -> bool {
        self.tokens_per_second.is_some() || self.tokens.is_some() || self.total_tokens.is_some()
    }
}

/// What [`parse_line`] made of a well-formed line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineOutcome {
    /// The line reports throughput.
    Observation(Observation),
    /// A valid JSON object without any throughput field (an evaluation line, a configuration dump),
    /// or a blank line.
    Ignored,
}

/// Why a line was rejected; its label is meant for a Prometheus label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorReason {
    InvalidUtf8,
    InvalidJson,
    NotAnObject,
    InvalidValue,
}

impl ParseErrorReason {
    /// Every reason, for registering label values up front.
    pub const ALL: [ParseErrorReason; 4] = [
        ParseErrorReason::InvalidUtf8,
        ParseErrorReason::InvalidJson,
        ParseErrorReason::NotAnObject,
        ParseErrorReason::InvalidValue,
    ];

    /// The reason as a Prometheus label value.
    pub fn as_label(self) -> &'static str {
        match self {
            ParseErrorReason::InvalidUtf8 => "invalid_utf8",
            ParseErrorReason::InvalidJson => "invalid_json",
            ParseErrorReason::NotAnObject => "not_an_object",
            ParseErrorReason::InvalidValue => "invalid_value",
        }
    }
}

impl fmt::Display for ParseErrorReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_label())
    }
}

/// A rejected line: the reason to count it under and a message for the log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct LineError {
    pub reason: ParseErrorReason,
    pub detail: String,
    /// When only a descriptive field was bad (loss, step, timestamp, reported MFU), the rest of
    /// the line without it: its throughput still counts. `None` when the line is lost.
    pub kept: Option<Box<Observation>>,
}

/// A problem in a user's field mapping.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    #[error(
        "field path is empty; write a key such as \"tokens_per_sec\", a dotted path such as \"metrics.tps\" \
         or a json pointer such as \"/metrics/tps\""
    )]
    EmptyPath,
    #[error(
        "field path {} has an empty segment; remove the doubled, leading or trailing \".\", \
         or write a json pointer such as \"/metrics/tps\" for keys that contain dots",
        quote(.path)
    )]
    EmptySegment { path: String },
    #[error(
        "json pointer {} has an invalid escape; inside a pointer write \"~0\" for \"~\" and \"~1\" for \"/\"",
        quote(.pointer)
    )]
    InvalidPointerEscape { pointer: String },
    #[error(
        "unknown field {}; expected one of tokens_per_second, tokens, total_tokens, step_seconds, step, loss, \
         timestamp, reported_mfu",
        quote(.name)
    )]
    UnknownField { name: String },
    #[error(
        "scale {} for {} must be a finite number above 0, such as 0.001 for milliseconds or 0.01 for percent",
        float_text(*.scale),
        quote(.path)
    )]
    InvalidScale { path: String, scale: f64 },
}

/// An [`Observation`] field that a [`FieldMapping`] can point at log keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MappedField {
    TokensPerSecond,
    Tokens,
    TotalTokens,
    StepSeconds,
    Step,
    Loss,
    Timestamp,
    ReportedMfu,
}

impl MappedField {
    /// Every field, in the order of [`Observation`].
    pub const ALL: [MappedField; 8] = [
        MappedField::TokensPerSecond,
        MappedField::Tokens,
        MappedField::TotalTokens,
        MappedField::StepSeconds,
        MappedField::Step,
        MappedField::Loss,
        MappedField::Timestamp,
        MappedField::ReportedMfu,
    ];

    /// The name users write in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            MappedField::TokensPerSecond => "tokens_per_second",
            MappedField::Tokens => "tokens",
            MappedField::TotalTokens => "total_tokens",
            MappedField::StepSeconds => "step_seconds",
            MappedField::Step => "step",
            MappedField::Loss => "loss",
            MappedField::Timestamp => "timestamp",
            MappedField::ReportedMfu => "reported_mfu",
        }
    }
}

impl fmt::Display for MappedField {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for MappedField {
    type Err = MappingError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        MappedField::ALL
            .into_iter()
            .find(|field| field.as_str() == name)
            .ok_or_else(|| MappingError::UnknownField {
                name: name.to_owned(),
            })
    }
}

/// Where a value sits in a log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldPath {
    /// A top-level key, matched exactly (it may contain dots or slashes when it comes from a JSON
    /// pointer).
    Key(String),
    /// Keys of nested objects, outermost first; parsed from a dotted path or a JSON pointer. An
    /// empty list matches nothing.
    Pointer(Vec<String>),
}

impl FieldPath {
    /// Parses user text: `"tps"` (a top-level key), `"metrics.tps"` (a dotted path) or
    /// `"/metrics/tps"` (a JSON pointer, with `~0` for `~` and `~1` for `/`). A single segment
    /// always becomes [`FieldPath::Key`], so `"/train.loss"` is the top-level key `train.loss`, and
    /// `"train/loss"` is the top-level key `train/loss`.
    pub fn parse(text: &str) -> Result<FieldPath, MappingError> {
        if text.is_empty() {
            return Err(MappingError::EmptyPath);
        }
        let segments = match text.strip_prefix('/') {
            Some(pointer) => pointer
                .split('/')
                .map(unescape_pointer_segment)
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| MappingError::InvalidPointerEscape {
                    pointer: text.to_owned(),
                })?,
            None => {
                if text.split('.').any(str::is_empty) {
                    return Err(MappingError::EmptySegment {
                        path: text.to_owned(),
                    });
                }
                text.split('.').map(str::to_owned).collect()
            }
        };
        Ok(FieldPath::from_segments(segments))
    }

    fn from_segments(mut segments: Vec<String>) -> FieldPath {
        if segments.len() == 1 {
            if let Some(key) = segments.pop() {
                return FieldPath::Key(key);
            }
        }
        FieldPath::Pointer(segments)
    }

    /// The keys to follow, outermost first.
    pub fn segments(&self) -> &[String] {
        match self {
            FieldPath::Key(key) => std::slice::from_ref(key),
            FieldPath::Pointer(segments) => segments,
        }
    }
}

impl FromStr for FieldPath {
    type Err = MappingError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FieldPath::parse(text)
    }
}

/// Writes the path the way [`FieldPath::parse`] reads it back: a plain key, a dotted path when
/// every segment allows it, and a JSON pointer otherwise.
impl fmt::Display for FieldPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let segments = self.segments();
        let plain = |segment: &String| {
            !segment.is_empty() && !segment.contains('.') && !segment.starts_with('/')
        };
        if !segments.is_empty() && segments.iter().all(plain) {
            return formatter.write_str(&segments.join("."));
        }
        for segment in segments {
            formatter.write_str("/")?;
            formatter.write_str(&segment.replace('~', "~0").replace('/', "~1"))?;
        }
        Ok(())
    }
}

/// Undoes the `~0` and `~1` escapes of one JSON pointer segment; `None` for any other `~`.
fn unescape_pointer_segment(segment: &str) -> Option<String> {
    let mut unescaped = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => unescaped.push('~'),
                Some('1') => unescaped.push('/'),
                _ => return None,
            }
        } else {
            unescaped.push(c);
        }
    }
    Some(unescaped)
}

/// One place to look for a field, and the factor that converts what is found there to the field's
/// base unit.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub path: FieldPath,
    /// Multiplies the logged number: 0.001 for milliseconds, 0.01 for a percentage.
    pub scale: f64,
}

impl FieldSpec {
    /// A spec with a checked scale (finite and above 0).
    pub fn new(path: FieldPath, scale: f64) -> Result<FieldSpec, MappingError> {
        if scale.is_finite() && scale > 0.0 {
            Ok(FieldSpec { path, scale })
        } else {
            Err(MappingError::InvalidScale {
                path: path.to_string(),
                scale,
            })
        }
    }

    /// A top-level key with scale 1.
    pub fn key(key: &str) -> FieldSpec {
        FieldSpec::scaled_key(key, 1.0)
    }

    fn scaled_key(key: &str, scale: f64) -> FieldSpec {
        FieldSpec {
            path: FieldPath::Key(key.to_owned()),
            scale,
        }
    }
}

/// One value per [`MappedField`], reached without indexing.
#[derive(Debug, Clone, PartialEq, Default)]
struct PerField<T> {
    tokens_per_second: T,
    tokens: T,
    total_tokens: T,
    step_seconds: T,
    step: T,
    loss: T,
    timestamp: T,
    reported_mfu: T,
}

impl<T> PerField<T> {
    fn get(&self, field: MappedField) -> &T {
        match field {
            MappedField::TokensPerSecond => &self.tokens_per_second,
            MappedField::Tokens => &self.tokens,
            MappedField::TotalTokens => &self.total_tokens,
            MappedField::StepSeconds => &self.step_seconds,
            MappedField::Step => &self.step,
            MappedField::Loss => &self.loss,
            MappedField::Timestamp => &self.timestamp,
            MappedField::ReportedMfu => &self.reported_mfu,
        }
    }

    fn get_mut(&mut self, field: MappedField) -> &mut T {
        match field {
            MappedField::TokensPerSecond => &mut self.tokens_per_second,
            MappedField::Tokens => &mut self.tokens,
            MappedField::TotalTokens => &mut self.total_tokens,
            MappedField::StepSeconds => &mut self.step_seconds,
            MappedField::Step => &mut self.step,
            MappedField::Loss => &mut self.loss,
            MappedField::Timestamp => &mut self.timestamp,
            MappedField::ReportedMfu => &mut self.reported_mfu,
        }
    }
}

/// Which log keys feed which [`Observation`] field: per field, a list of specs tried in order (the
/// first present wins). Built from [`FieldMapping::default`] and changed with
/// [`FieldMapping::with_override`].
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    specs: PerField<Vec<FieldSpec>>,
    /// The specs as a prefix tree over path segments, rebuilt whenever the specs change.
    root: PathNode,
}

impl Default for FieldMapping {
    /// The keys common training loops log: `tokens_per_sec`, `tokens_per_second`, `tps`,
    /// `throughput`; `tokens`, `tokens_per_step`, `num_tokens`; `total_tokens`, `consumed_tokens`;
    /// `dt`, `step_time` (seconds), `iter_time_ms`, `step_time_ms` (milliseconds); `step`, `iter`,
    /// `iteration`; `loss`; `time`, `timestamp`, `ts`; `mfu` (a ratio), `mfu_percent`, `mfu_pct`
    /// (percent).
    fn default() -> Self {
        let keys = |keys: &[&str]| {
            keys.iter()
                .map(|key| FieldSpec::key(key))
                .collect::<Vec<_>>()
        };
        let specs = PerField {
            tokens_per_second: keys(&["tokens_per_sec", "tokens_per_second", "tps", "throughput"]),
            tokens: keys(&["tokens", "tokens_per_step", "num_tokens"]),
            total_tokens: keys(&["total_tokens", "consumed_tokens"]),
            step_seconds: vec![
                FieldSpec::key("dt"),
                FieldSpec::key("step_time"),
                FieldSpec::scaled_key("iter_time_ms", 0.001),
                FieldSpec::scaled_key("step_time_ms", 0.001),
            ],
            step: keys(&["step", "iter", "iteration"]),
            loss: keys(&["loss"]),
            timestamp: keys(&["time", "timestamp", "ts"]),
            reported_mfu: vec![
                FieldSpec::key("mfu"),
                FieldSpec::scaled_key("mfu_percent", 0.01),
                FieldSpec::scaled_key("mfu_pct", 0.01),
            ],
        };
        let root = PathNode::build(&specs);
        FieldMapping { specs, root }
    }
}

impl FieldMapping {
    /// Replaces the list of specs for one field; an empty list turns the field off.
    pub fn with_override(mut self, field: MappedField, specs: Vec<FieldSpec>) -> Self {
        *self.specs.get_mut(field) = specs;
        self.root = PathNode::build(&self.specs);
        self
    }

    /// The specs for one field, in the order they are tried.
    pub fn specs(&self, field: MappedField) -> &[FieldSpec] {
        self.specs.get(field)
    }
}

/// A node of the mapping's prefix tree: what the value at this path feeds, and the keys below it
/// that matter.
#[derive(Debug, Clone, PartialEq, Default)]
struct PathNode {
    children: Vec<Child>,
    targets: Vec<Target>,
}

/// A key below a node, with a fingerprint that settles most comparisons without a call to `memcmp`,
/// which dominated the cost of matching short keys.
#[derive(Debug, Clone, PartialEq)]
struct Child {
    key: String,
    fingerprint: KeyFingerprint,
    node: PathNode,
}

/// A key's length and its first eight bytes; for keys up to eight bytes long it is the whole key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyFingerprint {
    length: usize,
    head: u64,
}

impl KeyFingerprint {
    const HEAD_BYTES: usize = 8;

    fn of(key: &[u8]) -> KeyFingerprint {
        let mut head = [0; Self::HEAD_BYTES];
        for (slot, byte) in head.iter_mut().zip(key) {
            *slot = *byte;
        }
        KeyFingerprint {
            length: key.len(),
            head: u64::from_le_bytes(head),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Target {
    field: MappedField,
    /// The spec's position in its field's list; lower wins.
    priority: usize,
    spec: FieldSpec,
}

#[derive(Default)]
struct PathNodeBuilder {
    children: BTreeMap<String, PathNodeBuilder>,
    targets: Vec<Target>,
}

impl PathNodeBuilder {
    fn finish(self) -> PathNode {
        PathNode {
            children: self
                .children
                .into_iter()
                .map(|(key, child)| Child {
                    fingerprint: KeyFingerprint::of(key.as_bytes()),
                    key,
                    node: child.finish(),
                })
                .collect(),
            targets: self.targets,
        }
    }
}

impl PathNode {
    fn build(specs: &PerField<Vec<FieldSpec>>) -> PathNode {
        let mut root = PathNodeBuilder::default();
        for field in MappedField::ALL {
            for (priority, spec) in specs.get(field).iter().enumerate() {
                let segments = spec.path.segments();
                if segments.is_empty() {
                    continue;
                }
                let mut node = &mut root;
                for segment in segments {
                    node = node.children.entry(segment.clone()).or_default();
                }
                node.targets.push(Target {
                    field,
                    priority,
                    spec: spec.clone(),
                });
            }
        }
        root.finish()
    }

    fn child(&self, key: &str) -> Option<&PathNode> {
        let key = key.as_bytes();
        let fingerprint = KeyFingerprint::of(key);
        let tail = key.get(KeyFingerprint::HEAD_BYTES..);
        self.children
            .iter()
            .find(|child| {
                child.fingerprint == fingerprint
                    && child.key.as_bytes().get(KeyFingerprint::HEAD_BYTES..) == tail
            })
            .map(|child| &child.node)
    }
}

/// Parses one log line (without its `\n`) into an observation, using `mapping` to find the fields.
pub fn parse_line(line: &[u8], mapping: &FieldMapping) -> Result<LineOutcome, LineError> {
    let text = std::str::from_utf8(line).map_err(|error| LineError {
        reason: ParseErrorReason::InvalidUtf8,
        detail: format!(
            "line is not valid utf-8 (invalid byte at offset {}) in {}; write the log as utf-8",
            error.valid_up_to(),
            quote(&String::from_utf8_lossy(line))
        ),
        kept: None,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_ascii().is_empty() {
        return Ok(LineOutcome::Ignored);
    }

    let mut state = LineState::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let top_level = de::Deserializer::deserialize_any(
        &mut deserializer,
        TopLevel {
            node: &mapping.root,
            state: &mut state,
        },
    )
    .and_then(|top_level| deserializer.end().map(|()| top_level))
    .map_err(|error| LineError {
        reason: ParseErrorReason::InvalidJson,
        detail: format!(
            "invalid json ({error}) in {}; write each log line as one json object",
            quote(text)
        ),
        kept: None,
    })?;
    if let Some(kind) = top_level {
        return Err(LineError {
            reason: ParseErrorReason::NotAnObject,
            detail: format!(
                "line is a json {kind}, not an object: {}; write each log line as one json object",
                quote(text)
            ),
            kept: None,
        });
    }
    let found = &state.found;
    let real = |field| match found.get(field) {
        Some(Found {
            value: FieldValue::Real(value),
            ..
        }) => Some(*value),
        _ => None,
    };
    let step = match found.step {
        Some(Found {
            value: FieldValue::Count(step),
            ..
        }) => Some(step),
        _ => None,
    };
    let observation = Observation {
        tokens_per_second: real(MappedField::TokensPerSecond),
        tokens: real(MappedField::Tokens),
        total_tokens: real(MappedField::TotalTokens),
        step_seconds: real(MappedField::StepSeconds),
        step,
        loss: real(MappedField::Loss),
        timestamp_seconds: real(MappedField::Timestamp),
        reported_mfu: real(MappedField::ReportedMfu),
    };
    if let Some(detail) = state.first_error {
        // A bad throughput field loses the line; a bad descriptive field only loses itself.
        let kept = (!state.throughput_error && observation.has_throughput())
            .then(|| Box::new(observation));
        return Err(LineError {
            reason: ParseErrorReason::InvalidValue,
            detail,
            kept,
        });
    }
    if observation.has_throughput() {
        Ok(LineOutcome::Observation(observation))
    } else {
        Ok(LineOutcome::Ignored)
    }
}

/// What the walk over one line has found so far.
#[derive(Default)]
struct LineState {
    found: PerField<Option<Found>>,
    first_error: Option<String>,
    /// Whether any of the problems was in a throughput field.
    throughput_error: bool,
}

#[derive(Debug, Clone, Copy)]
struct Found {
    priority: usize,
    value: FieldValue,
}

#[derive(Debug, Clone, Copy)]
enum FieldValue {
    Real(f64),
    Count(u64),
}

impl LineState {
    /// Converts a value found at `node` for every field that node feeds.
    fn record(&mut self, node: &PathNode, raw: Raw<'_>) {
        for target in &node.targets {
            match convert(target.field, &target.spec, raw) {
                Ok(value) => {
                    let slot = self.found.get_mut(target.field);
                    // `<=`: a later duplicate of the same key replaces the earlier one.
                    if slot.is_none_or(|found| target.priority <= found.priority) {
                        *slot = Some(Found {
                            priority: target.priority,
                            value,
                        });
                    }
                }
                Err(problem) => {
                    self.throughput_error |= matches!(
                        target.field,
                        MappedField::TokensPerSecond
                            | MappedField::Tokens
                            | MappedField::TotalTokens
                            | MappedField::StepSeconds
                    );
                    if self.first_error.is_none() {
                        self.first_error = Some(format!(
                            "key {} ({}) {problem}",
                            quote(&target.spec.path.to_string()),
                            target.field
                        ));
                    }
                }
            }
        }
    }
}

/// A JSON value as the walk meets it; strings are borrowed from the line or from the reader's
/// scratch buffer.
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Array,
    Object,
}

impl fmt::Display for Raw<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Unsigned(value) => write!(formatter, "{value}"),
            Raw::Signed(value) => write!(formatter, "{value}"),
            Raw::Float(value) => formatter.write_str(&float_text(*value)),
            Raw::Str(text) => write!(formatter, "string {}", quote(text)),
            Raw::Bool(value) => write!(formatter, "boolean {value}"),
            Raw::Array => formatter.write_str("an array"),
            Raw::Object => formatter.write_str("an object"),
        }
    }
}

/// Converts one raw value into a field's base unit, or says what is wrong with it (the caller names
/// the key).
fn convert(field: MappedField, spec: &FieldSpec, raw: Raw<'_>) -> Result<FieldValue, String> {
    match field {
        MappedField::Step => convert_step(raw).map(FieldValue::Count),
        MappedField::Timestamp => convert_timestamp(spec.scale, raw).map(FieldValue::Real),
        MappedField::TokensPerSecond
        | MappedField::Tokens
        | MappedField::TotalTokens
        | MappedField::StepSeconds => {
            let value = scaled_number(field, spec.scale, raw)?;
            if value < 0.0 {
                return Err(format!(
                    "must be 0 or more, got {raw}; check that the key holds {field}"
                ));
            }
            let limit = plausible_limit(field);
            if value > limit {
                return Err(format!(
                    "is {raw}, above the plausible limit of {} for {field}; check that the key holds {field} and its unit",
                    float_text(limit)
                ));
            }
            Ok(FieldValue::Real(value))
        }
        MappedField::Loss => scaled_number(field, spec.scale, raw).map(FieldValue::Real),
        MappedField::ReportedMfu => {
            let value = scaled_number(field, spec.scale, raw)?;
            if (0.0..=1.0).contains(&value) {
                Ok(FieldValue::Real(value))
            } else if spec.scale == 1.0 && value > 1.0 && value <= 100.0 {
                Err(format!(
                    "must be a ratio from 0 to 1, got {raw}, which looks like percent; if the trainer logs \
                     percent, map reported_mfu to this key with scale 0.01"
                ))
            } else {
                Err(format!(
                    "must be from 0 to 1 after scaling by {}, got {raw}; check the key and its scale",
                    float_text(spec.scale)
                ))
            }
        }
    }
}

/// The largest value a throughput field can plausibly hold: far beyond any cluster, yet small
/// enough that sums and rates built from it stay finite.
fn plausible_limit(field: MappedField) -> f64 {
    match field {
        // The same bound pushes have.
        MappedField::TokensPerSecond => 1e12,
        // One step of a trillion-token batch ten times over.
        MappedField::Tokens => 1e13,
        // A hundred times the largest training corpora.
        MappedField::TotalTokens => 1e17,
        // A week.
        MappedField::StepSeconds => 604_800.0,
        _ => f64::MAX,
    }
}

/// A finite number from a JSON number or a numeric string, times `scale`.
fn scaled_number(field: MappedField, scale: f64, raw: Raw<'_>) -> Result<f64, String> {
    let value = match raw {
        Raw::Unsigned(value) => value as f64,
        Raw::Signed(value) => value as f64,
        Raw::Float(value) => value,
        Raw::Str(text) => text
            .trim()
            .parse::<f64>()
            .map_err(|_| not_a_number(field, raw))?,
        Raw::Bool(_) | Raw::Array | Raw::Object => return Err(not_a_number(field, raw)),
    };
    let scaled = apply_scale(value, scale);
    if scaled.is_finite() {
        Ok(scaled)
    } else if value.is_finite() {
        Err(format!(
            "is {raw}, which is not finite after scaling by {}; check the scale",
            float_text(scale)
        ))
    } else {
        Err(format!("must be finite, got {raw}; log a finite number"))
    }
}

/// Multiplies by the scale, dividing instead when the scale is the inverse of a whole number, so
/// that 41 at scale 0.01 gives exactly 0.41 rather than 0.41000000000000003.
fn apply_scale(value: f64, scale: f64) -> f64 {
    let inverse = 1.0 / scale;
    if scale == 1.0 {
        value
    } else if inverse.fract() == 0.0 && inverse > 1.0 {
        value / inverse
    } else {
        value * scale
    }
}

fn not_a_number(field: MappedField, raw: Raw<'_>) -> String {
    format!("must be a number or a numeric string, got {raw}; log a number there or map {field} to another key")
}

fn convert_step(raw: Raw<'_>) -> Result<u64, String> {
    let invalid =
        || format!("must be a whole number 0 or more, got {raw}; log the step as an integer");
    let whole = |value: f64| {
        // 2^64 is exactly representable; every integral float below it fits a u64.
        if value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&value) {
            Ok(value as u64)
        } else {
            Err(invalid())
        }
    };
    match raw {
        Raw::Unsigned(value) => Ok(value),
        Raw::Float(value) => whole(value),
        Raw::Str(text) => {
            let text = text.trim();
            match text.parse::<u64>() {
                Ok(value) => Ok(value),
                Err(_) => whole(text.parse::<f64>().map_err(|_| invalid())?),
            }
        }
        Raw::Signed(_) | Raw::Bool(_) | Raw::Array | Raw::Object => Err(invalid()),
    }
}

fn convert_timestamp(scale: f64, raw: Raw<'_>) -> Result<f64, String> {
    let invalid = || {
        format!(
            "must be unix seconds (or milliseconds, microseconds, nanoseconds) or an rfc 3339 time such as \
             \"2024-05-01T12:00:00Z\", got {raw}"
        )
    };
    let number = match raw {
        // Whole seconds and the fraction apart, so that nanoseconds keep their precision beyond
        // 2^53.
        Raw::Unsigned(value) if scale == 1.0 => {
            let units_per_second: u64 = match value {
                0..=100_000_000_000 => 1,
                100_000_000_001..=100_000_000_000_000 => 1_000,
                100_000_000_000_001..=100_000_000_000_000_000 => 1_000_000,
                _ => 1_000_000_000,
            };
            let fraction = (value % units_per_second) as f64 / units_per_second as f64;
            return Ok((value / units_per_second) as f64 + fraction);
        }
        Raw::Unsigned(value) => value as f64,
        Raw::Signed(value) => value as f64,
        Raw::Float(value) => value,
        Raw::Str(text) => {
            let text = text.trim();
            match parse_rfc3339_seconds(text) {
                Some(seconds) if seconds >= 0.0 => return Ok(seconds),
                Some(_) => return Err(format!("must not be before 1970, got {raw}")),
                None => text.parse::<f64>().map_err(|_| invalid())?,
            }
        }
        Raw::Bool(_) | Raw::Array | Raw::Object => return Err(invalid()),
    };
    let scaled = apply_scale(number, scale);
    if !scaled.is_finite() {
        return Err(invalid());
    }
    if scaled < 0.0 {
        return Err(format!("must not be before 1970, got {raw}"));
    }
    // Unix seconds stay below 1e11 until the year 5138, so larger numbers are finer units.
    Ok(if scaled > 1e17 {
        scaled / 1e9
    } else if scaled > 1e14 {
        scaled / 1e6
    } else if scaled > 1e11 {
        scaled / 1e3
    } else {
        scaled
    })
}

/// Reads `YYYY-MM-DD(T|t| )HH:MM[:SS[(.|,)fraction]][Z|z|±HH[:MM]|±HHMM]` as Unix seconds; no
/// offset means UTC.
fn parse_rfc3339_seconds(text: &str) -> Option<f64> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        position: 0,
    };
    let year = cursor.digits(4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    if !matches!(cursor.next()?, b'T' | b't' | b' ') {
        return None;
    }
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    let mut second = 0;
    let mut fraction = 0.0;
    if cursor.eat(b':') {
        second = cursor.digits(2)?;
        if cursor.eat(b'.') || cursor.eat(b',') {
            fraction = cursor.fraction()?;
        }
    }
    let offset_seconds = match cursor.next() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let offset_hours = cursor.digits(2)?;
            let offset_minutes = if cursor.is_at_end() {
                0
            } else {
                cursor.eat(b':');
                cursor.digits(2)?
            };
            if offset_hours > 23 || offset_minutes > 59 {
                return None;
            }
            let magnitude = i64::from(offset_hours * 3600 + offset_minutes * 60);
            if sign == b'+' {
                magnitude
            } else {
                -magnitude
            }
        }
        Some(_) => return None,
    };
    if !cursor.is_at_end()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(seconds as f64 + fraction)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn is_at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn eat(&mut self, expected: u8) -> bool {
        let matches = self.peek() == Some(expected);
        if matches {
            self.position += 1;
        }
        matches
    }

    fn expect(&mut self, expected: u8) -> Option<()> {
        self.eat(expected).then_some(())
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let mut value = 0;
        for _ in 0..count {
            let digit = self.next().filter(u8::is_ascii_digit)?;
            value = value * 10 + u32::from(digit - b'0');
        }
        Some(value)
    }

    /// One or more digits after a decimal sign, as a fraction of a second; digits past nanoseconds
    /// are read but do not count.
    fn fraction(&mut self) -> Option<f64> {
        let mut numerator: u64 = 0;
        let mut denominator: u64 = 1;
        let mut count = 0;
        while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
            self.position += 1;
            count += 1;
            if count <= 9 {
                numerator = numerator * 10 + u64::from(digit - b'0');
                denominator *= 10;
            }
        }
        (count > 0).then(|| numerator as f64 / denominator as f64)
    }
}

fn is_leap_year(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date. Counting years from March puts the leap day
/// at the end of the year, so each 400-year era has the same 146,097 days.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year_from_march = if month <= 2 { year - 1 } else { year };
    let era = year_from_march.div_euclid(400);
    let year_of_era = year_from_march - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719,468 days lie between 0000-03-01 and 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The top-level visitor: walks an object, or notes which other kind of value the line holds.
struct TopLevel<'n, 's> {
    node: &'n PathNode,
    state: &'s mut LineState,
}

/// What the top level of a line turned out to be: `None` for an object, or the name of the other
/// kind.
type TopLevelKind = Option<&'static str>;

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = TopLevelKind;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        walk_object(map, self.node, self.state)?;
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Some("array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Some("string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Some("boolean"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some("number"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some("number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some("number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some("null"))
    }
}

/// Visits every entry of an object, descending only into keys that `node` knows.
fn walk_object<'de, A: MapAccess<'de>>(
    mut map: A,
    node: &PathNode,
    state: &mut LineState,
) -> Result<(), A::Error> {
    while let Some(child) = map.next_key_seed(KeyLookup { node })? {
        match child {
            Some(child) => map.next_value_seed(MappedValue {
                node: child,
                state: &mut *state,
            })?,
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// Looks a key up among a node's children without copying it.
struct KeyLookup<'n> {
    node: &'n PathNode,
}

impl<'de, 'n> DeserializeSeed<'de> for KeyLookup<'n> {
    type Value = Option<&'n PathNode>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'n> Visitor<'de> for KeyLookup<'n> {
    type Value = Option<&'n PathNode>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.node.child(key))
    }
}

/// The value of a key the mapping knows: recorded for the node's fields, and walked into for deeper
/// paths.
struct MappedValue<'n, 's> {
    node: &'n PathNode,
    state: &'s mut LineState,
}

impl<'de> DeserializeSeed<'de> for MappedValue<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MappedValue<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any json value")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.state.record(self.node, Raw::Unsigned(value));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.state.record(self.node, Raw::Signed(value));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.state.record(self.node, Raw::Float(value));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.state.record(self.node, Raw::Str(value));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.state.record(self.node, Raw::Bool(value));
        Ok(())
    }

    /// `null` counts as absent.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.state.record(self.node, Raw::Array);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.node.children.is_empty() {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        } else {
            walk_object(map, self.node, &mut *self.state)?;
        }
        self.state.record(self.node, Raw::Object);
        Ok(())
    }
}

/// The longest stretch of a hostile value that a message quotes.
const QUOTE_LIMIT_CHARS: usize = 64;

/// Quotes text for a message, escaped, and cut to [`QUOTE_LIMIT_CHARS`] characters with a trailing
/// `...`.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}...", text.get(..cut).unwrap_or_default()),
    }
}

/// A float for a message: plain digits for everyday magnitudes, exponent notation for extreme ones.
pub(crate) fn float_text(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e16).contains(&magnitude) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders an outcome as one line: the present fields as `name=value`, `ignored`, or `label:
    /// detail`.
    fn render(result: Result<LineOutcome, LineError>) -> String {
        match result {
            Ok(LineOutcome::Ignored) => "ignored".to_owned(),
            Ok(LineOutcome::Observation(observation)) => render_observation(&observation),
            Err(error) => format!("{}: {}", error.reason.as_label(), error.detail),
        }
    }

    fn render_observation(observation: &Observation) -> String {
        let Observation {
            tokens_per_second,
            tokens,
            total_tokens,
            step_seconds,
            step,
            loss,
            timestamp_seconds,
            reported_mfu,
        } = *observation;
        let reals = [
            ("tokens_per_second", tokens_per_second),
            ("tokens", tokens),
            ("total_tokens", total_tokens),
            ("step_seconds", step_seconds),
        ];
        let mut parts: Vec<String> = reals
            .iter()
            .filter_map(|(name, value)| value.map(|value| format!("{name}={}", float_text(value))))
            .collect();
        parts.extend(step.map(|step| format!("step={step}")));
        let more = [
            ("loss", loss),
            ("timestamp_seconds", timestamp_seconds),
            ("reported_mfu", reported_mfu),
        ];
        parts.extend(more.iter().filter_map(|(name, value)| {
            value.map(|value| format!("{name}={}", float_text(value)))
        }));
        parts.join(" ")
    }

    /// Compares the rendered outcome with `expected`; an expected text ending in `…` only has to be
    /// a prefix.
    #[track_caller]
    fn check_with(mapping: &FieldMapping, line: &str, expected: &str) {
        let actual = render(parse_line(line.as_bytes(), mapping));
        match expected.strip_suffix('…') {
            Some(prefix) => assert!(
                actual.starts_with(prefix),
                "line {line:?}\n  actual: {actual}\nexpected: {expected}"
            ),
            None => assert_eq!(actual, expected, "line {line:?}"),
        }
    }

    #[track_caller]
    fn check(line: &str, expected: &str) {
        check_with(&FieldMapping::default(), line, expected);
    }

    #[test]
    fn a_bad_descriptive_field_keeps_the_throughput() {
        let check_kept = |line: &str, kept: Option<&str>| {
            let error = parse_line(line.as_bytes(), &FieldMapping::default()).unwrap_err();
            assert_eq!(error.reason, ParseErrorReason::InvalidValue, "{line}");
            assert_eq!(
                error.kept.as_deref().map(render_observation).as_deref(),
                kept,
                "{line}"
            );
        };
        check_kept(
            r#"{"tokens": 1000, "dt": 0.5, "mfu": 45.3}"#,
            Some("tokens=1000 step_seconds=0.5"),
        );
        check_kept(
            r#"{"tps": 10, "step": 1e30, "loss": 2}"#,
            Some("tokens_per_second=10 loss=2"),
        );
        check_kept(
            r#"{"tps": 10, "ts": "2024-02-30T00:00:00Z"}"#,
            Some("tokens_per_second=10"),
        );
        // A bad throughput field loses the line; so does a line with nothing else to keep.
        check_kept(r#"{"tps": "fast", "loss": 2}"#, None);
        check_kept(r#"{"loss": "high"}"#, None);
    }

    #[test]
    fn throughput_beyond_plausible_limits_is_refused() {
        check(r#"{"tps": 2e12}"#, "invalid_value: key \"tps\" (tokens_per_second) is 2000000000000, above the plausible limit of 1000000000000…");
        check(
            r#"{"tokens": 1e15, "dt": 1}"#,
            "invalid_value: key \"tokens\" (tokens) is 1000000000000000, above…",
        );
        check(
            r#"{"total_tokens": 1.7e308}"#,
            "invalid_value: key \"total_tokens\" (total_tokens) is…",
        );
        check(
            r#"{"tokens": 10, "dt": 1e9}"#,
            "invalid_value: key \"dt\" (step_seconds) is 1000000000, above…",
        );
        check(
            r#"{"tps": 1e12, "dt": 604800}"#,
            "tokens_per_second=1000000000000 step_seconds=604800",
        );
    }

    #[test]
    fn default_keys() {
        check(r#"{"tokens_per_sec": 1234.5}"#, "tokens_per_second=1234.5");
        check(r#"{"tokens_per_second": 10}"#, "tokens_per_second=10");
        check(r#"{"tps": 7}"#, "tokens_per_second=7");
        check(r#"{"throughput": 7}"#, "tokens_per_second=7");
        check(r#"{"tokens": 4096}"#, "tokens=4096");
        check(r#"{"tokens_per_step": 4096}"#, "tokens=4096");
        check(r#"{"num_tokens": 4096}"#, "tokens=4096");
        check(r#"{"total_tokens": 1e9}"#, "total_tokens=1000000000");
        check(r#"{"consumed_tokens": 5}"#, "total_tokens=5");
        check(
            r#"{"tps": 1, "dt": 0.5}"#,
            "tokens_per_second=1 step_seconds=0.5",
        );
        check(
            r#"{"tps": 1, "step_time": 2}"#,
            "tokens_per_second=1 step_seconds=2",
        );
        check(
            r#"{"tps": 1, "iter_time_ms": 250}"#,
            "tokens_per_second=1 step_seconds=0.25",
        );
        check(
            r#"{"tps": 1, "step_time_ms": 1500}"#,
            "tokens_per_second=1 step_seconds=1.5",
        );
        check(r#"{"tps": 1, "step": 12}"#, "tokens_per_second=1 step=12");
        check(r#"{"tps": 1, "iter": 12}"#, "tokens_per_second=1 step=12");
        check(
            r#"{"tps": 1, "iteration": 12}"#,
            "tokens_per_second=1 step=12",
        );
        check(r#"{"tps": 1, "loss": 2.5}"#, "tokens_per_second=1 loss=2.5");
        check(
            r#"{"tps": 1, "time": 1714564800}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800",
        );
        check(
            r#"{"tps": 1, "timestamp": 1714564800}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800",
        );
        check(
            r#"{"tps": 1, "ts": 1714564800}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800",
        );
        check(
            r#"{"tps": 1, "mfu": 0.41}"#,
            "tokens_per_second=1 reported_mfu=0.41",
        );
        check(
            r#"{"tps": 1, "mfu_percent": 41}"#,
            "tokens_per_second=1 reported_mfu=0.41",
        );
        check(
            r#"{"tps": 1, "mfu_pct": 50}"#,
            "tokens_per_second=1 reported_mfu=0.5",
        );
    }

    #[test]
    fn typical_lines() {
        check(
            r#"{"step": 1200, "loss": 2.31, "lr": 3e-4, "tokens_per_sec": 152340.5, "dt": 3.44, "mfu": 0.412, "time": 1714564800.5}"#,
            "tokens_per_second=152340.5 step_seconds=3.44 step=1200 loss=2.31 timestamp_seconds=1714564800.5 reported_mfu=0.412",
        );
        check(
            r#"{"iteration": 50, "consumed_tokens": 104857600, "iter_time_ms": 812.5, "timestamp": "2024-05-01T12:00:00Z", "grad_norm": 0.9}"#,
            "total_tokens=104857600 step_seconds=0.8125 step=50 timestamp_seconds=1714564800",
        );
        check(
            r#"{"event": "train", "tokens": 524288, "cfg": {"tps": "ignored"}, "tags": ["a", {"b": null}], "ok": true, "x": null}"#,
            "tokens=524288",
        );
    }

    #[test]
    fn first_listed_spec_wins_whatever_the_key_order() {
        check(r#"{"tps": 1, "tokens_per_sec": 2}"#, "tokens_per_second=2");
        check(r#"{"tokens_per_sec": 2, "tps": 1}"#, "tokens_per_second=2");
        check(
            r#"{"step_time_ms": 1000, "dt": 3, "tps": 1}"#,
            "tokens_per_second=1 step_seconds=3",
        );
        check(
            r#"{"tps": 1, "mfu_percent": 40, "mfu": 0.3}"#,
            "tokens_per_second=1 reported_mfu=0.3",
        );
    }

    #[test]
    fn null_counts_as_absent() {
        check(
            r#"{"tokens_per_sec": null, "tps": 3}"#,
            "tokens_per_second=3",
        );
        check(
            r#"{"tps": 3, "loss": null, "step": null, "time": null}"#,
            "tokens_per_second=3",
        );
        check(r#"{"tps": null}"#, "ignored");
    }

    #[test]
    fn duplicate_keys_last_non_null_wins() {
        check(r#"{"tps": 1, "tps": 2}"#, "tokens_per_second=2");
        check(r#"{"tps": 1, "tps": null}"#, "tokens_per_second=1");
        check(
            r#"{"tps": 1, "tps": "bad"}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be a number…"#,
        );
    }

    #[test]
    fn numeric_strings() {
        check(r#"{"tps": "1234.5"}"#, "tokens_per_second=1234.5");
        check(r#"{"tps": " 12 "}"#, "tokens_per_second=12");
        check(r#"{"tps": "1e3"}"#, "tokens_per_second=1000");
        check(r#"{"tps": "1\u0032"}"#, "tokens_per_second=12");
        check(r#"{"tps": 1, "step": "7"}"#, "tokens_per_second=1 step=7");
        check(r#"{"tps": 1, "step": "7.0"}"#, "tokens_per_second=1 step=7");
        check(
            r#"{"tps": 1, "mfu_percent": "41"}"#,
            "tokens_per_second=1 reported_mfu=0.41",
        );
    }

    #[test]
    fn edge_values_that_are_fine() {
        check(r#"{"tps": 0}"#, "tokens_per_second=0");
        check(
            r#"{"tps": 1, "loss": -0.5}"#,
            "tokens_per_second=1 loss=-0.5",
        );
        check(r#"{"tps": 1, "step": 12.0}"#, "tokens_per_second=1 step=12");
        check(r#"{"tps": 1, "step": 0}"#, "tokens_per_second=1 step=0");
        check(
            r#"{"tps": 1, "step": 18446744073709551615}"#,
            "tokens_per_second=1 step=18446744073709551615",
        );
        check(
            r#"{"tps": 1, "mfu": 0}"#,
            "tokens_per_second=1 reported_mfu=0",
        );
        check(
            r#"{"tps": 1, "mfu": 1}"#,
            "tokens_per_second=1 reported_mfu=1",
        );
        check(
            r#"{"tps": 1, "mfu_percent": 100}"#,
            "tokens_per_second=1 reported_mfu=1",
        );
        check(r#"{"tps": 1e-300}"#, "tokens_per_second=1e-300");
        check(r#"{"tps": 1, "other": 1e999}"#, "tokens_per_second=1");
        // Skipped values are skipped without recursion, however deep they nest.
        let deep =
            |open: &str, close: &str| format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
        check(
            &format!(r#"{{"tps": 1, "x": {}}}"#, deep("[", "]")),
            "tokens_per_second=1",
        );
        check(
            &format!(r#"{{"tps": 1, "x": {}}}"#, deep(r#"{"a":"#, "}")),
            "tokens_per_second=1",
        );
        check(
            &deep("[", "]"),
            r#"not_an_object: line is a json array, not an object: "[[[[…"#,
        );
    }

    #[test]
    fn keys_are_matched_after_unescaping() {
        check(r#"{"t\u0070s": 5}"#, "tokens_per_second=5");
        check(r#"{"tps\u0000": 5}"#, "ignored");
        check(r#"{"TPS": 5}"#, "ignored");
    }

    #[test]
    fn lines_without_throughput_are_ignored() {
        check("{}", "ignored");
        check(r#"{"loss": 2.5, "step": 3}"#, "ignored");
        check(r#"{"dt": 0.5}"#, "ignored");
        check(r#"{"eval_loss": 1.9, "step": 100}"#, "ignored");
        check(r#"{"config": {"tps": 5, "layers": [1, 2]}}"#, "ignored");
        check("", "ignored");
        check("  \t\r", "ignored");
    }

    #[test]
    fn surrounding_whitespace_and_byte_order_mark() {
        check("  {\"tps\": 1}  \r", "tokens_per_second=1");
        check("{\"tps\": 1}\r\n", "tokens_per_second=1");
        check("\u{feff}{\"tps\": 1}", "tokens_per_second=1");
    }

    #[test]
    fn invalid_json() {
        check(
            "INFO step 5",
            r#"invalid_json: invalid json (expected value at line 1 column 1) in "INFO step 5"; write each log line as one json object"#,
        );
        check(
            r#"{"tps": 1"#,
            r#"invalid_json: invalid json (EOF while parsing an object at line 1 column 9) in "{\"tps\": 1"; …"#,
        );
        check(
            r#"{"tps": 1}{}"#,
            "invalid_json: invalid json (trailing characters at line 1 column 11)…",
        );
        check(
            r#"{"tps": 1,}"#,
            "invalid_json: invalid json (trailing comma at line 1 column 11)…",
        );
        check(
            r#"{tps: 1}"#,
            "invalid_json: invalid json (key must be a string at line 1 column 2)…",
        );
        check(
            r#"{"tps": NaN}"#,
            "invalid_json: invalid json (expected value at line 1 column 9)…",
        );
        check(
            r#"{"tps": 1e999}"#,
            "invalid_json: invalid json (number out of range at line 1 column 13)…",
        );
        check(
            &format!("{{\"note\": \"{}", "x".repeat(100)),
            r#"invalid_json: invalid json (EOF while parsing a string at line 1 column 110) in "{\"note\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...; write each log line as one json object"#,
        );
    }

    #[test]
    fn invalid_utf8() {
        let result = parse_line(
            b"{\"tps\": 1, \"note\": \"\xff\"}",
            &FieldMapping::default(),
        );
        assert_eq!(
            render(result),
            "invalid_utf8: line is not valid utf-8 (invalid byte at offset 20) in \"{\\\"tps\\\": 1, \\\"note\\\": \\\"\u{fffd}\\\"}\"; write the log as utf-8"
        );
        let result = parse_line(b"\xc3", &FieldMapping::default());
        assert_eq!(
            result.map_err(|error| error.reason),
            Err(ParseErrorReason::InvalidUtf8)
        );
    }

    #[test]
    fn not_an_object() {
        check(
            "[1, 2]",
            r#"not_an_object: line is a json array, not an object: "[1, 2]"; write each log line as one json object"#,
        );
        check(
            r#""text""#,
            r#"not_an_object: line is a json string, not an object: "\"text\""; …"#,
        );
        check(
            "42",
            r#"not_an_object: line is a json number, not an object: "42"; …"#,
        );
        check(
            "-4.5",
            r#"not_an_object: line is a json number, not an object: "-4.5"; …"#,
        );
        check(
            "null",
            r#"not_an_object: line is a json null, not an object: "null"; …"#,
        );
        check(
            "true",
            r#"not_an_object: line is a json boolean, not an object: "true"; …"#,
        );
        check(
            "[1] [2]",
            "invalid_json: invalid json (trailing characters at line 1 column 5)…",
        );
    }

    #[test]
    fn values_of_the_wrong_type() {
        let fix = "log a number there or map tokens_per_second to another key";
        check(
            r#"{"tps": true}"#,
            &format!(
                r#"invalid_value: key "tps" (tokens_per_second) must be a number or a numeric string, got boolean true; {fix}"#
            ),
        );
        check(
            r#"{"tps": "fast"}"#,
            &format!(
                r#"invalid_value: key "tps" (tokens_per_second) must be a number or a numeric string, got string "fast"; {fix}"#
            ),
        );
        check(
            r#"{"tps": ""}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be a number or a numeric string, got string ""; …"#,
        );
        check(
            r#"{"tps": [1]}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be a number or a numeric string, got an array; …"#,
        );
        check(
            r#"{"tps": {"value": 1}}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be a number or a numeric string, got an object; …"#,
        );
        check(
            r#"{"tps": 1, "loss": "high"}"#,
            r#"invalid_value: key "loss" (loss) must be a number or a numeric string, got string "high"; log a number there or map loss to another key"#,
        );
        check(
            &format!(r#"{{"tps": "{}"}}"#, "9".repeat(30) + &"x".repeat(70)),
            &format!(
                r#"invalid_value: key "tps" (tokens_per_second) must be a number or a numeric string, got string "{}"...; {fix}"#,
                "9".repeat(30) + &"x".repeat(34)
            ),
        );
    }

    #[test]
    fn every_present_mapped_key_is_checked() {
        // The spec that loses still has to hold a sensible value, and a line without throughput is
        // still checked.
        check(
            r#"{"tokens_per_sec": 5, "throughput": "fast"}"#,
            r#"invalid_value: key "throughput" (tokens_per_second) must be a number…"#,
        );
        check(
            r#"{"loss": "high"}"#,
            r#"invalid_value: key "loss" (loss) must be a number…"#,
        );
        // The first problem in the line is the one reported.
        check(
            r#"{"tps": "a", "loss": "b"}"#,
            r#"invalid_value: key "tps" …"#,
        );
        check(
            r#"{"loss": "b", "tps": "a"}"#,
            r#"invalid_value: key "loss" …"#,
        );
        // Broken JSON wins over a bad value met earlier.
        check(r#"{"tps": "a", "loss": }"#, "invalid_json: …");
    }

    #[test]
    fn numbers_out_of_range() {
        check(
            r#"{"tps": "NaN"}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be finite, got string "NaN"; log a finite number"#,
        );
        check(
            r#"{"tps": "inf"}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be finite, got string "inf"; log a finite number"#,
        );
        check(
            r#"{"tps": 1, "loss": "-infinity"}"#,
            r#"invalid_value: key "loss" (loss) must be finite, got string "-infinity"; log a finite number"#,
        );
        check(
            r#"{"tps": "1e999"}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be finite, got string "1e999"; log a finite number"#,
        );
        check(
            r#"{"tps": -1}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be 0 or more, got -1; check that the key holds tokens_per_second"#,
        );
        check(
            r#"{"tokens": -5.5}"#,
            r#"invalid_value: key "tokens" (tokens) must be 0 or more, got -5.5; check that the key holds tokens"#,
        );
        check(
            r#"{"total_tokens": "-5"}"#,
            r#"invalid_value: key "total_tokens" (total_tokens) must be 0 or more, got string "-5"; …"#,
        );
        check(
            r#"{"tps": 1, "dt": -0.1}"#,
            r#"invalid_value: key "dt" (step_seconds) must be 0 or more, got -0.1; check that the key holds step_seconds"#,
        );
    }

    #[test]
    fn steps() {
        let fix = "log the step as an integer";
        check(
            r#"{"tps": 1, "step": 12.5}"#,
            &format!(
                r#"invalid_value: key "step" (step) must be a whole number 0 or more, got 12.5; {fix}"#
            ),
        );
        check(
            r#"{"tps": 1, "step": -1}"#,
            &format!(
                r#"invalid_value: key "step" (step) must be a whole number 0 or more, got -1; {fix}"#
            ),
        );
        check(
            r#"{"tps": 1, "step": "x"}"#,
            &format!(
                r#"invalid_value: key "step" (step) must be a whole number 0 or more, got string "x"; {fix}"#
            ),
        );
        check(
            r#"{"tps": 1, "step": true}"#,
            r#"invalid_value: key "step" (step) must be a whole number 0 or more, got boolean true; …"#,
        );
        check(
            r#"{"tps": 1, "step": 1e20}"#,
            r#"invalid_value: key "step" (step) must be a whole number 0 or more, got 1e20; …"#,
        );
        check(
            r#"{"tps": 1, "step": "NaN"}"#,
            r#"invalid_value: key "step" (step) must be a whole number 0 or more, got string "NaN"; …"#,
        );
    }

    #[test]
    fn reported_mfu_range() {
        check(
            r#"{"tps": 1, "mfu": 45}"#,
            r#"invalid_value: key "mfu" (reported_mfu) must be a ratio from 0 to 1, got 45, which looks like percent; if the trainer logs percent, map reported_mfu to this key with scale 0.01"#,
        );
        check(
            r#"{"tps": 1, "mfu": 1.5}"#,
            r#"invalid_value: key "mfu" (reported_mfu) must be a ratio from 0 to 1, got 1.5, which looks like percent; …"#,
        );
        check(
            r#"{"tps": 1, "mfu": 250}"#,
            r#"invalid_value: key "mfu" (reported_mfu) must be from 0 to 1 after scaling by 1, got 250; check the key and its scale"#,
        );
        check(
            r#"{"tps": 1, "mfu": -0.1}"#,
            r#"invalid_value: key "mfu" (reported_mfu) must be from 0 to 1 after scaling by 1, got -0.1; check the key and its scale"#,
        );
        check(
            r#"{"tps": 1, "mfu_percent": 250}"#,
            r#"invalid_value: key "mfu_percent" (reported_mfu) must be from 0 to 1 after scaling by 0.01, got 250; check the key and its scale"#,
        );
        check(
            r#"{"tps": 1, "mfu_pct": 0.4}"#,
            "tokens_per_second=1 reported_mfu=0.004",
        );
    }

    #[test]
    fn numeric_timestamps_in_any_unit() {
        check(
            r#"{"tps": 1, "time": 1714564800.25}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800.25",
        );
        check(
            r#"{"tps": 1, "time": 1714564800250}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800.25",
        );
        check(
            r#"{"tps": 1, "time": 1714564800250000}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800.25",
        );
        check(
            r#"{"tps": 1, "time": 1714564800250000000}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800.25",
        );
        check(
            r#"{"tps": 1, "time": "1714564800.5"}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800.5",
        );
        check(
            r#"{"tps": 1, "time": 0}"#,
            "tokens_per_second=1 timestamp_seconds=0",
        );
        check(
            r#"{"tps": 1, "time": -5}"#,
            r#"invalid_value: key "time" (timestamp) must not be before 1970, got -5"#,
        );
        check(
            r#"{"tps": 1, "time": "-5"}"#,
            r#"invalid_value: key "time" (timestamp) must not be before 1970, got string "-5""#,
        );
    }

    #[test]
    fn text_timestamps() {
        check(
            r#"{"tps": 1, "time": "2024-05-01T12:00:00.123Z"}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800.123",
        );
        check(
            r#"{"tps": 1, "time": "2024-05-01T12:00:00+02:00"}"#,
            "tokens_per_second=1 timestamp_seconds=1714557600",
        );
        check(
            r#"{"tps": 1, "time": "2024-05-01 12:00:00"}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800",
        );
        check(
            r#"{"tps": 1, "time": "2024-05-01 12:00:00,500"}"#,
            "tokens_per_second=1 timestamp_seconds=1714564800.5",
        );
        check(
            r#"{"tps": 1, "time": "yesterday"}"#,
            r#"invalid_value: key "time" (timestamp) must be unix seconds (or milliseconds, microseconds, nanoseconds) or an rfc 3339 time such as "2024-05-01T12:00:00Z", got string "yesterday""#,
        );
        check(
            r#"{"tps": 1, "time": "2024-13-01T00:00:00Z"}"#,
            r#"invalid_value: key "time" (timestamp) must be unix seconds…"#,
        );
        check(
            r#"{"tps": 1, "time": "1969-12-31T23:59:59Z"}"#,
            r#"invalid_value: key "time" (timestamp) must not be before 1970, got string "1969-12-31T23:59:59Z""#,
        );
        check(
            r#"{"tps": 1, "time": true}"#,
            r#"invalid_value: key "time" (timestamp) must be unix seconds (or milliseconds, microseconds, nanoseconds) or an rfc 3339 time such as "2024-05-01T12:00:00Z", got boolean true"#,
        );
        check(
            r#"{"tps": 1, "time": "inf"}"#,
            r#"invalid_value: key "time" (timestamp) must be unix seconds…"#,
        );
    }

    #[track_caller]
    fn check_time(text: &str, expected: Option<f64>) {
        assert_eq!(parse_rfc3339_seconds(text), expected, "{text:?}");
    }

    #[test]
    fn rfc3339_parser() {
        check_time("1970-01-01T00:00:00Z", Some(0.0));
        check_time("2024-05-01T12:00:00Z", Some(1_714_564_800.0));
        check_time("2024-05-01t12:00:00z", Some(1_714_564_800.0));
        check_time("2024-05-01T12:00:00", Some(1_714_564_800.0));
        check_time("2024-05-01T12:00Z", Some(1_714_564_800.0));
        check_time("2024-05-01T12:00:00.123Z", Some(1_714_564_800.123));
        check_time("2024-05-01T12:00:00.5+00:00", Some(1_714_564_800.5));
        check_time(
            "2024-05-01T12:00:00.1234567891234Z",
            Some(1_714_564_800.0 + 0.123_456_789),
        );
        check_time("2024-05-01T12:00:00+02:00", Some(1_714_557_600.0));
        check_time("2024-05-01T12:00:00+0200", Some(1_714_557_600.0));
        check_time("2024-05-01T12:00:00+02", Some(1_714_557_600.0));
        check_time("2024-05-01T12:00:00-00:00", Some(1_714_564_800.0));
        check_time("2024-12-31T23:59:59-05:30", Some(1_735_709_399.0));
        check_time("2024-02-29T00:00:00Z", Some(1_709_164_800.0));
        check_time("2000-03-01T00:00:00Z", Some(951_868_800.0));
        check_time("2100-03-01T00:00:00Z", Some(4_107_542_400.0));
        check_time("1600-03-01T00:00:00Z", Some(-11_670_912_000.0));
        check_time("9999-12-31T23:59:59Z", Some(253_402_300_799.0));
        check_time("2016-12-31T23:59:60Z", Some(1_483_228_800.0));
        check_time("2000-02-29T00:00:00Z", Some(951_782_400.0));
        check_time("2023-02-29T00:00:00Z", None);
        check_time("1900-02-29T00:00:00Z", None);
        check_time("2024-04-31T00:00:00Z", None);
        check_time("2024-00-10T00:00:00Z", None);
        check_time("2024-05-00T00:00:00Z", None);
        check_time("2024-05-01T24:00:00Z", None);
        check_time("2024-05-01T12:60:00Z", None);
        check_time("2024-05-01T12:00:61Z", None);
        check_time("2024-05-01T12:00:00.Z", None);
        check_time("2024-05-01T12:00:00+24:00", None);
        check_time("2024-05-01T12:00:00+02:60", None);
        check_time("2024-05-01T12:00:00+2", None);
        check_time("2024-05-01T12:00:00Zjunk", None);
        check_time("2024-05-01T12:00:00 ", None);
        check_time("2024-05-01", None);
        check_time("2024-5-01T12:00:00Z", None);
        check_time("24-05-01T12:00:00Z", None);
        check_time("2024-05-01X12:00:00Z", None);
        check_time("", None);
        check_time("２０２４-05-01T12:00:00Z", None);
    }

    #[track_caller]
    fn check_path(text: &str, expected: &str) {
        let actual = match FieldPath::parse(text) {
            Ok(FieldPath::Key(key)) => format!("key {key:?}"),
            Ok(FieldPath::Pointer(segments)) => format!("pointer {segments:?}"),
            Err(error) => error.to_string(),
        };
        assert_eq!(actual, expected, "{text:?}");
    }

    #[test]
    fn field_paths() {
        check_path("tps", r#"key "tps""#);
        check_path("metrics.tps", r#"pointer ["metrics", "tps"]"#);
        check_path("a.b.c", r#"pointer ["a", "b", "c"]"#);
        check_path("train/loss", r#"key "train/loss""#);
        check_path("/metrics/tps", r#"pointer ["metrics", "tps"]"#);
        check_path("/tps", r#"key "tps""#);
        check_path("/train.loss", r#"key "train.loss""#);
        check_path("/a~1b/c~0d", r#"pointer ["a/b", "c~d"]"#);
        check_path("/~01", r#"key "~1""#);
        check_path("/", r#"key """#);
        check_path("/a//b", r#"pointer ["a", "", "b"]"#);
        check_path(
            "",
            r#"field path is empty; write a key such as "tokens_per_sec", a dotted path such as "metrics.tps" or a json pointer such as "/metrics/tps""#,
        );
        check_path(
            "a..b",
            r#"field path "a..b" has an empty segment; remove the doubled, leading or trailing ".", or write a json pointer such as "/metrics/tps" for keys that contain dots"#,
        );
        check_path(
            ".a",
            r#"field path ".a" has an empty segment; remove the doubled, leading or trailing ".", or write a json pointer such as "/metrics/tps" for keys that contain dots"#,
        );
        check_path(
            "/a~2",
            r#"json pointer "/a~2" has an invalid escape; inside a pointer write "~0" for "~" and "~1" for "/""#,
        );
        check_path(
            "/a~",
            r#"json pointer "/a~" has an invalid escape; inside a pointer write "~0" for "~" and "~1" for "/""#,
        );
    }

    #[test]
    fn field_paths_display_as_they_parse() {
        for text in [
            "tps",
            "metrics.tps",
            "train/loss",
            "/train.loss",
            "/a~1b/c~0d",
            "/",
            "/a//b",
            "/~01",
            "/metrics/a.b",
        ] {
            let path = FieldPath::parse(text).unwrap();
            assert_eq!(
                FieldPath::parse(&path.to_string()).unwrap(),
                path,
                "{text:?} displays as {path}"
            );
        }
        assert_eq!(
            FieldPath::parse("/metrics/tps").unwrap().to_string(),
            "metrics.tps"
        );
        assert_eq!(
            FieldPath::parse("/train.loss").unwrap().to_string(),
            "/train.loss"
        );
    }

    #[test]
    fn mapped_field_names() {
        for field in MappedField::ALL {
            assert_eq!(field.as_str().parse::<MappedField>(), Ok(field));
            assert!(MappingError::UnknownField {
                name: String::new()
            }
            .to_string()
            .contains(field.as_str()));
        }
        assert_eq!(
            "tps".parse::<MappedField>().unwrap_err().to_string(),
            r#"unknown field "tps"; expected one of tokens_per_second, tokens, total_tokens, step_seconds, step, loss, timestamp, reported_mfu"#
        );
    }

    #[test]
    fn field_spec_scales() {
        let path = || FieldPath::parse("metrics.step_ms").unwrap();
        assert_eq!(
            FieldSpec::new(path(), 0.001).map(|spec| spec.scale),
            Ok(0.001)
        );
        let message = |scale| FieldSpec::new(path(), scale).unwrap_err().to_string();
        assert_eq!(
            message(0.0),
            r#"scale 0 for "metrics.step_ms" must be a finite number above 0, such as 0.001 for milliseconds or 0.01 for percent"#
        );
        assert!(message(-1.0).starts_with("scale -1 for"));
        assert!(message(f64::NAN).starts_with("scale NaN for"));
        assert!(message(f64::INFINITY).starts_with("scale inf for"));
    }

    #[test]
    fn error_labels() {
        let labels: Vec<&str> = ParseErrorReason::ALL
            .iter()
            .map(|reason| reason.as_label())
            .collect();
        assert_eq!(
            labels,
            [
                "invalid_utf8",
                "invalid_json",
                "not_an_object",
                "invalid_value"
            ]
        );
        assert_eq!(ParseErrorReason::InvalidJson.to_string(), "invalid_json");
    }

    #[test]
    fn has_throughput() {
        let observation = |tokens_per_second, tokens, total_tokens, step_seconds| Observation {
            tokens_per_second,
            tokens,
            total_tokens,
            step_seconds,
            ..Observation::default()
        };
        assert!(!Observation::default().has_throughput());
        assert!(observation(Some(1.0), None, None, None).has_throughput());
        assert!(observation(None, Some(1.0), None, None).has_throughput());
        assert!(observation(None, None, Some(1.0), None).has_throughput());
        assert!(!observation(None, None, None, Some(1.0)).has_throughput());
    }

    fn spec(path: &str, scale: f64) -> FieldSpec {
        FieldSpec::new(FieldPath::parse(path).unwrap(), scale).unwrap()
    }

    #[test]
    fn overrides_replace_the_defaults_for_one_field() {
        let mapping = FieldMapping::default()
            .with_override(MappedField::TokensPerSecond, vec![spec("speed", 1.0)]);
        check_with(&mapping, r#"{"speed": 5}"#, "tokens_per_second=5");
        check_with(&mapping, r#"{"tps": 5}"#, "ignored");
        check_with(
            &mapping,
            r#"{"tps": "fast", "speed": 5}"#,
            "tokens_per_second=5",
        );
        check_with(
            &mapping,
            r#"{"speed": 5, "tokens": 7}"#,
            "tokens_per_second=5 tokens=7",
        );
        assert_eq!(
            mapping.specs(MappedField::TokensPerSecond),
            [spec("speed", 1.0)]
        );
        assert_eq!(mapping.specs(MappedField::Tokens).len(), 3);

        let without_loss = FieldMapping::default().with_override(MappedField::Loss, Vec::new());
        check_with(
            &without_loss,
            r#"{"tps": 1, "loss": "n/a"}"#,
            "tokens_per_second=1",
        );
    }

    #[test]
    fn nested_paths() {
        let mapping = FieldMapping::default()
            .with_override(
                MappedField::TokensPerSecond,
                vec![
                    spec("metrics.throughput.tokens", 1.0),
                    spec("/perf/tps", 1.0),
                ],
            )
            .with_override(
                MappedField::StepSeconds,
                vec![spec("metrics.step_ms", 0.001)],
            )
            .with_override(
                MappedField::Loss,
                vec![spec("/train/loss", 1.0), spec("train/loss", 1.0)],
            );
        check_with(
            &mapping,
            r#"{"metrics": {"throughput": {"tokens": 900}, "step_ms": 500}}"#,
            "tokens_per_second=900 step_seconds=0.5",
        );
        check_with(
            &mapping,
            r#"{"perf": {"tps": 3, "other": [1]}, "metrics": {"throughput": {"tokens": 900}}}"#,
            "tokens_per_second=900",
        );
        check_with(&mapping, r#"{"perf": {"tps": 3}}"#, "tokens_per_second=3");
        check_with(
            &mapping,
            r#"{"perf": {"tps": 3}, "train/loss": 1.5}"#,
            "tokens_per_second=3 loss=1.5",
        );
        check_with(
            &mapping,
            r#"{"perf": {"tps": 3}, "train": {"loss": 1.25}, "train/loss": 1.5}"#,
            "tokens_per_second=3 loss=1.25",
        );
        check_with(&mapping, r#"{"tps": 3}"#, "ignored");
        // A path that meets a non-object before its last segment is absent.
        check_with(
            &mapping,
            r#"{"metrics": 5, "perf": {"tps": 3}}"#,
            "tokens_per_second=3",
        );
        check_with(
            &mapping,
            r#"{"metrics": [{"throughput": 1}], "perf": null}"#,
            "ignored",
        );
        check_with(
            &mapping,
            r#"{"metrics": {"throughput": "fast"}}"#,
            "ignored",
        );
        check_with(
            &mapping,
            r#"{"metrics": {"throughput": {"tokens": "fast"}}}"#,
            r#"invalid_value: key "metrics.throughput.tokens" (tokens_per_second) must be a number or a numeric string, got string "fast"; …"#,
        );
    }

    #[test]
    fn one_key_feeding_several_fields_or_levels() {
        let mapping = FieldMapping::default()
            .with_override(MappedField::Tokens, vec![spec("n", 1.0)])
            .with_override(MappedField::TotalTokens, vec![spec("n", 1.0)]);
        check_with(&mapping, r#"{"n": 64}"#, "tokens=64 total_tokens=64");

        let mapping = FieldMapping::default()
            .with_override(MappedField::TokensPerSecond, vec![spec("m", 1.0)])
            .with_override(MappedField::Loss, vec![spec("m.loss", 1.0)]);
        check_with(&mapping, r#"{"m": 5}"#, "tokens_per_second=5");
        check_with(
            &mapping,
            r#"{"m": {"loss": 1}}"#,
            r#"invalid_value: key "m" (tokens_per_second) must be a number or a numeric string, got an object; …"#,
        );
    }

    #[test]
    fn scales_apply_to_numbers() {
        let mapping = FieldMapping::default()
            .with_override(MappedField::Timestamp, vec![spec("time_ms", 0.001)])
            .with_override(MappedField::Step, vec![spec("step", 0.5)])
            .with_override(MappedField::TokensPerSecond, vec![spec("ktps", 1000.0)])
            .with_override(MappedField::Loss, vec![spec("loss", 1e300)]);
        check_with(
            &mapping,
            r#"{"ktps": 1.5, "time_ms": 1714564800250}"#,
            "tokens_per_second=1500 timestamp_seconds=1714564800.25",
        );
        check_with(
            &mapping,
            r#"{"ktps": 1, "time_ms": "2024-05-01T12:00:00Z"}"#,
            "tokens_per_second=1000 timestamp_seconds=1714564800",
        );
        check_with(
            &mapping,
            r#"{"ktps": 1, "step": 7}"#,
            "tokens_per_second=1000 step=7",
        );
        check_with(
            &mapping,
            r#"{"ktps": 1, "loss": 1e10}"#,
            r#"invalid_value: key "loss" (loss) is 10000000000, which is not finite after scaling by 1e300; check the scale"#,
        );
        check_with(
            &mapping,
            r#"{"ktps": 1e306}"#,
            r#"invalid_value: key "ktps" (tokens_per_second) is 1e306, which is not finite after scaling by 1000; check the scale"#,
        );
    }

    #[test]
    fn unusual_mappings_do_not_break_parsing() {
        let empty_pointer = FieldSpec {
            path: FieldPath::Pointer(Vec::new()),
            scale: 1.0,
        };
        let mapping = FieldMapping::default()
            .with_override(MappedField::TokensPerSecond, vec![empty_pointer]);
        check_with(&mapping, r#"{"tps": 1, "tokens": 2}"#, "tokens=2");

        let negative_scale = FieldSpec {
            path: FieldPath::Key("tps".to_owned()),
            scale: -1.0,
        };
        let mapping = FieldMapping::default()
            .with_override(MappedField::TokensPerSecond, vec![negative_scale]);
        check_with(
            &mapping,
            r#"{"tps": 1}"#,
            r#"invalid_value: key "tps" (tokens_per_second) must be 0 or more, got 1; …"#,
        );

        let empty_key = FieldSpec {
            path: FieldPath::Key(String::new()),
            scale: 1.0,
        };
        let mapping =
            FieldMapping::default().with_override(MappedField::TokensPerSecond, vec![empty_key]);
        check_with(&mapping, r#"{"": 4}"#, "tokens_per_second=4");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), r#""abc""#);
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(quote(&"é".repeat(64)), format!("\"{}\"", "é".repeat(64)));
        assert_eq!(quote(&"é".repeat(65)), format!("\"{}\"...", "é".repeat(64)));
        assert_eq!(float_text(45.0), "45");
        assert_eq!(float_text(0.001), "0.001");
        assert_eq!(float_text(1e300), "1e300");
        assert_eq!(float_text(1e-9), "1e-9");
        assert_eq!(float_text(0.0), "0");
    }
}
