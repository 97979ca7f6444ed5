//! A JSON object in a log line → an [`Observation`], through a [`FieldMapping`].
//!
//! The parser is pure and never builds a `serde_json::Value`. A hand-written scanner
//! (`json/scanner.rs`) walks the top-level object, checks the JSON grammar (of skipped values too),
//! looks each key up in the mapping's prefix tree, converts the values of mapped keys on the spot
//! and skips every other value without allocating; it descends into a nested object only when a
//! dotted path or a JSON pointer in the mapping starts with that object's key. What it does not
//! settle (escapes in keys and mapped strings, broken JSON, numbers beyond an exact conversion)
//! goes to a `serde_json` visitor that walks the line the same way, gives the same reading and
//! names the error.
//!
//! Rules, in the order a line meets them:
//!
//! - The line must be UTF-8 ([`ParseErrorReason::InvalidUtf8`]); a leading byte-order mark and
//!   surrounding whitespace (`\r` included) are tolerated, and a blank line is
//!   [`LineOutcome::Ignored`].
//! - With [`JsonOptions::after_prefix`], text before the object is allowed
//!   (`2021-03-01 14:58:39 | INFO | train_inner | {...}`, `slurm_procid 0 : {...}`): the object is
//!   the one that starts at a `{` and runs to the end of the line. A line without any `{` is
//!   [`LineOutcome::Ignored`] (a plain text line in the log); one whose object is broken is
//!   [`ParseErrorReason::InvalidJson`]. Without a prefix the line must be one JSON value, and an
//!   array, string or number is [`ParseErrorReason::NotAnObject`].
//! - `NaN`, `Infinity` and `-Infinity`, which Python's `json` writes, are read as `null`. With
//!   [`JsonOptions::python_literals`] the object may be a Python dict repr (`{'loss': 1.2, 'ok':
//!   True, 'x': None, 'y': nan}`), as the Hugging Face Trainer prints its logs.
//! - Each field has a list of [`FieldSpec`](super::mapping::FieldSpec)s; the first one present in
//!   the line wins. A mapped key whose value is `null` or absent (see [`super::values`]) counts as
//!   absent. A path that runs into a non-object before its last segment counts as absent too.
//! - Every present mapped key is checked, even one that loses to an earlier spec, so a line never
//!   hides a broken value: see [`super::values::convert`]. The first problem in the line is the one
//!   reported as [`ParseErrorReason::InvalidValue`]. When only descriptive fields were bad, the
//!   error keeps the rest of the line in [`LineError::kept`], so that its throughput still counts.
//! - When a key appears more than once in an object, the last non-null occurrence wins, as in
//!   `serde_json::Value`.
//! - A line without any mapped key is [`LineOutcome::Ignored`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::mapping::{FieldMapping, PathNode};
use super::observation::{Field, LineError, LineOutcome, Observation, ParseErrorReason};
use super::quote::quote;
use super::values::{convert, Raw};

mod scanner;

/// How lenient the JSON reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonOptions {
    /// Text before the object is allowed.
    pub after_prefix: bool,
    /// The object may be a Python dict repr.
    pub python_literals: bool,
}

/// U+FEFF in UTF-8, which a line may start with.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// How many `{` of a prefixed line are tried as the start of the object.
const OBJECT_STARTS_TRIED: usize = 8;

