//! Log formats as data: how to get [`Observation`] fields from a line or a block of lines.
//!
//! A format is a file (`configs/formats/<name>.toml` for the built-in ones, compiled in; any path
//! for a user's own) with up to four ways to read a record, tried in this order:
//!
//! - `[block]`: a header line starts a record (`[step=120/1000,epoch=0]`, `[batch=4/10]:`) and the
//!   entry lines after it (`key=value`, `Train key: value`) fill it, until a line that is neither
//!   or a quiet time ([`QUIET_SECONDS`]) ends it;
//! - `[[pattern]]`: regular expressions (the `regex` crate: linear time on any input) whose named
//!   groups are fields; the first that matches a line wins;
//! - `[json]`: a JSON object, also after a text prefix, through a key mapping;
//! - `[document]`: a whole JSON document rewritten in place (the Hugging Face Trainer's
//!   `trainer_state.json`), whose array entries are records, each counted once.
//!
//! `[fields.<name>]` gives a field's unit (`ms`, `percent`, `tflops`) and scope (`per-device`).
//! Nothing after a format knows which format a record came from: it yields [`Observation`]s.
//! Records are assembled per file by [`records::FileRecords`].

mod file;
pub mod records;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use regex::bytes::Regex;
use toml::Spanned;

use self::file::{FieldSection, FormatFile};
use super::json::JsonOptions;
use super::mapping::{FieldMapping, FieldPath, FieldSpec, PerField};
use super::observation::{Field, FieldKind, Observation};

/// How long a file must be quiet before a pending block is flushed, so that the last step of a
/// block-format log is not held back until the next one.
pub const QUIET_SECONDS: f64 = 1.0;

/// The built-in formats: name and file text, compiled in.
pub const BUILTIN: &[(&str, &str)] = &[
    ("json", include_str!("../../../configs/formats/json.toml")),
    (
        "torchtitan",
        include_str!("../../../configs/formats/torchtitan.toml"),
    ),
    (
        "megatron",
        include_str!("../../../configs/formats/megatron.toml"),
    ),
    (
        "nanogpt",
        include_str!("../../../configs/formats/nanogpt.toml"),
    ),
    (
        "fairseq",
        include_str!("../../../configs/formats/fairseq.toml"),
    ),
    (
        "llamafactory",
        include_str!("../../../configs/formats/llamafactory.toml"),
    ),
    (
        "hf-trainer",
        include_str!("../../../configs/formats/hf-trainer.toml"),
    ),
    (
        "hf-trainer-state",
        include_str!("../../../configs/formats/hf-trainer-state.toml"),
    ),
    (
        "maxtext",
        include_str!("../../../configs/formats/maxtext.toml"),
    ),
    (
        "torchtune",
        include_str!("../../../configs/formats/torchtune.toml"),
    ),
    (
        "olmo-core",
        include_str!("../../../configs/formats/olmo-core.toml"),
    ),
    (
        "composer",
        include_str!("../../../configs/formats/composer.toml"),
    ),
];

/// The name of the default format.
pub const DEFAULT_FORMAT: &str = "json";

/// A checked, compiled format.
#[derive(Debug, Clone)]
pub struct Format {
    pub name: String,
    pub description: String,
    pub checked_against: Vec<String>,
    /// Lines (or blocks) of a run kept out of the rate gauges after a start or a restart, unless
    /// `--tail.warmup-steps` says otherwise.
    pub warmup_steps: Option<u32>,
    /// The first step number of a fresh run, so that the first record counts its whole interval.
    pub steps_from: Option<u64>,
    pub(crate) json: Option<JsonRule>,
    pub(crate) patterns: Vec<Pattern>,
    pub(crate) block: Option<BlockRule>,
    pub(crate) document: Option<String>,
    /// Per field: the factor its unit gives, and whether it is one device's share.
    pub(crate) options: PerField<FieldOptions>,
}

#[derive(Debug, Clone)]
pub(crate) struct JsonRule {
    pub(crate) mapping: FieldMapping,
    pub(crate) options: JsonOptions,
    pub(crate) contains: Option<String>,
    /// The summary keys as they appear quoted in a line, `"key"` and `'key'`.
    pub(crate) summary_keys: Vec<String>,
    pub(crate) prefix: Option<Pattern>,
}

