//! Every label set a run's series carry, as the Prometheus text format spells them, built once
//! when the run is made.
//!
//! Every series of a run carries `run="<name>"`, and most add one or two labels whose values are
//! fixed for the life of the run: its formulas, the precisions of its peaks, the badput sources,
//! the histogram's bounds, the parameter kinds, the states of its log files; `training_run_info`
//! carries the model, GPU, precision and attention counting. A run's name and its `RunSpec` are
//! fixed when it is created, so each of these sets is escaped and written here once, braces
//! included, and shared with every snapshot by `Arc`: a scrape copies a set into the exposition
//! without looking at a character of it again.

use super::goodput::BadputSource;
use super::{RunSpec, STEP_SECONDS_BUCKETS};
use crate::ingest::tail::SourceFiles;

/// The `le` label of each bucket of [`STEP_SECONDS_BUCKETS`], as `Display` writes the bound
/// (checked by a test), then `+Inf`.
pub const STEP_SECONDS_BUCKET_LABELS: [&str; STEP_SECONDS_BUCKETS.len() + 1] = [
    "0.05", "0.1", "0.25", "0.5", "1", "2", "5", "10", "20", "30", "60", "120", "300", "600",
    "+Inf",
];

/// A run's label sets, each written `{...}` with its values escaped.
#[derive(Debug, PartialEq, Eq)]
pub struct RunLabels {
    /// The run's name as it was given.
    pub name: String,
    /// `{run="<name>"}`.
    pub run: String,
    /// `{run="..",model="..",gpu="..",dtype="..",attention=".."}`: `training_run_info`.
    pub info: String,
    /// `{run="..",formula=".."}`, in the order of `Accounting::formulas`.
    pub formula: Vec<String>,
    /// `{run="..",formula="..",peak_dtype=".."}`: formula by formula, each with the precisions of
    /// `Hardware::peaks` in order.
    pub formula_peak: Vec<String>,
    /// `{run="..",peak_dtype=".."}`, in the order of `Hardware::peaks`.
    pub peak: Vec<String>,
    /// `{run="..",source=".."}`, in the order of [`BadputSource::ALL`].
    pub badput_source: [String; BadputSource::ALL.len()],
    /// `{run="..",le=".."}`, in the order of [`STEP_SECONDS_BUCKET_LABELS`].
    pub bucket: [String; STEP_SECONDS_BUCKET_LABELS.len()],
    /// `{run="..",kind="total"}` and `{run="..",kind="active"}`.
    pub parameter_kind: [String; 2],
    /// `{run="..",state=".."}`, in the order of `SourceFiles::by_state`.
    pub file_state: [String; 4],
}

impl RunLabels {
    pub fn new(name: &str, spec: &RunSpec) -> RunLabels {
        let mut run_pair = String::with_capacity(name.len() + 8);
        push_pair(&mut run_pair, "run", name);
        let set = |pairs: &[(&str, &str)]| {
            let mut set = String::with_capacity(run_pair.len() + 32);
            set.push('{');
            set.push_str(&run_pair);
            for (key, value) in pairs {
                set.push(',');
                push_pair(&mut set, key, value);
            }
            set.push('}');
            set
        };
        let formulas: Vec<&str> = spec
            .accounting
            .formulas_iter()
            .map(|(formula, _)| formula)
            .collect();
        let dtypes: Vec<&str> = spec
            .hardware
            .peaks_iter()
            .map(|(dtype, _)| dtype.as_str())
            .collect();
        RunLabels {
            name: name.to_string(),
            run: set(&[]),
            info: set(&[
                ("model", spec.model_name.as_str()),
                ("gpu", spec.hardware.gpu_label.as_str()),
                ("dtype", spec.hardware.dtype.as_str()),
                ("attention", spec.accounting.options.attention.as_str()),
            ]),
            formula: formulas.iter().map(|f| set(&[("formula", f)])).collect(),
            formula_peak: formulas
                .iter()
                .flat_map(|f| dtypes.iter().map(move |d| (*f, *d)))
                .map(|(f, d)| set(&[("formula", f), ("peak_dtype", d)]))
                .collect(),
            peak: dtypes.iter().map(|d| set(&[("peak_dtype", d)])).collect(),
            badput_source: BadputSource::ALL.map(|source| set(&[("source", source.as_str())])),
            bucket: STEP_SECONDS_BUCKET_LABELS.map(|le| set(&[("le", le)])),
            parameter_kind: ["total", "active"].map(|kind| set(&[("kind", kind)])),
            file_state: SourceFiles::default()
                .by_state()
                .map(|(state, _)| set(&[("state", state)])),
        }
    }
}

