//! Which keys of a JSON log line feed which [`Field`]: a list of [`FieldSpec`]s per field, compiled
//! into a prefix tree over path segments that the JSON parser walks without allocating.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::observation::Field;
use super::quote::{float_text, quote};

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
    #[error("unknown field {}; expected one of {}", quote(.name), Field::names())]
    UnknownField { name: String },
    #[error(
        "scale {} for {} must be a finite number above 0, such as 0.001 for milliseconds or 0.01 for percent",
        float_text(*.scale),
        quote(.path)
    )]
    InvalidScale { path: String, scale: f64 },
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

    pub fn scaled_key(key: &str, scale: f64) -> FieldSpec {
        FieldSpec {
            path: FieldPath::Key(key.to_owned()),
            scale,
        }
    }
}

/// One value per [`Field`].
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PerField<T>([T; Field::ALL.len()]);

impl<T> PerField<T> {
    pub(crate) fn get(&self, field: Field) -> &T {
        // `Field::index` is below `Field::ALL.len()` by construction.
        &self.0[field.index()]
    }

    pub(crate) fn get_mut(&mut self, field: Field) -> &mut T {
        &mut self.0[field.index()]
    }
}

/// Which log keys feed which [`Observation`] field: per field, a list of specs tried in order (the
/// first present wins). Built from [`FieldMapping::default`] and changed with
/// [`FieldMapping::with_override`].
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    specs: PerField<Vec<FieldSpec>>,
    /// The specs as a prefix tree over path segments, rebuilt whenever the specs change.
    pub(crate) root: PathNode,
}

impl Default for FieldMapping {
    /// The keys common training loops log: `tokens_per_sec`, `tokens_per_second`, `tps`,
    /// `throughput`; `tokens`, `num_tokens`; `tokens_per_step`; `total_tokens`, `consumed_tokens`;
    /// `dt`, `step_time` (seconds), `dt_ms`, `time_ms`, `elapsed_ms`, `iter_time_ms`, `step_time_ms`
    /// (milliseconds); `step`, `iter`, `iteration`; `loss`; `time`, `timestamp`, `ts`; `mfu` (a
    /// ratio), `mfu_percent`, `mfu_pct` (percent).
    fn default() -> Self {
        let keys = |keys: &[&str]| {
            keys.iter()
                .map(|key| FieldSpec::key(key))
                .collect::<Vec<_>>()
        };
        let mut specs: PerField<Vec<FieldSpec>> = PerField::default();
        *specs.get_mut(Field::TokensPerSecond) =
            keys(&["tokens_per_sec", "tokens_per_second", "tps", "throughput"]);
        *specs.get_mut(Field::Tokens) = keys(&["tokens", "num_tokens"]);
        *specs.get_mut(Field::TokensPerStep) = keys(&["tokens_per_step"]);
        *specs.get_mut(Field::TotalTokens) = keys(&["total_tokens", "consumed_tokens"]);
        let mut step_seconds = keys(&["dt", "step_time"]);
        step_seconds.extend(
            [
                "dt_ms",
                "time_ms",
                "elapsed_ms",
                "iter_time_ms",
                "step_time_ms",
            ]
            .map(|key| FieldSpec::scaled_key(key, 0.001)),
        );
        *specs.get_mut(Field::StepSeconds) = step_seconds;
        *specs.get_mut(Field::Step) = keys(&["step", "iter", "iteration"]);
        *specs.get_mut(Field::Loss) = keys(&["loss"]);
        *specs.get_mut(Field::Timestamp) = keys(&["time", "timestamp", "ts"]);
        *specs.get_mut(Field::ReportedMfu) = vec![
            FieldSpec::key("mfu"),
            FieldSpec::scaled_key("mfu_percent", 0.01),
            FieldSpec::scaled_key("mfu_pct", 0.01),
        ];
        FieldMapping::from_specs(specs)
    }
}

impl FieldMapping {
    /// No key feeds any field.
    pub fn empty() -> FieldMapping {
        FieldMapping::from_specs(PerField::default())
    }

    fn from_specs(specs: PerField<Vec<FieldSpec>>) -> FieldMapping {
        let root = PathNode::build(&specs);
        FieldMapping { specs, root }
    }