/// Parses one log line (without its `\n`) into an observation, using `mapping` to find the fields.
pub fn parse_json_line(
    line: &[u8],
    mapping: &FieldMapping,
    options: JsonOptions,
) -> Result<LineOutcome, LineError> {
    // The common line, one JSON object that the scanner settles: it checks the UTF-8 of the
    // strings, the only place where a valid line can hold non-ASCII bytes. Everything else
    // (invalid UTF-8 among it) takes the path below, which checks the whole line first.
    if !options.python_literals {
        let object = line.strip_prefix(BOM).unwrap_or(line).trim_ascii();
        if object.first() == Some(&b'{') {
            let mut state = LineState::default();
            if scanner::walk(object, &mapping.root, &mut state).is_some() {
                return finish(state);
            }
        }
    }
    let text = std::str::from_utf8(line).map_err(|error| LineError {
        reason: ParseErrorReason::InvalidUtf8,
        detail: format!(
            "line is not valid utf-8 (invalid byte at offset {}) in {}; write the log as utf-8",
            error.valid_up_to(),
            quote(&String::from_utf8_lossy(line))
        ),
        kept: None,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim_ascii();
    if text.is_empty() {
        return Ok(LineOutcome::Ignored);
    }
    if !options.after_prefix || text.starts_with('{') {
        return parse_object_text(text, text, mapping, options);
    }
    // A whole line that is another JSON value (an array, a string, a number) is a line of the
    // wrong shape, not a text line with a prefix.
    if text.starts_with(['[', '"']) || text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        if let Err(error) = parse_object_text(text, text, mapping, options) {
            if error.reason == ParseErrorReason::NotAnObject {
                return Err(error);
            }
        }
    }
    let mut first_error = None;
    for (tried, start) in memchr::memchr_iter(b'{', text.as_bytes()).enumerate() {
        if tried >= OBJECT_STARTS_TRIED {
            break;
        }
        let Some(object) = text.get(start..) else {
            continue;
        };
        match parse_object_text(object, text, mapping, options) {
            Err(error) if error.reason == ParseErrorReason::InvalidJson => {
                first_error.get_or_insert(error);
            }
            // A `{` inside the prefix can open a value that is not an object.
            Err(error) if error.reason == ParseErrorReason::NotAnObject => {}
            outcome => return outcome,
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(LineOutcome::Ignored),
    }
}

/// Parses `object` (the part of `line` that should be one JSON value).
fn parse_object_text(
    object: &str,
    line: &str,
    mapping: &FieldMapping,
    options: JsonOptions,
) -> Result<LineOutcome, LineError> {
    let mut text = Cow::Borrowed(object);
    if options.python_literals {
        if let Some(converted) = lenient_to_json(object) {
            text = Cow::Owned(converted);
        }
    }
    let mut result = walk_line(&text, mapping);
    if matches!(result, Err(ref e) if e.reason == ParseErrorReason::InvalidJson)
        && !options.python_literals
    {
        // Python's json module writes NaN and Infinity, which JSON does not have.
        if let Some(converted) = lenient_to_json(object).filter(|c| c != object) {
            result = walk_line(&converted, mapping);
        }
    }
    // In place: an observation is large enough that moving it shows in the profile.
    if let Err(error) = &mut result {
        if error.reason == ParseErrorReason::InvalidJson {
            error.detail = format!(
                "invalid json ({}) in {}; write each log line as one json object",
                error.detail,
                quote(line)
            );
        } else if error.reason == ParseErrorReason::NotAnObject {
            error.detail = format!(
                "line is a json {}, not an object: {}; write each log line as one json object",
                error.detail,
                quote(line)
            );
        }
    }
    result
}

/// Walks one JSON text with the scanner, or with `serde_json` when the scanner leaves the line
/// to it (see [`scanner`]).
fn walk_line(text: &str, mapping: &FieldMapping) -> Result<LineOutcome, LineError> {
    let mut state = LineState::default();
    if scanner::walk(text.as_bytes(), &mapping.root, &mut state).is_some() {
        return finish(state);
    }
    serde_walk_line(text, mapping)
}

/// Walks one JSON text with `serde_json`, which names every kind of broken JSON.
fn serde_walk_line(text: &str, mapping: &FieldMapping) -> Result<LineOutcome, LineError> {
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
        detail: error.to_string(),
        kept: None,
    })?;
    if let Some(kind) = top_level {
        return Err(LineError {
            reason: ParseErrorReason::NotAnObject,
            detail: kind.to_owned(),
            kept: None,
        });
    }
    finish(state)
}

/// The outcome of a walk that read the whole line; inlined, so that the observation goes
/// straight into the caller's result.
#[inline(always)]
fn finish(state: LineState) -> Result<LineOutcome, LineError> {
    let observation = state.observation;
    if let Some(detail) = state.first_error {
        // A bad throughput field loses the line; a bad descriptive field only loses itself.
        let kept =
            (!state.throughput_error && !observation.is_empty()).then(|| Box::new(observation));
        return Err(LineError {
            reason: ParseErrorReason::InvalidValue,
            detail,
            kept,
        });
    }
    if observation.is_empty() {
        Ok(LineOutcome::Ignored)
    } else {
        Ok(LineOutcome::Observation(observation))
    }
}

