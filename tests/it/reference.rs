//! The accounting core against independent references: parameter counts of the
//! reference implementations (`transformers`, instantiated on the meta device) and the
//! matmul FLOPs `torch.utils.flop_counter.FlopCounterMode` measured on them.
//!
//! The fixtures come from `tools/reference/measure.py`; each holds the exact config
//! the model was built from, so this test parses the same config.

use std::path::PathBuf;

use mfu_exporter::accounting::flops::{AttentionCounting, FlopOptions, Recompute};
use mfu_exporter::accounting::Accounting;
use mfu_exporter::model_config;
use serde_json::Value;

use crate::support::repo_path;

fn fixtures() -> Vec<(PathBuf, Value)> {
    let dir = repo_path("tests/fixtures/reference");
    let mut cases: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n != "transformers_defaults.json")
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            (path, value)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        cases.len() >= 25,
        "expected the reference fixtures, found {}",
        cases.len()
    );
    cases
}

fn accounting(case: &Value, seq_len: u64) -> Accounting {
    let model = model_config::from_value(&case["config"])
        .unwrap_or_else(|e| panic!("{}: {e}", case["case"]));
    let options = FlopOptions {
        seq_len,
        attention: AttentionCounting::Full,
        include_mtp: false,
        recompute: Recompute::None,
    };
    Accounting::new(&model, options)
}

#[test]
fn parameter_counts_equal_the_reference_implementation() {
    for (path, case) in fixtures() {
        let expected = case["params"]["total"].as_u64().unwrap();
        let counted = accounting(&case, 1).params.total;
        assert_eq!(counted, expected, "{}: total parameters", path.display());
    }
}

/// A multimodal model's vision tower and projector are counted apart, exactly.
#[test]
fn vision_towers_are_counted_apart_exactly() {
    let mut composites = 0;
    for (path, case) in fixtures() {
        let counted = accounting(&case, 1).params.vision;
        let expected = case["params"]["vision"].as_u64();
        assert_eq!(counted, expected, "{}: vision parameters", path.display());
        composites += usize::from(expected.is_some());
    }
    assert!(composites >= 4, "only {composites} multimodal fixtures");
}

#[test]
fn detailed_flops_equal_the_measured_matmul_flops() {
    let mut measured_cases = 0;
    for (path, case) in fixtures() {
        let Some(flops) = case["flops"].as_object() else {
            continue;
        };
        let seq_len = case["seq_len"].as_u64().unwrap();
        let tokens = (seq_len * case["batch"].as_u64().unwrap()) as f64;
        let detailed = accounting(&case, seq_len).detailed.totals;
        let forward = flops["forward"].as_f64().unwrap();
        let training = flops["forward_backward"].as_f64().unwrap();
        let relative = |ours: f64, theirs: f64| (ours / theirs - 1.0).abs();
        assert!(
            relative(detailed.forward * tokens, forward) < 0.005,
            "{}: forward {} per token vs measured {}",
            path.display(),
            detailed.forward,
            forward / tokens
        );
        assert!(
            relative(detailed.training * tokens, training) < 0.005,
            "{}: training {} per token vs measured {}",
            path.display(),
            detailed.training,
            training / tokens
        );
        measured_cases += 1;
    }
    assert!(measured_cases >= 20, "only {measured_cases} measured cases");
}

/// DeepSeek-V3's router score-correction biases are a buffer in `transformers`: not in
/// the total, reported on their own with the count the reference gives.
#[test]
fn deepseek_correction_biases_and_mtp_are_reported_apart() {
    for (path, case) in fixtures() {
        let params = &case["params"];
        let counts = accounting(&case, 1).params;
        if let Some(buffers) = params["buffers_not_counted"].as_object() {
            let expected: u64 = buffers.values().filter_map(Value::as_u64).sum();
            assert_eq!(
                counts.router_correction_biases,
                expected,
                "{}",
                path.display()
            );
        }
        if let Some(mtp) = params.get("mtp_module_not_counted") {
            let per_layer = mtp
                .get("per_layer")
                .or_else(|| mtp.get("total"))
                .and_then(Value::as_u64)
                .unwrap_or_else(|| panic!("{}: mtp fixture {mtp}", path.display()));
            assert_eq!(
                counts.mtp,
                per_layer,
                "{}: MTP module parameters",
                path.display()
            );
        }
    }
}
