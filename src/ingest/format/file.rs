//! The schema of a format file (`configs/formats/<name>.toml` and users' own): what the user
//! wrote, before it is checked and compiled into a [`super::Format`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatFile {
    pub description: Option<String>,
    #[serde(default)]
    pub checked_against: Vec<String>,
    pub warmup_steps: Option<u32>,
    pub steps_from: Option<u64>,
    pub json: Option<JsonSection>,
    #[serde(default)]
    pub pattern: Vec<PatternSection>,
    pub block: Option<BlockSection>,
    pub document: Option<DocumentSection>,
    #[serde(default)]
    pub fields: BTreeMap<Spanned<String>, FieldSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSection {
    #[serde(default)]
    pub python_literals: bool,
    /// Whether the default keys of the `json` format are read as well [default: false].
    #[serde(default)]
    pub default_keys: bool,
    /// Only lines holding this literal are read as JSON.
    pub contains: Option<String>,
    /// An object holding any of these keys is a summary (the end of training, an evaluation):
    /// its step and loss are read, its throughput is not.
    #[serde(default)]
    pub summary_keys: Vec<String>,
    /// A regex for the text before the object, whose named groups are fields (a timestamp, a
    /// rank); the JSON's own fields win.
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub keys: BTreeMap<Spanned<String>, KeyList>,
}

/// One key or several, tried in order.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            KeyList::One(key) => vec![key],
            KeyList::Many(keys) => keys,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSection {
    pub regex: Spanned<String>,
    pub contains: Option<String>,
    /// The pattern's values hold for the rest of the file (a line the trainer prints once, such
    /// as nanoGPT's `tokens per iteration will be: N`); the line itself is not a record.
    #[serde(default)]
    pub sticky: bool,
    /// Units and scopes for this pattern only, over the format's `[fields]`.
    #[serde(default)]
    pub fields: BTreeMap<Spanned<String>, FieldSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSection {
    pub header: Spanned<String>,
    pub entry: Spanned<String>,
    #[serde(default)]
    pub keys: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSection {
    /// The key of the array whose entries are records, such as `log_history`.
    pub array: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSection {
    pub unit: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
}
