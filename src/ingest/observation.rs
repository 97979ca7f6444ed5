//! What a log line, a block of lines or a push says about training progress, the fields a format
//! can fill, and the one set of value limits that every format, the push route and the state share.

use std::fmt;
use std::str::FromStr;

/// What one log record or push says about training progress. All optional; units in names.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// Throughput as the trainer reports it.
    pub tokens_per_second: Option<f64>,
    /// Tokens of the whole interval the record covers (all of its steps).
    pub tokens: Option<f64>,
    /// Tokens of one optimizer step.
    pub tokens_per_step: Option<f64>,
    /// Sequences of one optimizer step (the global batch size); times the sequence length.
    pub samples_per_step: Option<f64>,
    /// Cumulative token count since the start of the run.
    pub total_tokens: Option<f64>,
    /// The duration of one step (the mean over the interval the record covers).
    pub step_seconds: Option<f64>,
    /// The run's own cumulative clock: a trainer clock when lines carry no timestamp.
    pub elapsed_seconds: Option<f64>,
    /// The trainer's step counter.
    pub step: Option<u64>,
    /// The steps the run is planned to take.
    pub total_steps: Option<u64>,
    /// The training loss.
    pub loss: Option<f64>,
    /// The trainer's own wall clock, Unix seconds.
    pub timestamp_seconds: Option<f64>,
    /// The trainer's own MFU as a ratio from 0 to 1.
    pub reported_mfu: Option<f64>,
    /// The trainer's own model FLOP/s per GPU.
    pub reported_flops_per_second_per_gpu: Option<f64>,
    /// The rank that printed the record, where the log says.
    pub rank: Option<u32>,
    /// Which of the token fields are one device's share rather than the whole job's.
    pub per_device: PerDevice,
}

/// Which token fields of an [`Observation`] count one device's tokens (torchtitan's `tps`, MaxText's
/// `Tokens/s/device`) rather than the whole job's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerDevice {
    pub tokens_per_second: bool,
    pub tokens: bool,
    pub tokens_per_step: bool,
    pub total_tokens: bool,
}

impl PerDevice {
    /// Whether `field` is one device's share; only token fields can be.
    pub fn get(&self, field: Field) -> bool {
        match field {
            Field::TokensPerSecond => self.tokens_per_second,
            Field::Tokens => self.tokens,
            Field::TokensPerStep => self.tokens_per_step,
            Field::TotalTokens => self.total_tokens,
            _ => false,
        }
    }

    /// Marks `field` as one device's share; other fields have no scope and are left alone.
    pub fn set(&mut self, field: Field, per_device: bool) {
        match field {
            Field::TokensPerSecond => self.tokens_per_second = per_device,
            Field::Tokens => self.tokens = per_device,
            Field::TokensPerStep => self.tokens_per_step = per_device,
            Field::TotalTokens => self.total_tokens = per_device,
            _ => {}
        }
    }
}

impl Observation {
    /// Whether the observation says anything about tokens: a rate, a count or a per-step size. A
    /// step duration alone is not throughput.
    pub fn has_throughput(&self) -> bool {
        self.tokens_per_second.is_some()
            || self.tokens.is_some()
            || self.total_tokens.is_some()
            || self.tokens_per_step.is_some()
            || self.samples_per_step.is_some()
    }

    /// Whether the observation says where the run is, without throughput: a step, a loss or the
    /// trainer's own figures. Such a record moves the run's gauges and counts nothing.
    pub fn has_progress(&self) -> bool {
        self.step.is_some()
            || self.loss.is_some()
            || self.reported_mfu.is_some()
            || self.reported_flops_per_second_per_gpu.is_some()
    }

    /// Drops every throughput and clock field, keeping where the run is: a summary's rates mean
    /// something else (a whole-run average, one device's share).
    pub fn clear_throughput(&mut self) {
        *self = Observation {
            step: self.step,
            total_steps: self.total_steps,
            loss: self.loss,
            reported_mfu: self.reported_mfu,
            reported_flops_per_second_per_gpu: self.reported_flops_per_second_per_gpu,
            rank: self.rank,
            ..Observation::default()
        };
    }

    /// Whether the observation holds no field (the rank that printed it aside).
    pub fn is_empty(&self) -> bool {
        Observation {
            per_device: PerDevice::default(),
            rank: None,
            ..*self
        } == Observation::default()
    }

    /// Fills the fields this observation lacks from `other` (values a log said once, such as
    /// nanoGPT's tokens per iteration).
    pub fn fill_missing(&mut self, other: &Observation) {
        macro_rules! fill {
            ($($field:ident),*) => {
                $(if self.$field.is_none() { self.$field = other.$field; })*
            };
        }
        fill!(
            tokens_per_second,
            tokens,
            tokens_per_step,
            samples_per_step,
            total_tokens,
            step_seconds,
            elapsed_seconds,
            step,
            total_steps,
            loss,
            timestamp_seconds,
            reported_mfu,
            reported_flops_per_second_per_gpu,
            rank
        );
        for field in [
            Field::TokensPerSecond,
            Field::Tokens,
            Field::TokensPerStep,
            Field::TotalTokens,
        ] {
            if other.per_device.get(field) {
                self.per_device.set(field, true);
            }
        }
    }