    /// Replaces the list of specs for one field; an empty list turns the field off.
    pub fn with_override(mut self, field: Field, specs: Vec<FieldSpec>) -> Self {
        *self.specs.get_mut(field) = specs;
        self.root = PathNode::build(&self.specs);
        self
    }

    /// The specs for one field, in the order they are tried.
    pub fn specs(&self, field: Field) -> &[FieldSpec] {
        self.specs.get(field)
    }
}

/// A node of the mapping's prefix tree: what the value at this path feeds, and the keys below it
/// that matter.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PathNode {
    pub(crate) children: Vec<Child>,
    /// An open-addressing table over the children's fingerprints: slot `hash & (len - 1)` and
    /// the ones after it hold child indexes ([`EMPTY_SLOT`] ends a probe) beside their
    /// fingerprints, so that a probe reads a child only when its fingerprint matches. A lookup
    /// costs a hash and a probe or two, whatever the number of keys.
    slots: Vec<Slot>,
    pub(crate) targets: Vec<Target>,
}

/// The index of a slot of [`PathNode::slots`] that holds no child.
const EMPTY_SLOT: u16 = u16::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Slot {
    fingerprint: KeyFingerprint,
    /// The child's index in [`PathNode::children`], or [`EMPTY_SLOT`].
    child: u16,
}

const EMPTY: Slot = Slot {
    fingerprint: KeyFingerprint { length: 0, head: 0 },
    child: EMPTY_SLOT,
};

/// A key below a node, with a fingerprint that settles most comparisons without a call to `memcmp`,
/// which dominated the cost of matching short keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Child {
    key: String,
    fingerprint: KeyFingerprint,
    /// The key's bytes 8 to 16, as [`KeyFingerprint::head`] holds 0 to 8: with the fingerprint,
    /// the whole of a key up to 16 bytes long, compared without a call to `memcmp`.
    second_word: u64,
    node: PathNode,
}

/// Up to eight bytes as a word, the first in the lowest bits, zero-padded.
fn word_of(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<8>() {
        Some(word) => u64::from_le_bytes(*word),
        None => bytes
            .iter()
            .rev()
            .fold(0, |word, byte| (word << 8) | u64::from(*byte)),
    }
}

/// A key's length and its first eight bytes; for keys up to eight bytes long it is the whole key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyFingerprint {
    length: usize,
    head: u64,
}

impl KeyFingerprint {
    const HEAD_BYTES: usize = 8;

