//! Lines → records, per file: a line is a record on its own, a block is a header and its entry
//! lines, a document is a whole JSON text. Pure: the caller passes the time (seconds on any
//! monotonic clock) that decides when a quiet file's pending block is flushed.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use super::{Format, JsonRule, Pattern, QUIET_SECONDS};
use crate::ingest::json::parse_json_line;
use crate::ingest::observation::{Field, LineError, LineOutcome, Observation, ParseErrorReason};
use crate::ingest::quote::quote;
use crate::ingest::values::{convert, Raw};

/// What a record yielded: fields, nothing the format reads, or a problem.
pub type RecordOutcome = Result<LineOutcome, LineError>;

/// The most distinct files one source keeps record state for; past it, files without a pending
/// record are forgotten first.
const MAX_FILES: usize = 4096;
/// The largest document read as one record.
const MAX_DOCUMENT_BYTES: usize = 64 << 20;

/// Record state of one source's files.
#[derive(Debug)]
pub struct SourceRecords {
    format: Arc<Format>,
    files: Vec<FileRecords>,
    /// The file the last line came from: consecutive lines almost always share it.
    last: usize,
    /// The highest step of a document entry counted; documents are rewritten with every earlier
    /// entry, and each entry counts once.
    document_last_step: Option<u64>,
}

/// The file a record came from, as [`SourceRecords`] emits it.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    pub name: &'a Arc<str>,
    /// The file is being read from its first byte (see [`SourceRecords::opened`]).
    pub from_start: bool,
}

#[derive(Debug)]
struct FileRecords {
    path: Vec<u8>,
    name: Arc<str>,
    from_start: bool,
    /// Values of sticky patterns, filled into the file's later records.
    sticky: Option<Observation>,
    pending: Option<Pending>,
    document: Option<String>,
    last_line_seconds: f64,
}

/// A block being filled.
#[derive(Debug)]
struct Pending {
    fields: Collector,
}

impl SourceRecords {
    pub fn new(format: Arc<Format>) -> SourceRecords {
        SourceRecords {
            format,
            files: Vec::new(),
            last: 0,
            document_last_step: None,
        }
    }

    pub fn format(&self) -> &Format {
        &self.format
    }

    /// Notes where a file's reading began: at its first byte (a new file, a rotation, a
    /// truncation) or further on (a saved position, `--tail.read-from end`).
    pub fn opened(&mut self, file: &Path, from_start: bool) {
        let index = self.file_index(file);
        if let Some(records) = self.files.get_mut(index) {
            records.from_start = from_start;
        }
    }

    /// Feeds one complete line of `file` read at `now_seconds`; `emit` gets the file's name and
    /// each record the line completes (none, one, or two: a flushed block and the line itself).
    pub fn feed(
        &mut self,
        file: &Path,
        line: &[u8],
        now_seconds: f64,
        emit: &mut impl FnMut(&FileRef<'_>, RecordOutcome),
    ) {
        let index = self.file_index(file);
        if self.format.document.is_some() {
            self.feed_document_line(index, line, now_seconds, emit);
            return;
        }
        // Borrowed, not cloned: one line is one record almost always, and the format and the
        // file's name are the same for every line.
        let format = &*self.format;
        let Some(records) = self.files.get_mut(index) else {
            return;
        };
        records.last_line_seconds = now_seconds;
        let FileRecords {
            name,
            from_start,
            sticky,
            pending,
            ..
        } = records;
        let name = FileRef {
            name,
            from_start: *from_start,
        };
        let Some(block) = &format.block else {
            let outcome = line_with_sticky(format, sticky, line);
            emit(&name, outcome);
            return;
        };
        let text = match std::str::from_utf8(line) {
            Ok(text) => without_ansi(text),
            Err(_) => {
                if let Some(pending) = pending.take() {
                    emit(&name, pending.fields.finish(format));
                }
                let outcome = line_with_sticky(format, sticky, line);
                emit(&name, outcome);
                return;
            }
        };
        if let Some(captures) = block.header.regex.captures(text.as_bytes()) {
            if let Some(pending) = pending.take() {
                emit(
                    &name,
                    with_sticky(pending.fields.finish(format), sticky.as_ref()),
                );
            }
            let mut fields = Collector::default();
            fields.captures(format, &block.header, &captures);
            *pending = Some(Pending { fields });
            return;
        }
        if let Some(open) = pending.as_mut() {
            if let Some(captures) = block.entry.captures(text.as_bytes()) {
                let text_of = |group: usize| {
                    captures
                        .get(group)
                        .and_then(|m| std::str::from_utf8(m.as_bytes()).ok())
                        .map_or("", str::trim)
                };
                let key = text_of(block.key_group);
                let value = text_of(block.value_group);
                if let Ok(found) = block.keys.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
                    if let Some((key, field)) = block.keys.get(found) {
                        let scale = format.options.get(*field).scale;
                        open.fields.record(*field, scale, Raw::Str(value), key);
                    }
                }
                return;
            }
            if let Some(pending) = pending.take() {
                emit(
                    &name,
                    with_sticky(pending.fields.finish(format), sticky.as_ref()),
                );
            }
        }
        let outcome = line_with_sticky(format, sticky, line);
        emit(&name, outcome);
    }