    /// Stores a converted value in its field.
    #[inline]
    pub fn set(&mut self, field: Field, value: FieldValue) {
        let real = match value {
            FieldValue::Real(value) => value,
            FieldValue::Count(count) => count as f64,
        };
        let count = match value {
            FieldValue::Count(count) => Some(count),
            // Counts are converted as counts; a real here only comes from a caller's mistake.
            FieldValue::Real(_) => None,
        };
        match field {
            Field::TokensPerSecond => self.tokens_per_second = Some(real),
            Field::Tokens => self.tokens = Some(real),
            Field::TokensPerStep => self.tokens_per_step = Some(real),
            Field::SamplesPerStep => self.samples_per_step = Some(real),
            Field::TotalTokens => self.total_tokens = Some(real),
            Field::StepSeconds => self.step_seconds = Some(real),
            Field::ElapsedSeconds => self.elapsed_seconds = Some(real),
            Field::Step => self.step = count,
            Field::TotalSteps => self.total_steps = count,
            Field::Loss => self.loss = Some(real),
            Field::Timestamp => self.timestamp_seconds = Some(real),
            Field::ReportedMfu => self.reported_mfu = Some(real),
            Field::ReportedFlopsPerSecondPerGpu => {
                self.reported_flops_per_second_per_gpu = Some(real)
            }
            Field::Rank => self.rank = count.and_then(|rank| u32::try_from(rank).ok()),
        }
    }
}

/// A converted value: a real number in the field's base unit, or a whole count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue {
    Real(f64),
    Count(u64),
}

/// What a parser made of a well-formed record.
// Boxing the observation would allocate for every line; the enum lives on the stack only.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineOutcome {
    /// The record holds at least one field.
    Observation(Observation),
    /// Nothing the format reads: a line no pattern matches, a JSON object without known keys, a
    /// blank line.
    Ignored,
}

/// Why a record was rejected; its label is meant for a Prometheus label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorReason {
    InvalidUtf8,
    InvalidJson,
    NotAnObject,
    InvalidValue,
    /// A rate that would put MFU above 1 against the configured peak.
    Implausible,
}

impl ParseErrorReason {
    /// Every reason, for registering label values up front.
    pub const ALL: [ParseErrorReason; 5] = [
        ParseErrorReason::InvalidUtf8,
        ParseErrorReason::InvalidJson,
        ParseErrorReason::NotAnObject,
        ParseErrorReason::InvalidValue,
        ParseErrorReason::Implausible,
    ];

    /// The reason as a Prometheus label value.
    pub fn as_label(self) -> &'static str {
        match self {
            ParseErrorReason::InvalidUtf8 => "invalid_utf8",
            ParseErrorReason::InvalidJson => "invalid_json",
            ParseErrorReason::NotAnObject => "not_an_object",
            ParseErrorReason::InvalidValue => "invalid_value",
            ParseErrorReason::Implausible => "implausible",
        }
    }
}

impl fmt::Display for ParseErrorReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_label())
    }
}

/// A rejected record: the reason to count it under and a message for the log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct LineError {
    pub reason: ParseErrorReason,
    pub detail: String,
    /// When only a descriptive field was bad (loss, step, timestamp, reported figures), the rest of
    /// the record without it: its throughput still counts. `None` when the record is lost.
    pub kept: Option<Box<Observation>>,
}

/// An [`Observation`] field that a format or a field mapping can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    TokensPerSecond,
    Tokens,
    TokensPerStep,
    SamplesPerStep,
    TotalTokens,
    StepSeconds,
    ElapsedSeconds,
    Step,
    TotalSteps,
    Loss,
    Timestamp,
    ReportedMfu,
    ReportedFlopsPerSecondPerGpu,
    Rank,
}

/// How a field's values are read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Tokens or tokens/s: 0 or more, below a plausible limit; zero is "not known".
    Throughput,
    /// Seconds: 0 or more, below a plausible limit; also `H:MM:SS` and `N days, H:MM:SS`.
    Seconds,
    /// A whole number 0 or more.
    Count,
    /// Any finite number.
    Real,
    /// A ratio from 0 to 1; a `%` sign or the percent unit divides by 100; a negative value is a
    /// sentinel (nanoGPT's `-100.00%`) and counts as absent.
    Ratio,
    /// FLOP/s: 0 or more, below a plausible limit; zero is "not known".
    FlopsPerSecond,
    /// Unix seconds (or finer units), or a date-time text.
    Timestamp,
}

impl Field {
    /// Every field, in the order of [`Observation`].
    pub const ALL: [Field; 14] = [
        Field::TokensPerSecond,
        Field::Tokens,
        Field::TokensPerStep,
        Field::SamplesPerStep,
        Field::TotalTokens,
        Field::StepSeconds,
        Field::ElapsedSeconds,
        Field::Step,
        Field::TotalSteps,
        Field::Loss,
        Field::Timestamp,
        Field::ReportedMfu,
        Field::ReportedFlopsPerSecondPerGpu,
        Field::Rank,
    ];