impl JsonRule {
    /// Whether the line holds one of the summary keys: a quoted key followed by `:`.
    pub(crate) fn is_summary(&self, text: &str) -> bool {
        self.summary_keys.iter().any(|quoted| {
            text.match_indices(quoted.as_str()).any(|(at, _)| {
                text.get(at + quoted.len()..)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) contains: Option<String>,
    pub(crate) regex: Regex,
    /// Capture group index, the field it fills, and the field's unit and scope.
    pub(crate) groups: Vec<(usize, Field, FieldOptions)>,
    pub(crate) sticky: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct BlockRule {
    pub(crate) header: Pattern,
    pub(crate) entry: Regex,
    pub(crate) key_group: usize,
    pub(crate) value_group: usize,
    /// Entry key → field, sorted by key.
    pub(crate) keys: Vec<(String, Field)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FieldOptions {
    pub(crate) scale: f64,
    pub(crate) per_device: bool,
}

impl Default for FieldOptions {
    fn default() -> Self {
        FieldOptions {
            scale: 1.0,
            per_device: false,
        }
    }
}

/// A format file that cannot be used: where, and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FormatError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(formatter, "{}:{line}: {}", self.file, self.message),
            None => write!(formatter, "{}: {}", self.file, self.message),
        }
    }
}

impl Format {
    /// A built-in format by name, or a format file by path (anything with a `/` or ending in
    /// `.toml`).
    pub fn load(name_or_path: &str) -> Result<Arc<Format>, FormatError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(name, _)| *name == name_or_path) {
            return Format::parse(name, &format!("configs/formats/{name}.toml"), text)
                .map(Arc::new);
        }
        let is_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
        if !is_path {
            let names: Vec<&str> = BUILTIN.iter().map(|(name, _)| *name).collect();
            return Err(FormatError {
                file: name_or_path.to_owned(),
                line: None,
                message: format!(
                    "no built-in format of that name; use one of {} (`mfu-exporter formats` lists them) or the path of a format file",
                    names.join(", ")
                ),
            });
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|error| FormatError {
            file: name_or_path.to_owned(),
            line: None,
            message: format!("cannot read the format file ({error}); check the path"),
        })?;
        let name = path.file_stem().map_or_else(
            || name_or_path.to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        Format::parse(&name, name_or_path, &text).map(Arc::new)
    }

    /// Every built-in format, compiled.
    pub fn builtins() -> Result<Vec<Format>, FormatError> {
        BUILTIN
            .iter()
            .map(|(name, text)| Format::parse(name, &format!("configs/formats/{name}.toml"), text))
            .collect()
    }

    /// Checks and compiles a format file's text; `file` names it in errors.
    pub fn parse(name: &str, file: &str, text: &str) -> Result<Format, FormatError> {
        let error_at = |span: Option<std::ops::Range<usize>>, message: String| FormatError {
            file: file.to_owned(),
            line: span.map(|span| line_of(text, span.start)),
            message,
        };
        let parsed: FormatFile = toml::from_str(text).map_err(|error| {
            error_at(
                error.span(),
                format!(
                    "{}; see README.md, \"Log formats\", for the schema",
                    error.message().trim()
                ),
            )
        })?;
        let mut options: PerField<FieldOptions> = PerField::default();
        for (name, section) in parsed.fields {
            let field = parse_field(&name).map_err(|m| error_at(Some(name.span()), m))?;
            let compiled =
                field_options(field, &section).map_err(|(span, m)| error_at(Some(span), m))?;
            *options.get_mut(field) = compiled;
        }
        let json = match parsed.json {
            None => None,
            Some(section) => {
                let mut mapping = if section.default_keys {
                    FieldMapping::default()
                } else {
                    FieldMapping::empty()
                };
                for (name, keys) in section.keys {
                    let field = parse_field(&name).map_err(|m| error_at(Some(name.span()), m))?;
                    let scale = options.get(field).scale;
                    let mut specs = Vec::new();
                    for key in keys.into_vec() {
                        let spec = FieldPath::parse(&key)
                            .and_then(|path| FieldSpec::new(path, scale))
                            .map_err(|e| {
                                error_at(
                                    Some(name.span()),
                                    format!("json.keys.{}: {e}", name.get_ref()),
                                )
                            })?;
                        specs.push(spec);
                    }
                    mapping = mapping.with_override(field, specs);
                }
                // Default keys take the format's units too.
                if section.default_keys {
                    for field in Field::ALL {
                        let scale = options.get(field).scale;
                        if scale != 1.0 {
                            let specs = mapping
                                .specs(field)
                                .iter()
                                .map(|spec| FieldSpec {
                                    scale: spec.scale * scale,
                                    ..spec.clone()
                                })
                                .collect();
                            mapping = mapping.with_override(field, specs);
                        }
                    }
                }
                let prefix = match &section.prefix {
                    None => None,
                    Some(regex) => Some(
                        compile_pattern(regex, None, &options)
                            .map_err(|m| error_at(Some(regex.span()), m))?,
                    ),
                };
                Some(JsonRule {
                    mapping,
                    options: JsonOptions {
                        after_prefix: true,
                        python_literals: section.python_literals,
                    },
                    contains: section.contains.filter(|c| !c.is_empty()),
                    summary_keys: section
                        .summary_keys
                        .iter()
                        .filter(|key| !key.is_empty())
                        .flat_map(|key| [format!("\"{key}\""), format!("'{key}'")])
                        .collect(),
                    prefix,
                })
            }
        };
        let mut patterns = Vec::new();
        for section in parsed.pattern {
            let mut pattern_options = options.clone();
            for (name, field_section) in &section.fields {
                let field = parse_field(name).map_err(|m| error_at(Some(name.span()), m))?;
                let compiled = field_options(field, field_section)
                    .map_err(|(span, m)| error_at(Some(span), m))?;
                *pattern_options.get_mut(field) = compiled;
            }
            let mut pattern = compile_pattern(&section.regex, section.contains, &pattern_options)
                .map_err(|m| error_at(Some(section.regex.span()), m))?;
            pattern.sticky = section.sticky;
            patterns.push(pattern);
        }
        let block = match parsed.block {
            None => None,
            Some(section) => {
                let header = compile_pattern(&section.header, None, &options)
                    .map_err(|m| error_at(Some(section.header.span()), m))?;
                let entry = compile_regex(&section.entry)
                    .map_err(|m| error_at(Some(section.entry.span()), m))?;
                let group = |wanted: &str| {
                    entry
                        .capture_names()
                        .position(|name| name == Some(wanted))
                        .ok_or_else(|| {
                            error_at(
                                Some(section.entry.span()),
                                format!(
                                    "block.entry needs a group named {wanted:?}, such as (?P<key>[^=]+)=(?P<value>\\S+)"
                                ),
                            )
                        })
                };
                let key_group = group("key")?;
                let value_group = group("value")?;
                if let Some(other) = entry
                    .capture_names()
                    .flatten()
                    .find(|name| *name != "key" && *name != "value")
                {
                    return Err(error_at(
                        Some(section.entry.span()),
                        format!("block.entry has a group named {other:?}; it may only name `key` and `value`"),
                    ));
                }
                let mut keys = Vec::new();
                for (key, field) in section.keys {
                    let parsed =
                        parse_field(&field).map_err(|m| error_at(Some(field.span()), m))?;
                    keys.push((key.into_inner(), parsed));
                }
                keys.sort_by(|a, b| a.0.cmp(&b.0));
                Some(BlockRule {
                    header,
                    entry,
                    key_group,
                    value_group,
                    keys,
                })
            }
        };
        let document = match parsed.document {
            None => None,
            Some(section) => {
                if json.is_none() {
                    return Err(error_at(
                        Some(section.array.span()),
                        "a [document] format needs a [json] section whose keys read each entry"
                            .to_owned(),
                    ));
                }
                Some(section.array.into_inner())
            }
        };
        if json.is_none() && patterns.is_empty() && block.is_none() {
            return Err(error_at(
                None,
                "the format reads nothing; give it a [json] section, one or more [[pattern]]s or a [block]".to_owned(),
            ));
        }
        Ok(Format {
            name: name.to_owned(),
            description: parsed.description.unwrap_or_default(),
            checked_against: parsed.checked_against,
            warmup_steps: parsed.warmup_steps,
            steps_from: parsed.steps_from,
            json,
            patterns,
            block,
            document,
            options,
        })
    }

    /// The format with the JSON key mapping of `field` replaced; an empty list turns the field
    /// off. Refused for a format that reads no JSON.
    pub fn with_json_keys(&self, field: Field, specs: Vec<FieldSpec>) -> Result<Format, String> {
        let mut format = self.clone();
        let Some(json) = format.json.as_mut() else {
            return Err(format!(
                "the {} format reads no json, so [tail.fields] cannot apply; write a format file instead",
                self.name
            ));
        };
        json.mapping = json.mapping.clone().with_override(field, specs);
        Ok(format)
    }

    /// The JSON key mapping, for formats that read JSON.
    pub fn json_mapping(&self) -> Option<&FieldMapping> {
        self.json.as_ref().map(|json| &json.mapping)
    }

    /// Marks the token fields this format's `[fields]` call per-device.
    pub(crate) fn apply_scopes(&self, observation: &mut Observation) {
        for field in [
            Field::TokensPerSecond,
            Field::Tokens,
            Field::TokensPerStep,
            Field::TotalTokens,
        ] {
            if self.options.get(field).per_device {
                observation.per_device.set(field, true);
            }
        }
    }

    /// The fields this format's `[fields]` say are per device, for messages.
    pub fn per_device_fields(&self) -> Vec<Field> {
        Field::ALL
            .into_iter()
            .filter(|field| self.options.get(*field).per_device)
            .collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| {
        before.bytes().filter(|b| *b == b'\n').count() + 1
    })
}

fn parse_field(name: &Spanned<String>) -> Result<Field, String> {
    name.get_ref().parse::<Field>().map_err(|e| e.to_string())
}

fn field_options(
    field: Field,
    section: &FieldSection,
) -> Result<FieldOptions, (std::ops::Range<usize>, String)> {
    let mut options = FieldOptions::default();
    if let Some(unit) = &section.unit {
        let scale = match (field.kind(), unit.get_ref().as_str()) {
            (FieldKind::Seconds | FieldKind::Timestamp, "s") => Some(1.0),
            (FieldKind::Seconds | FieldKind::Timestamp, "ms") => Some(0.001),
            (FieldKind::Seconds | FieldKind::Timestamp, "us") => Some(1e-6),
            (FieldKind::Ratio, "ratio") => Some(1.0),
            (FieldKind::Ratio, "percent") => Some(0.01),
            (FieldKind::FlopsPerSecond, "flops") => Some(1.0),
            (FieldKind::FlopsPerSecond, "tflops") => Some(1e12),
            (FieldKind::FlopsPerSecond, "pflops") => Some(1e15),
            _ => None,
        };
        options.scale = scale.ok_or_else(|| {
            let units = match field.kind() {
                FieldKind::Seconds | FieldKind::Timestamp => "\"s\", \"ms\" or \"us\"",
                FieldKind::Ratio => "\"ratio\" or \"percent\"",
                FieldKind::FlopsPerSecond => "\"flops\", \"tflops\" or \"pflops\"",
                _ => "none: the field has no unit to set",
            };
            (
                unit.span(),
                format!(
                    "unit {:?} does not apply to {field}; its units are {units}",
                    unit.get_ref()
                ),
            )
        })?;
    }
    if let Some(scope) = &section.scope {
        let token_field = matches!(
            field,
            Field::TokensPerSecond | Field::Tokens | Field::TokensPerStep | Field::TotalTokens
        );
        options.per_device = match scope.get_ref().as_str() {
            "global" => false,
            "per-device" if token_field => true,
            "per-device" => {
                return Err((
                    scope.span(),
                    format!("{field} has no scope; only tokens_per_second, tokens, tokens_per_step and total_tokens do"),
                ))
            }
            other => {
                return Err((
                    scope.span(),
                    format!("scope {other:?} is unknown; use \"global\" or \"per-device\""),
                ))
            }
        };
    }
    Ok(options)
}

/// Compiled regexes are capped in size so that a hostile format file cannot exhaust memory.
const REGEX_SIZE_LIMIT_BYTES: usize = 1 << 22;

fn compile_regex(text: &Spanned<String>) -> Result<Regex, String> {
    regex::bytes::RegexBuilder::new(text.get_ref())
        // Log lines are ASCII where it matters: ASCII classes keep the automata small and fast.
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT_BYTES)
        .build()
        .map_err(|error| {
            format!(
                "invalid regular expression: {}; fix the pattern (Rust regex syntax: named groups are (?P<name>...), \
                 there is no look-around and no back-reference)",
                error.to_string().replace('\n', " ")
            )
        })
}

fn compile_pattern(
    text: &Spanned<String>,
    contains: Option<String>,
    options: &PerField<FieldOptions>,
) -> Result<Pattern, String> {
    let regex = compile_regex(text)?;
    let mut groups = Vec::new();
    for (index, name) in regex.capture_names().enumerate() {
        let Some(name) = name else {
            continue;
        };
        let field = name.parse::<Field>().map_err(|_| {
            format!(
                "group (?P<{name}>...) names no field; name each group after a field ({}) or make it non-capturing with (?:...)",
                Field::names()
            )
        })?;
        groups.push((index, field, *options.get(field)));
    }
    Ok(Pattern {
        contains: contains.filter(|c| !c.is_empty()),
        regex,
        groups,
        sticky: false,
    })
}

#[cfg(test)]
mod tests;
