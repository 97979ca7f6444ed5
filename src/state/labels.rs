//! A run's labels as the Prometheus text format spells them, escaped once when the run is made.
//!
//! Every series of a run carries `run="<name>"`, and `training_run_info` carries the model, GPU,
//! precision and attention counting as well. These never change for the life of a run (its name
//! and its `RunSpec` are fixed when it is created), so they are escaped here once and shared with
//! every snapshot by `Arc`, and a scrape copies them into the exposition without looking at a
//! character of them again.

use super::RunSpec;

/// The escaped label pairs of one run, without braces.
#[derive(Debug, PartialEq, Eq)]
pub struct RunLabels {
    /// The run's name as it was given.
    pub name: String,
    /// `run="<name>"`, escaped.
    pub run: String,
    /// `run="..",model="..",gpu="..",dtype="..",attention=".."`, escaped: `training_run_info`.
    pub info: String,
}

impl RunLabels {
    pub fn new(name: &str, spec: &RunSpec) -> RunLabels {
        let mut run = String::with_capacity(name.len() + 8);
        push_pair(&mut run, "run", name);
        let mut info = run.clone();
        for (key, value) in [
            ("model", spec.model_name.as_str()),
            ("gpu", spec.hardware.gpu_label.as_str()),
            ("dtype", spec.hardware.dtype.as_str()),
            ("attention", spec.accounting.options.attention.as_str()),
        ] {
            info.push(',');
            push_pair(&mut info, key, value);
        }
        RunLabels {
            name: name.to_string(),
            run,
            info,
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
    while let Some(at) = rest.find(['\\', '"', '\n']) {
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
        assert_eq!(labels.name, "a\\b\nc");
        assert_eq!(labels.run, r#"run="a\\b\nc""#);
        assert_eq!(
            labels.info,
            r#"run="a\\b\nc",model="my \"gpt2\"",gpu="h100-sxm",dtype="fp8",attention="causal""#
        );
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