    /// The name users write in configuration and format files.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::TokensPerSecond => "tokens_per_second",
            Field::Tokens => "tokens",
            Field::TokensPerStep => "tokens_per_step",
            Field::SamplesPerStep => "samples_per_step",
            Field::TotalTokens => "total_tokens",
            Field::StepSeconds => "step_seconds",
            Field::ElapsedSeconds => "elapsed_seconds",
            Field::Step => "step",
            Field::TotalSteps => "total_steps",
            Field::Loss => "loss",
            Field::Timestamp => "timestamp",
            Field::ReportedMfu => "reported_mfu",
            Field::ReportedFlopsPerSecondPerGpu => "reported_flops_per_second_per_gpu",
            Field::Rank => "rank",
        }
    }

    /// Every field name, comma-separated, for messages.
    pub fn names() -> String {
        Field::ALL.map(Field::as_str).join(", ")
    }

    /// Position in [`Field::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn kind(self) -> FieldKind {
        match self {
            Field::TokensPerSecond
            | Field::Tokens
            | Field::TokensPerStep
            | Field::SamplesPerStep
            | Field::TotalTokens => FieldKind::Throughput,
            Field::StepSeconds | Field::ElapsedSeconds => FieldKind::Seconds,
            Field::Step | Field::TotalSteps | Field::Rank => FieldKind::Count,
            Field::Loss => FieldKind::Real,
            Field::Timestamp => FieldKind::Timestamp,
            Field::ReportedMfu => FieldKind::Ratio,
            Field::ReportedFlopsPerSecondPerGpu => FieldKind::FlopsPerSecond,
        }
    }

    /// Whether a bad value of this field loses the whole record: the fields tokens are counted
    /// from. A bad descriptive field only loses itself.
    pub fn carries_throughput(self) -> bool {
        matches!(
            self,
            Field::TokensPerSecond
                | Field::Tokens
                | Field::TokensPerStep
                | Field::SamplesPerStep
                | Field::TotalTokens
                | Field::StepSeconds
                | Field::ElapsedSeconds
        )
    }

    /// The largest value the field can plausibly hold: far beyond any cluster, yet small enough
    /// that sums and rates built from it stay finite. Pushes, every format and the state share it.
    pub fn plausible_limit(self) -> f64 {
        match self {
            Field::TokensPerSecond => 1e12,
            // One step of a trillion-token batch ten times over.
            Field::Tokens | Field::TokensPerStep => 1e13,
            Field::SamplesPerStep => 1e10,
            // A hundred times the largest training corpora.
            Field::TotalTokens => 1e17,
            // A week.
            Field::StepSeconds => 604_800.0,
            // Ten years.
            Field::ElapsedSeconds => 315_576_000.0,
            // An exaFLOP/s per device.
            Field::ReportedFlopsPerSecondPerGpu => 1e18,
            Field::Rank => 16_777_216.0,
            Field::Step
            | Field::TotalSteps
            | Field::Loss
            | Field::Timestamp
            | Field::ReportedMfu => f64::MAX,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A field name that is not one of [`Field::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown field {name:?}; expected one of {}", Field::names())]
pub struct UnknownField {
    pub name: String,
}

impl FromStr for Field {
    type Err = UnknownField;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Field::ALL
            .into_iter()
            .find(|field| field.as_str() == name)
            .ok_or_else(|| UnknownField {
                name: crate::ingest::quote::cut(name),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_round_trip() {
        for (index, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field.as_str().parse::<Field>(), Ok(field));
            assert_eq!(field.index(), index);
        }
        let error = "tokens_per_sec".parse::<Field>().unwrap_err().to_string();
        assert!(error.contains("tokens_per_second"), "{error}");
    }

    #[test]
    fn throughput_is_any_token_field() {
        let with = |field: Field| {
            let mut observation = Observation::default();
            observation.set(field, FieldValue::Real(1.0));
            observation.has_throughput()
        };
        let throughput: Vec<Field> = Field::ALL
            .into_iter()
            .filter(|field| field.kind() != FieldKind::Count && with(*field))
            .collect();
        assert_eq!(
            throughput,
            [
                Field::TokensPerSecond,
                Field::Tokens,
                Field::TokensPerStep,
                Field::SamplesPerStep,
                Field::TotalTokens
            ]
        );
        assert!(Observation::default().is_empty());
    }

    #[test]
    fn per_device_marks_only_token_fields() {
        let mut per_device = PerDevice::default();
        for field in Field::ALL {
            per_device.set(field, true);
        }
        let marked: Vec<Field> = Field::ALL
            .into_iter()
            .filter(|f| per_device.get(*f))
            .collect();
        assert_eq!(
            marked,
            [
                Field::TokensPerSecond,
                Field::Tokens,
                Field::TokensPerStep,
                Field::TotalTokens
            ]
        );
    }
}