/// Appends `key="value"` with the value escaped.
pub fn push_pair(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str("=\"");
    escape_label_value(value, out);
    out.push('"');
}

/// Appends a label value escaped as the text format asks: backslash, double quote and line feed.
/// A value with none of them (nearly every one) is copied whole.
pub fn escape_label_value(value: &str, out: &mut String) {
    let mut rest = value;
    while let Some(at) = memchr::memchr3(b'\\', b'"', b'\n', rest.as_bytes()) {
        let (plain, tail) = rest.split_at(at);
        out.push_str(plain);
        let mut chars = tail.chars();
        match chars.next() {
            Some('\\') => out.push_str("\\\\"),
            Some('"') => out.push_str("\\\""),
            Some('\n') => out.push_str("\\n"),
            Some(other) => out.push(other),
            None => {}
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::flops::{AttentionCounting, FlopOptions, Recompute};
    use crate::accounting::gpus::Dtype;
    use crate::accounting::mfu::resolve_hardware;
    use crate::accounting::Accounting;

    #[test]
    fn a_runs_labels_are_escaped_once() {
        let model = crate::model_config::load("gpt2").unwrap().model;
        let options = FlopOptions {
            seq_len: 1024,
            attention: AttentionCounting::Causal,
            include_mtp: false,
            recompute: Recompute::None,
        };
        let spec = RunSpec {
            model_name: "my \"gpt2\"".into(),
            accounting: Accounting::new(&model, options),
            hardware: resolve_hardware(Some("h100-sxm"), Dtype::Fp8, 8, None).unwrap(),
        };
        let labels = RunLabels::new("a\\b\nc", &spec);
        let run = r#"run="a\\b\nc""#;
        assert_eq!(labels.name, "a\\b\nc");
        assert_eq!(labels.run, format!("{{{run}}}"));
        assert_eq!(
            labels.info,
            format!(
                r#"{{{run},model="my \"gpt2\"",gpu="h100-sxm",dtype="fp8",attention="causal"}}"#
            )
        );
        // fp8 is measured against its own peak and against BF16's.
        let formulas = ["palm", "detailed"];
        assert_eq!(
            labels.formula,
            formulas.map(|f| format!(r#"{{{run},formula="{f}"}}"#))
        );
        assert_eq!(
            labels.peak,
            ["fp8", "bf16"].map(|d| format!(r#"{{{run},peak_dtype="{d}"}}"#))
        );
        assert_eq!(
            labels.formula_peak,
            [
                ("palm", "fp8"),
                ("palm", "bf16"),
                ("detailed", "fp8"),
                ("detailed", "bf16")
            ]
            .map(|(f, d)| format!(r#"{{{run},formula="{f}",peak_dtype="{d}"}}"#))
        );
        assert_eq!(
            labels.badput_source[1],
            format!(r#"{{{run},source="wasted_progress"}}"#)
        );
        assert_eq!(labels.bucket[0], format!(r#"{{{run},le="0.05"}}"#));
        assert_eq!(labels.bucket[14], format!(r#"{{{run},le="+Inf"}}"#));
        assert_eq!(
            labels.parameter_kind[1],
            format!(r#"{{{run},kind="active"}}"#)
        );
        assert_eq!(
            labels.file_state[3],
            format!(r#"{{{run},state="not_a_regular_file"}}"#)
        );
    }

    #[test]
    fn bucket_labels_are_the_bounds_as_displayed() {
        for (bound, label) in STEP_SECONDS_BUCKETS.iter().zip(STEP_SECONDS_BUCKET_LABELS) {
            assert_eq!(bound.to_string(), label);
        }
        assert_eq!(STEP_SECONDS_BUCKET_LABELS.last(), Some(&"+Inf"));
    }

    #[test]
    fn label_values_are_escaped() {
        let check = |value: &str, expected: &str| {
            let mut out = String::new();
            escape_label_value(value, &mut out);
            assert_eq!(out, expected, "{value:?}");
        };
        check("a\"b\\c\nd", "a\\\"b\\\\c\\nd");
        check("plain", "plain");
        check("", "");
        check("\\", "\\\\");
        check("\"\"", "\\\"\\\"");
        check("ends with a line feed\n", "ends with a line feed\\n");
        check("é\"ü", "é\\\"ü");
        check("tab\tstays", "tab\tstays");
    }
}