/// Rewrites a Python dict repr or a JSON text with Python's non-finite numbers as JSON: strings in
/// single quotes become double-quoted, `True`/`False`/`None` become `true`/`false`/`null`, `nan`,
/// `inf`, `NaN`, `Infinity` (signed or not) become `null`, tuples become arrays. `None` when the
/// text has an unterminated string.
pub fn lenient_to_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push('"');
                let quote_char = c;
                loop {
                    let (_, c) = chars.next()?;
                    match c {
                        '\\' => {
                            let (_, escaped) = chars.next()?;
                            match escaped {
                                '\'' => out.push('\''),
                                _ => {
                                    out.push('\\');
                                    out.push(escaped);
                                }
                            }
                        }
                        '"' if quote_char == '\'' => out.push_str("\\\""),
                        c if c == quote_char => break,
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            '(' => out.push('['),
            ')' => out.push(']'),
            c if c.is_ascii_alphabetic() || ((c == '-' || c == '+') && word_follows(text, at)) => {
                let start = at;
                let mut end = at + c.len_utf8();
                while let Some(&(next_at, next)) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' {
                        end = next_at + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = text.get(start..end)?;
                let bare = word.trim_start_matches(['-', '+']);
                match bare {
                    "True" | "true" => out.push_str("true"),
                    "False" | "false" => out.push_str("false"),
                    "None" | "null" => out.push_str("null"),
                    "nan" | "NaN" | "inf" | "Infinity" | "infinity" => out.push_str("null"),
                    // A number's exponent or anything else is passed through.
                    _ => out.push_str(word),
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// Whether the sign at `at` starts a word (`-inf`, `-Infinity`) rather than a number.
fn word_follows(text: &str, at: usize) -> bool {
    text.get(at + 1..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_alphabetic())
}

/// What the walk over one line has found so far.
struct LineState {
    observation: Observation,
    /// Per field, the position in its spec list of the spec that set it ([`UNSET`] for none).
    priority: [u8; Field::ALL.len()],
    first_error: Option<String>,
    /// Whether any of the problems was in a throughput field.
    throughput_error: bool,
}

/// The priority of a field no spec has set; spec positions are capped below it.
const UNSET: u8 = u8::MAX;

impl Default for LineState {
    fn default() -> Self {
        LineState {
            observation: Observation::default(),
            priority: [UNSET; Field::ALL.len()],
            first_error: None,
            throughput_error: false,
        }
    }
}

impl LineState {
    /// Converts a value found at `node` for every field that node feeds.
    #[inline(always)]
    fn record(&mut self, node: &PathNode, raw: Raw<'_>) {
        for target in &node.targets {
            match convert(target.field, target.spec.scale, &raw) {
                Ok(Some(value)) => {
                    let priority = u8::try_from(target.priority)
                        .unwrap_or(UNSET - 1)
                        .min(UNSET - 1);
                    if let Some(slot) = self.priority.get_mut(target.field.index()) {
                        // `<=`: a later duplicate of the same key replaces the earlier one.
                        if priority <= *slot {
                            *slot = priority;
                            self.observation.set(target.field, value);
                        }
                    }
                }
                Ok(None) => {}
                Err(problem) => {
                    self.throughput_error |= target.field.carries_throughput();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::mapping::{FieldPath, FieldSpec};
    use crate::ingest::observation::Field;
    use crate::ingest::quote::float_text;

    fn parse_line(line: &[u8], mapping: &FieldMapping) -> Result<LineOutcome, LineError> {
        parse_json_line(line, mapping, JsonOptions::default())
    }

    fn spec(path: &str, scale: f64) -> FieldSpec {
        FieldSpec::new(FieldPath::parse(path).unwrap(), scale).unwrap()
    }

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
            ..
        } = *observation;
        let reals = [
            ("tokens_per_second", tokens_per_second),
            ("tokens", tokens),
            ("tokens_per_step", observation.tokens_per_step),
            ("samples_per_step", observation.samples_per_step),
            ("total_tokens", total_tokens),
            ("step_seconds", step_seconds),
            ("elapsed_seconds", observation.elapsed_seconds),
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
        check(r#"{"tokens_per_step": 4096}"#, "tokens_per_step=4096");
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
        // A zero rate is a placeholder (a trainer that does not count tokens), never a value.
        check(r#"{"tps": 0}"#, "ignored");
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
    fn lines_without_mapped_keys_are_ignored() {
        // Lines with fields but no throughput reach the pipeline, which fills tokens per step
        // from the source's settings before deciding.
        check("{}", "ignored");
        check(r#"{"loss": 2.5, "step": 3}"#, "step=3 loss=2.5");
        check(r#"{"dt": 0.5}"#, "step_seconds=0.5");
        check(r#"{"eval_loss": 1.9, "step": 100}"#, "step=100");
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
        // Python's json writes NaN: read as null, so absent.
        check(r#"{"tps": NaN, "loss": -Infinity}"#, "ignored");
        check(r#"{"tps": 5, "loss": NaN}"#, "tokens_per_second=5");
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
        // Non-finite values are absent, never a value that reaches a gauge.
        check(r#"{"tps": "NaN"}"#, "ignored");
        check(r#"{"tps": "inf"}"#, "ignored");
        check(r#"{"tps": 1, "loss": "-infinity"}"#, "tokens_per_second=1");
        check(r#"{"tps": "1e999"}"#, "ignored");
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
            r#"invalid_value: key "mfu" (reported_mfu) must be a ratio from 0 to 1, got 45, which looks like percent; if the trainer logs percent, give reported_mfu the unit "percent" (a scale of 0.01)"#,
        );
        check(
            r#"{"tps": 1, "mfu": 1.5}"#,
            r#"invalid_value: key "mfu" (reported_mfu) must be a ratio from 0 to 1, got 1.5, which looks like percent; …"#,
        );
        check(
            r#"{"tps": 1, "mfu": 250}"#,
            r#"invalid_value: key "mfu" (reported_mfu) must be from 0 to 1 after scaling by 1, got 250; check the key and its unit"#,
        );
        // A negative MFU is a sentinel (nanoGPT's -100% before its average starts): absent.
        check(r#"{"tps": 1, "mfu": -0.1}"#, "tokens_per_second=1");
        check(
            r#"{"tps": 1, "mfu_percent": 250}"#,
            r#"invalid_value: key "mfu_percent" (reported_mfu) must be from 0 to 1 after scaling by 0.01, got 250; check the key and its unit"#,
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
            r#"invalid_value: key "time" (timestamp) must be unix seconds (or milliseconds, microseconds, nanoseconds) or a date-time such as "2024-05-01T12:00:00Z" or "2024-05-01 12:00:00,250", got string "yesterday""#,
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
            r#"invalid_value: key "time" (timestamp) must be unix seconds (or milliseconds, microseconds, nanoseconds) or a date-time such as "2024-05-01T12:00:00Z" or "2024-05-01 12:00:00,250", got boolean true"#,
        );
        check(
            r#"{"tps": 1, "time": "inf"}"#,
            r#"invalid_value: key "time" (timestamp) must be unix seconds…"#,
        );
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
    fn overrides_replace_the_defaults_for_one_field() {
        let mapping =
            FieldMapping::default().with_override(Field::TokensPerSecond, vec![spec("speed", 1.0)]);
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
        assert_eq!(mapping.specs(Field::TokensPerSecond), [spec("speed", 1.0)]);
        assert_eq!(mapping.specs(Field::Tokens).len(), 2);

        let without_loss = FieldMapping::default().with_override(Field::Loss, Vec::new());
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
                Field::TokensPerSecond,
                vec![
                    spec("metrics.throughput.tokens", 1.0),
                    spec("/perf/tps", 1.0),
                ],
            )
            .with_override(Field::StepSeconds, vec![spec("metrics.step_ms", 0.001)])
            .with_override(
                Field::Loss,
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
            .with_override(Field::Tokens, vec![spec("n", 1.0)])
            .with_override(Field::TotalTokens, vec![spec("n", 1.0)]);
        check_with(&mapping, r#"{"n": 64}"#, "tokens=64 total_tokens=64");

        let mapping = FieldMapping::default()
            .with_override(Field::TokensPerSecond, vec![spec("m", 1.0)])
            .with_override(Field::Loss, vec![spec("m.loss", 1.0)]);
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
            .with_override(Field::Timestamp, vec![spec("ts_ms", 0.001)])
            .with_override(Field::Step, vec![spec("step", 0.5)])
            .with_override(Field::TokensPerSecond, vec![spec("ktps", 1000.0)])
            .with_override(Field::Loss, vec![spec("loss", 1e300)]);
        check_with(
            &mapping,
            r#"{"ktps": 1.5, "ts_ms": 1714564800250}"#,
            "tokens_per_second=1500 timestamp_seconds=1714564800.25",
        );
        check_with(
            &mapping,
            r#"{"ktps": 1, "ts_ms": "2024-05-01T12:00:00Z"}"#,
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
            r#"invalid_value: key "loss" (loss) is 10000000000, which is not finite after scaling by 1e300; check the unit"#,
        );
        check_with(
            &mapping,
            r#"{"ktps": 1e306}"#,
            r#"invalid_value: key "ktps" (tokens_per_second) is 1e306, which is not finite after scaling by 1000; check the unit"#,
        );
    }

    #[test]
    fn unusual_mappings_do_not_break_parsing() {
        let empty_pointer = FieldSpec {
            path: FieldPath::Pointer(Vec::new()),
            scale: 1.0,
        };
        let mapping =
            FieldMapping::default().with_override(Field::TokensPerSecond, vec![empty_pointer]);
        check_with(&mapping, r#"{"tps": 1, "tokens": 2}"#, "tokens=2");

        let negative_scale = FieldSpec {
            path: FieldPath::Key("tps".to_owned()),
            scale: -1.0,
        };
        let mapping =
            FieldMapping::default().with_override(Field::TokensPerSecond, vec![negative_scale]);
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
            FieldMapping::default().with_override(Field::TokensPerSecond, vec![empty_key]);
        check_with(&mapping, r#"{"": 4}"#, "tokens_per_second=4");
    }
}