    /// A multiplicative hash of the fingerprint; its high bits pick the slot.
    fn hash(self) -> u64 {
        (self.head ^ (self.length as u64).rotate_left(56)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn of(key: &[u8]) -> KeyFingerprint {
        KeyFingerprint {
            length: key.len(),
            head: word_of(key),
        }
    }

    /// The fingerprint of a key of `length` bytes from `word`, the eight bytes of a text that
    /// start where the key does (first in the lowest bits); the bytes past the key are ignored.
    #[inline]
    fn of_word(length: usize, word: u64) -> KeyFingerprint {
        let head = if length >= Self::HEAD_BYTES {
            word
        } else {
            word & ((1u64 << (8 * length)) - 1)
        };
        KeyFingerprint { length, head }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) field: Field,
    /// The spec's position in its field's list; lower wins.
    pub(crate) priority: usize,
    pub(crate) spec: FieldSpec,
}

#[derive(Default)]
struct PathNodeBuilder {
    children: BTreeMap<String, PathNodeBuilder>,
    targets: Vec<Target>,
}

impl PathNodeBuilder {
    fn finish(self) -> PathNode {
        let children: Vec<Child> = self
            .children
            .into_iter()
            .map(|(key, child)| Child {
                fingerprint: KeyFingerprint::of(key.as_bytes()),
                second_word: word_of(key.as_bytes().get(8..).unwrap_or_default()),
                key,
                node: child.finish(),
            })
            .collect();
        // At least twice as many slots as children keeps probes short; a mapping has far fewer
        // keys below one node than a u16 counts.
        let size = (children.len() * 2).next_power_of_two().max(4);
        let mut slots = vec![EMPTY; size];
        for (index, child) in children.iter().enumerate().take(usize::from(EMPTY_SLOT)) {
            let mut slot = slot_of(child.fingerprint, size);
            while slots.get(slot).is_some_and(|s| s.child != EMPTY_SLOT) {
                slot = (slot + 1) & (size - 1);
            }
            if let Some(s) = slots.get_mut(slot) {
                *s = Slot {
                    fingerprint: child.fingerprint,
                    child: index as u16,
                };
            }
        }
        PathNode {
            slots,
            children,
            targets: self.targets,
        }
    }
}

impl PathNode {
    fn build(specs: &PerField<Vec<FieldSpec>>) -> PathNode {
        let mut root = PathNodeBuilder::default();
        for field in Field::ALL {
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

    pub(crate) fn child(&self, key: &str) -> Option<&PathNode> {
        self.child_of_bytes(key.as_bytes())
    }

    /// [`PathNode::child`] for a key given as its bytes.
    #[inline]
    pub(crate) fn child_of_bytes(&self, key: &[u8]) -> Option<&PathNode> {
        self.child_with(key, KeyFingerprint::of(key))
    }

    /// [`PathNode::child`] for a key that sits in a longer text: `word` holds the eight bytes
    /// of that text from the key's first byte on (first in the lowest bits), which spares
    /// copying a short key to fingerprint it.
    #[inline]
    pub(crate) fn child_at(&self, key: &[u8], word: u64) -> Option<&PathNode> {
        self.child_with(key, KeyFingerprint::of_word(key.len(), word))
    }

    #[inline(always)]
    fn child_with(&self, key: &[u8], fingerprint: KeyFingerprint) -> Option<&PathNode> {
        if self.children.is_empty() {
            return None;
        }
        let size = self.slots.len();
        let mut slot = slot_of(fingerprint, size);
        // Every table has an empty slot, so the probe ends; the bound is a second guard.
        for _ in 0..size {
            let entry = self.slots.get(slot)?;
            if entry.child == EMPTY_SLOT {
                return None;
            }
            if entry.fingerprint == fingerprint {
                let child = self.children.get(usize::from(entry.child))?;
                if same_tail(child, key) {
                    return Some(&child.node);
                }
            }
            slot = (slot + 1) & (size - 1);
        }
        None
    }
}

/// Whether `key`, whose fingerprint equals the child's, is the child's key: its bytes past the
/// first eight are the same.
#[inline]
fn same_tail(child: &Child, key: &[u8]) -> bool {
    let tail = key.get(KeyFingerprint::HEAD_BYTES..).unwrap_or_default();
    if tail.len() <= 8 {
        word_of(tail) == child.second_word
    } else {
        child.key.as_bytes().get(KeyFingerprint::HEAD_BYTES..) == Some(tail)
    }
}

/// The first slot to probe for a fingerprint in a table of `size` (a power of two) slots.
fn slot_of(fingerprint: KeyFingerprint, size: usize) -> usize {
    (fingerprint.hash() >> (64 - size.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_below_a_node_is_found_and_no_other() {
        // Many keys, some sharing their first eight bytes, some shorter than eight.
        let keys: Vec<String> = (0..200)
            .map(|i| match i % 3 {
                0 => format!("throughput/device/{i}"),
                1 => format!("k{i}"),
                _ => format!("throughput/{i}"),
            })
            .collect();
        let specs: Vec<FieldSpec> = keys.iter().map(|key| FieldSpec::key(key)).collect();
        let mapping = FieldMapping::empty().with_override(Field::Loss, specs);
        for key in &keys {
            let node = mapping.root.child(key).unwrap_or_else(|| panic!("{key}"));
            assert_eq!(node.targets.len(), 1, "{key}");
        }
        for missing in [
            "",
            "k",
            "k2000",
            "throughput/device/1",
            "throughput/device/00",
        ] {
            assert!(mapping.root.child(missing).is_none(), "{missing}");
        }
        assert!(FieldMapping::empty().root.child("loss").is_none());
        // A key read in place, with the bytes of the text after it in the word.
        for key in keys.iter().map(String::as_str).chain(["", "k", "k2000"]) {
            let text = format!("{key}\": 1, \"more\"");
            let word = u64::from_le_bytes(text.as_bytes()[..8].try_into().unwrap());
            assert_eq!(
                mapping
                    .root
                    .child_at(key.as_bytes(), word)
                    .map(|node| &node.targets),
                mapping.root.child(key).map(|node| &node.targets),
                "{key}"
            );
        }
    }
}