    /// [`SourceRecords::feed`] for a format whose records are whole documents.
    fn feed_document_line(
        &mut self,
        index: usize,
        line: &[u8],
        now_seconds: f64,
        emit: &mut impl FnMut(&FileRef<'_>, RecordOutcome),
    ) {
        let format = Arc::clone(&self.format);
        let Some(records) = self.files.get_mut(index) else {
            return;
        };
        records.last_line_seconds = now_seconds;
        if let Some(outcomes) = feed_document(records, line) {
            let name = Arc::clone(&records.name);
            let from_start = records.from_start;
            for outcome in self.document_entries(&format, outcomes) {
                emit(
                    &FileRef {
                        name: &name,
                        from_start,
                    },
                    outcome,
                );
            }
        }
    }

    /// Flushes the pending blocks of files quiet for [`QUIET_SECONDS`].
    pub fn flush_quiet(
        &mut self,
        now_seconds: f64,
        emit: &mut impl FnMut(&FileRef<'_>, RecordOutcome),
    ) {
        for records in &mut self.files {
            if records.pending.is_some() && now_seconds - records.last_line_seconds >= QUIET_SECONDS
            {
                if let Some(pending) = records.pending.take() {
                    let file = FileRef {
                        name: &records.name,
                        from_start: records.from_start,
                    };
                    emit(&file, pending.fields.finish(&self.format));
                }
            }
        }
    }

    /// Flushes every pending block (the end of a dry run).
    pub fn flush_all(&mut self, emit: &mut impl FnMut(&FileRef<'_>, RecordOutcome)) {
        self.flush_quiet(f64::INFINITY, emit);
    }

    /// Whether a block is waiting for its end.
    pub fn has_pending(&self) -> bool {
        self.files.iter().any(|records| records.pending.is_some())
    }

    fn file_index(&mut self, file: &Path) -> usize {
        let bytes = file.as_os_str().as_encoded_bytes();
        if self.files.get(self.last).is_some_and(|r| r.path == bytes) {
            return self.last;
        }
        if let Some(index) = self.files.iter().position(|r| r.path == bytes) {
            self.last = index;
            return index;
        }
        if self.files.len() >= MAX_FILES {
            self.files
                .retain(|r| r.pending.is_some() || r.document.is_some());
        }
        self.files.push(FileRecords {
            path: bytes.to_vec(),
            name: Arc::from(file.to_string_lossy().as_ref()),
            from_start: false,
            sticky: None,
            pending: None,
            document: None,
            last_line_seconds: 0.0,
        });
        self.last = self.files.len() - 1;
        self.last
    }

    /// The entries of a finished document that were not counted before.
    fn document_entries(&mut self, format: &Format, document: String) -> Vec<RecordOutcome> {
        let Some(array_key) = &format.document else {
            return Vec::new();
        };
        let value: serde_json::Value = match serde_json::from_str(&document) {
            Ok(value) => value,
            Err(error) => {
                return vec![Err(LineError {
                    reason: ParseErrorReason::InvalidJson,
                    detail: format!("document is not json ({error}); was it written whole?"),
                    kept: None,
                })]
            }
        };
        let Some(entries) = value.get(array_key).and_then(|v| v.as_array()) else {
            return vec![Ok(LineOutcome::Ignored)];
        };
        let mut outcomes = Vec::new();
        let mut highest = self.document_last_step;
        for entry in entries {
            let text = entry.to_string();
            let outcome = parse_line(format, text.as_bytes());
            let step = match &outcome {
                Ok(LineOutcome::Observation(observation)) => observation.step,
                Err(error) => error.kept.as_ref().and_then(|kept| kept.step),
                Ok(LineOutcome::Ignored) => None,
            };
            // An entry without a step cannot be told from its copy in the next document.
            let Some(step) = step else {
                continue;
            };
            if self.document_last_step.is_some_and(|last| step <= last) {
                continue;
            }
            highest = highest.max(Some(step));
            outcomes.push(outcome);
        }
        self.document_last_step = highest;
        outcomes
    }
}

/// Adds a line to the file's document; the whole text once its closing line arrives.
fn feed_document(records: &mut FileRecords, line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let document = match records.document.as_mut() {
        Some(document) => document,
        None => {
            if !text.trim_start().starts_with('{') {
                return None;
            }
            records.document.insert(String::new())
        }
    };
    if document.len() + text.len() > MAX_DOCUMENT_BYTES {
        records.document = None;
        return None;
    }
    document.push_str(&text);
    document.push('\n');
    // A document written by `json.dump(indent=...)` closes with `}` alone on its last line; a
    // one-line document closes on its own line.
    let closed = text.trim_end() == "}"
        || (text.trim_start().starts_with('{')
            && text.trim_end().ends_with('}')
            && document.lines().count() == 1);
    closed.then(|| records.document.take()).flatten()
}

/// A line as a record, with the file's sticky values filled in; a sticky line updates them and
/// is no record itself.
fn line_with_sticky(
    format: &Format,
    sticky_values: &mut Option<Observation>,
    line: &[u8],
) -> RecordOutcome {
    if plain_json(format).is_some() {
        return with_sticky(parse_line(format, line), sticky_values.as_ref());
    }
    let (outcome, sticky) = parse_line_and_sticky(format, line);
    if sticky {
        if let Ok(LineOutcome::Observation(values)) = outcome {
            let mut merged = values;
            if let Some(previous) = sticky_values.as_ref() {
                merged.fill_missing(previous);
            }
            *sticky_values = Some(merged);
        }
        return Ok(LineOutcome::Ignored);
    }
    with_sticky(outcome, sticky_values.as_ref())
}

fn with_sticky(mut outcome: RecordOutcome, sticky: Option<&Observation>) -> RecordOutcome {
    if let Some(sticky) = sticky {
        match &mut outcome {
            Ok(LineOutcome::Observation(observation)) => observation.fill_missing(sticky),
            Err(LineError {
                kept: Some(kept), ..
            }) => kept.fill_missing(sticky),
            _ => {}
        }
    }
    outcome
}

/// One line as a record of its own: the first pattern that matches, else the JSON rule, else
/// nothing. A sticky pattern's values are returned as the record.
pub fn parse_line(format: &Format, line: &[u8]) -> RecordOutcome {
    if let Some(json) = plain_json(format) {
        let mut outcome = parse_json_line(line, &json.mapping, json.options);
        scope(format, &mut outcome);
        return outcome;
    }
    parse_line_and_sticky(format, line).0
}

/// The JSON rule of a format that is nothing but that rule (no patterns, blocks, literal,
/// prefix or summary keys): its lines go straight to the JSON parser.
fn plain_json(format: &Format) -> Option<&JsonRule> {
    if !format.patterns.is_empty() || format.block.is_some() {
        return None;
    }
    format.json.as_ref().filter(|json| {
        json.contains.is_none() && json.prefix.is_none() && json.summary_keys.is_empty()
    })
}

/// [`parse_line`], and whether the record came from a sticky pattern.
fn parse_line_and_sticky(format: &Format, line: &[u8]) -> (RecordOutcome, bool) {
    if let Some(json) = plain_json(format) {
        return (
            scoped(format, parse_json_line(line, &json.mapping, json.options)),
            false,
        );
    }
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(error) => {
            let error = LineError {
                reason: ParseErrorReason::InvalidUtf8,
                detail: format!(
                    "line is not valid utf-8 (invalid byte at offset {}) in {}; write the log as utf-8",
                    error.valid_up_to(),
                    quote(&String::from_utf8_lossy(line))
                ),
                kept: None,
            };
            return (Err(error), false);
        }
    };
    let text = without_ansi(text);
    for pattern in &format.patterns {
        if pattern
            .contains
            .as_deref()
            .is_some_and(|literal| !text.contains(literal))
        {
            continue;
        }
        if let Some(captures) = pattern.regex.captures(text.as_bytes()) {
            let mut fields = Collector::default();
            fields.captures(format, pattern, &captures);
            return (fields.finish(format), pattern.sticky);
        }
    }
    let Some(json) = &format.json else {
        return (Ok(LineOutcome::Ignored), false);
    };
    if json
        .contains
        .as_deref()
        .is_some_and(|literal| !text.contains(literal))
    {
        return (Ok(LineOutcome::Ignored), false);
    }
    let mut outcome = scoped(
        format,
        parse_json_line(text.as_bytes(), &json.mapping, json.options),
    );
    if let (Some(prefix), Ok(LineOutcome::Observation(observation))) = (&json.prefix, &mut outcome)
    {
        if let Some(captures) = prefix.regex.captures(text.as_bytes()) {
            let mut fields = Collector::default();
            fields.captures(format, prefix, &captures);
            observation.fill_missing(&fields.observation);
        }
    }
    if json.is_summary(&text) {
        match &mut outcome {
            Ok(LineOutcome::Observation(observation)) => observation.clear_throughput(),
            Err(LineError {
                kept: Some(kept), ..
            }) => kept.clear_throughput(),
            _ => {}
        }
    }
    (outcome, false)
}

fn scoped(format: &Format, mut outcome: RecordOutcome) -> RecordOutcome {
    scope(format, &mut outcome);
    outcome
}

/// Marks the fields the format says are per device, in place.
fn scope(format: &Format, outcome: &mut RecordOutcome) {
    match outcome {
        Ok(LineOutcome::Observation(observation)) => format.apply_scopes(observation),
        Err(LineError {
            kept: Some(kept), ..
        }) => format.apply_scopes(kept),
        _ => {}
    }
}

/// The text without ANSI escape sequences (colours), which some trainers print to their logs.
fn without_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // CSI: ESC [ parameters final-byte (@ to ~).
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    Cow::Owned(out)
}

/// Fields of one record as they are found, and the first problem.
#[derive(Debug, Default)]
struct Collector {
    observation: Observation,
    first_error: Option<String>,
    throughput_error: bool,
}

impl Collector {
    fn captures(
        &mut self,
        format: &Format,
        pattern: &Pattern,
        captures: &regex::bytes::Captures<'_>,
    ) {
        let _ = format;
        for (group, field, options) in &pattern.groups {
            if let Some(found) = captures.get(*group) {
                // The line is UTF-8; a group that cuts a character in two holds no number.
                let text = std::str::from_utf8(found.as_bytes()).unwrap_or("\u{fffd}");
                self.record(*field, options.scale, Raw::Str(text), field.as_str());
                if options.per_device {
                    self.observation.per_device.set(*field, true);
                }
            }
        }
    }

    fn record(&mut self, field: Field, scale: f64, raw: Raw<'_>, key: &str) {
        match convert(field, scale, &raw) {
            Ok(Some(value)) => self.observation.set(field, value),
            Ok(None) => {}
            Err(problem) => {
                self.throughput_error |= field.carries_throughput();
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{} ({field}) {problem}", quote(key)));
                }
            }
        }
    }

    fn finish(mut self, format: &Format) -> RecordOutcome {
        format.apply_scopes(&mut self.observation);
        if let Some(detail) = self.first_error {
            let kept = (!self.throughput_error && !self.observation.is_empty())
                .then(|| Box::new(self.observation));
            return Err(LineError {
                reason: ParseErrorReason::InvalidValue,
                detail,
                kept,
            });
        }
        if self.observation.is_empty() {
            Ok(LineOutcome::Ignored)
        } else {
            Ok(LineOutcome::Observation(self.observation))
        }
    }
}
