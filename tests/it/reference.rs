//! The accounting core against independent references: parameter counts of the
//! reference implementations (`transformers`, instantiated on the meta device) and the
//! matmul FLOPs `torch.utils.flop_counter.FlopCounterMode` measured on them.
//!
//! The fixtures come from `tools/reference/measure.py`; each holds the exact config
//! the model was built from, so this test parses the same config.

use std::path::PathBuf;

use mfu_exporter::accounting::flops::{AttentionCounting, FlopOptions, Recompute};
use mfu_exporter::accounting::model::{Family, FeedForward};
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
            // transformers_*.json are the whole-type sweeps (defaults, aliases, flags).
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with("transformers_"))
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let value = model_config::parse_json(&text).unwrap();
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

/// A config that names only its `model_type` is the model `transformers` builds from that
/// type's defaults: the same parameters, for every supported type whose defaults
/// `transformers` can build (`tests/fixtures/reference/transformers_default_params.json`).
/// Two types' defaults are refused instead, naming the field: DeepSeek-V2's
/// `num_experts_per_tok` defaults to None (its router cannot run, and FLOPs need a top-k), and
/// GLM-4.5's 96 heads do not divide its 4096 width (`transformers` floors the head width to 42,
/// a model no checkpoint has).
#[test]
fn each_types_defaults_give_the_model_transformers_builds() {
    let path = repo_path("tests/fixtures/reference/transformers_default_params.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let types = fixture["params"].as_object().expect("params");
    let refused = [
        ("deepseek_v2", "num_experts_per_tok"),
        ("glm4_moe", "num_attention_heads"),
    ];
    let mut compared = 0;
    for (model_type, reference) in types {
        let config = serde_json::json!({ "model_type": model_type });
        if let Some((_, field)) = refused.iter().find(|(t, _)| t == model_type) {
            let error = model_config::from_value(&config)
                .err()
                .unwrap_or_else(|| panic!("{model_type}: its defaults are accepted"));
            assert!(
                error.to_string().contains(field),
                "{model_type}: refused for another reason: {error}"
            );
            continue;
        }
        let Some(total) = reference["total"].as_u64() else {
            // transformers cannot build these defaults itself (recorded with its error).
            assert!(reference["error"].is_string(), "{model_type}: {reference}");
            continue;
        };
        let model = model_config::from_value(&config)
            .unwrap_or_else(|e| panic!("{model_type}: defaults refused: {e}"));
        let params = Accounting::new(
            &model,
            FlopOptions {
                seq_len: 1,
                attention: AttentionCounting::Full,
                include_mtp: false,
                recompute: Recompute::None,
            },
        )
        .params;
        assert_eq!(params.total, total, "{model_type}: total parameters");
        // Where both build a vision tower from the defaults, it is the same one.
        if let (Some(ours), Some(theirs)) = (params.vision, reference["vision"].as_u64()) {
            assert_eq!(ours, theirs, "{model_type}: vision parameters");
        }
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} types compared");
    // Every type the tool accepts is in the fixture (`measure.py`'s MODEL_TYPES and
    // HYBRID_MODEL_TYPES), but those transformers does not know: nanoGPT's, and Kimi K2's
    // `kimi_k2` (its checkpoint ships DeepSeek-V3's remote code).
    for family in Family::ALL {
        let model_type = family.model_type();
        if matches!(family, Family::NanoGpt | Family::KimiK2) {
            continue;
        }
        assert!(
            types.contains_key(model_type),
            "{model_type}: not measured in {}",
            path.display()
        );
    }
}

/// A field given both under its name and under its `attribute_map` alias, with different
/// values, is read as `transformers` resolves it (the alias wins for most classes, the field
/// for Qwen3-MoE's and Qwen3-VL-MoE's `num_local_experts`):
/// `tests/fixtures/reference/transformers_alias_params.json`.
#[test]
fn aliased_fields_resolve_as_transformers_resolves_them() {
    let path = repo_path("tests/fixtures/reference/transformers_alias_params.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut compared = 0;
    for case in fixture["cases"].as_array().expect("cases") {
        let what = format!(
            "{} ({} and {})",
            case["config"], case["alias"], case["field"]
        );
        let Some(total) = case["total"].as_u64() else {
            assert!(case["error"].is_string(), "{what}");
            continue;
        };
        let model = model_config::from_value(&case["config"])
            .unwrap_or_else(|e| panic!("{what}: refused: {e}"));
        let params = mfu_exporter::accounting::params::count(&model);
        assert_eq!(params.total, total, "{what}: total parameters");
        let field = case["field"].as_str().unwrap_or_default();
        if ["num_experts_per_tok", "moe_k", "moe_topk"].contains(&field) {
            let resolved = case["resolved"].as_u64().expect("resolved");
            for layer in &model.layers {
                if let FeedForward::MixtureOfExperts(moe) = &layer.ffn {
                    assert_eq!(moe.top_k, resolved, "{what}: top-k");
                }
            }
        }
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} aliased fields compared");
}

/// Every real config in `tools/reference/configs/` has its measurement, made from that very
/// file, so the parameter test above covers each of them.
#[test]
fn every_real_config_is_measured_from_its_file() {
    let dir = repo_path("tools/reference/configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let config = model_config::parse_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let fixture = repo_path(&format!("tests/fixtures/reference/real-{stem}.json"));
        let text = std::fs::read_to_string(&fixture)
            .unwrap_or_else(|e| panic!("{}: no measurement ({e})", fixture.display()));
        let measured = model_config::parse_json(&text).unwrap();
        assert_eq!(
            measured["config"], config,
            "{stem}: measured from another config"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} real configs");
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
        // Past a sliding window the fixture also gives what the model needs: the measurement
        // less what eager attention multiplies under the window's mask (MiMo-V2-Flash at 48
        // tokens with a 32-token window).
        let (forward, training) = match flops.get("window_reconciliation") {
            Some(reconciled) => (
                reconciled["model_forward"].as_f64().unwrap(),
                reconciled["model_forward_backward"].as_f64().unwrap(),
            ),
            None => (
                flops["forward"].as_f64().unwrap(),
                flops["forward_backward"].as_f64().unwrap(),
            ),
        };
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
            // Only the correction biases: Gemma 4's `layer_scalar` is a buffer of another kind.
            let expected: u64 = buffers
                .iter()
                .filter(|(name, _)| name.contains("e_score_correction_bias"))
                .filter_map(|(_, count)| count.as_u64())
                .sum();
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

/// The hybrid and sparse layer kinds (`tests/fixtures/reference/hybrid/`, made by
/// `tools/reference/measure_hybrid.py`): Gated DeltaNet, Mamba-2, DSA, Llama 4, DeepSeek-V4.
fn hybrid_fixtures() -> Vec<(PathBuf, Value)> {
    let dir = repo_path("tests/fixtures/reference/hybrid");
    let mut cases: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, serde_json::from_str(&text).unwrap())
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(cases.len() >= 15, "found {} hybrid fixtures", cases.len());
    cases
}

fn component(accounting: &Accounting, name: &str) -> f64 {
    accounting
        .detailed
        .components
        .iter()
        .find(|c| c.name == name)
        .map_or(0.0, |c| c.forward)
}

fn assert_close(ours: f64, theirs: f64, what: &str) {
    let relative = if theirs == 0.0 {
        ours.abs()
    } else {
        (ours / theirs - 1.0).abs()
    };
    assert!(relative < 1e-9, "{what}: ours {ours}, reference {theirs}");
}

#[test]
fn hybrid_parameter_counts_equal_the_reference_implementation() {
    for (path, case) in hybrid_fixtures() {
        let params = accounting(&case, 1).params;
        assert_eq!(
            params.total,
            case["params"]["total"].as_u64().unwrap(),
            "{}: total parameters (the language model of a multimodal config)",
            path.display()
        );
        // The vision tower and projector (Llama 4, Qwen3.5), counted apart, exactly.
        assert_eq!(
            params.vision,
            case["params"]["vision"].as_u64(),
            "{}: vision parameters",
            path.display()
        );
        if let Some(buffers) = case["params"]["buffers_not_counted"].as_object() {
            // The score-correction biases only (DeepSeek's `e_score_correction_bias`, LFM2-MoE's
            // `expert_bias`): DeepSeek-V4's hash routers' `tid2eid` tables are buffers of
            // another kind.
            let expected: u64 = buffers
                .iter()
                .filter(|(name, _)| {
                    name.contains("e_score_correction_bias") || name.ends_with(".expert_bias")
                })
                .filter_map(|(_, count)| count.as_u64())
                .sum();
            assert_eq!(
                params.router_correction_biases,
                expected,
                "{}",
                path.display()
            );
        }
    }
}

/// The detailed count equals the measured FLOPs once the fixture's explained
/// adjustments are made (the reference's dense Llama 4 experts, its over-counted
/// depthwise-convolution backward, the Gated DeltaNet solves' backward, eager attention
/// past a chunk or past the DSA top-k); every other FLOP is `FlopCounterMode`'s own.
#[test]
fn hybrid_detailed_flops_equal_the_reconciled_measurement() {
    let mut measured = 0;
    for (path, case) in hybrid_fixtures() {
        for flops in case["flops"].as_array().unwrap() {
            let seq_len = flops["seq_len"].as_u64().unwrap();
            let tokens = (seq_len * flops["batch"].as_u64().unwrap()) as f64;
            let what = format!("{} at seq_len {seq_len}", path.display());
            let ours = accounting(&case, seq_len);
            let reconciled = &flops["reconciliation"];
            assert_close(
                ours.detailed.totals.forward * tokens,
                reconciled["model_forward"].as_f64().unwrap(),
                &format!("{what}: forward"),
            );
            assert_close(
                ours.detailed.totals.training * tokens,
                reconciled["model_training"].as_f64().unwrap(),
                &format!("{what}: training"),
            );
            let parts = &flops["parts"];
            if let Some(core) = parts["gdn_core"].as_f64() {
                assert_close(
                    component(&ours, "linear_attention_core") * tokens,
                    core,
                    &format!("{what}: Gated DeltaNet chunked delta rule"),
                );
            }
            if let Some(indexer) = parts["self_attn_compressor_indexer"].as_f64() {
                assert_close(
                    component(&ours, "csa_indexer") * tokens,
                    indexer,
                    &format!("{what}: DeepSeek-V4 indexer"),
                );
            }
            if let Some(indexer) = parts["self_attn_indexer"].as_f64() {
                assert_close(
                    component(&ours, "dsa_indexer") * tokens,
                    indexer,
                    &format!("{what}: DSA indexer"),
                );
            }
            if let Some(routed) = flops["experts"]["routed_top_k_forward"].as_f64() {
                assert_close(
                    component(&ours, "moe_experts") * tokens,
                    routed,
                    &format!("{what}: Llama 4 routed experts"),
                );
            }
            measured += 1;
        }
    }
    assert!(measured >= 20, "only {measured} measured hybrid cases");
}

/// Published sizes of the real configs, rounded as their authors round them: the measured
/// counts must round to the same figures.
///
/// - Qwen3-Next-80B-A3B: "80B in total and 3B activated", "Non-Embedding: 79B" (model
///   card, https://hf-p-cfw.fyan.top/Qwen/Qwen3-Next-80B-A3B-Instruct/resolve/main/README.md).
/// - Llama 4 Scout / Maverick: "17B activated" for both (model cards,
///   https://huggingface.co/meta-llama/Llama-4-Scout-17B-16E); their 109B and 400B
///   totals include the vision tower, which `params.total` leaves out.
/// - DeepSeek-V3.2-Exp: 671B total, 37B activated, DeepSeek's convention without the input
///   embedding (as DeepSeek-V3, https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp).
/// - GLM-5: 744B total, 40B active (https://huggingface.co/zai-org/GLM-5).
/// - Nemotron-H-8B: 8B (https://huggingface.co/nvidia/Nemotron-H-8B-Base-8K).
/// - Qwen3.5-9B (the defaults of `Qwen3_5TextConfig`): "Number of Parameters: 9B"
///   (Qwen's model card, as summarised at https://2048ai.net/69aa85b754b52172bc5f69c3.html);
///   the language model alone.
/// - MiMo-V2-Flash: "309B total parameters and 15B active parameters" (Xiaomi's README,
///   https://github.com/XiaomiMiMo/MiMo-V2-Flash, also the model card at
///   https://huggingface.co/XiaomiMiMo/MiMo-V2-Flash), with or without the input embedding
///   in the active count.
/// - DeepSeek-V4: Flash "284B total parameters (13B activated)", Pro "1.6T total / 49B
///   active" (the model cards' figures, as repeated at
///   https://featherless.ai/models/deepseek-ai/DeepSeek-V4-Flash and
///   https://deepseekfr.org/en/deepseek-v4-flash), DeepSeek's convention without the input
///   embedding; the MTP layer is in neither count.
/// - Granite-3.1-1B-A400M: "# Parameters 1.3B", "# Active parameters 400M" (the model
///   card's architecture table, https://huggingface.co/ibm-granite/granite-3.1-1b-a400m-instruct),
///   its tied embedding in both.
/// - Granite-4.0-H-350M: 350M, as its name and IBM's Nano collection give it
///   (https://huggingface.co/ibm-granite/granite-4.0-h-350m); tied embeddings, counted once.
/// - LFM2-350M: "Parameters 354,483,968" (Liquid AI's model card, as stored at
///   https://hf-p-cfw.fyan.top/LiquidAI/LFM2-350M): exactly.
/// - EXAONE 4.0 1.2B: "Number of Parameters (without embeddings): 1.07B" (LG's model card,
///   https://huggingface.co/LGAI-EXAONE/EXAONE-4.0-1.2B, as its GGUF card repeats it).
/// - InternLM3-8B-Instruct: "an 8-billion parameter instruction model" (InternLM's README,
///   https://github.com/InternLM/InternLM); without its untied input and output embeddings
///   (2 × 128,512 × 4,096) the count is 7.75B, with them 8.80B.
#[test]
fn real_configs_round_to_their_published_sizes() {
    // (fixture under hybrid/, which count, published billions, how far rounding may take it)
    let cases: &[(&str, &str, f64, f64)] = &[
        ("qwen3-next-80b-a3b", "total", 80.0, 0.5),
        ("qwen3-next-80b-a3b", "non_embedding", 79.0, 0.5),
        (
            "qwen3-next-80b-a3b",
            "active_without_input_embedding",
            3.0,
            0.6,
        ),
        ("llama-4-scout-17b-16e", "active", 17.0, 0.5),
        ("llama-4-maverick-17b-128e", "active", 17.0, 0.5),
        ("deepseek-v3.2-exp", "total", 671.0, 1.0),
        (
            "deepseek-v3.2-exp",
            "active_without_input_embedding",
            37.0,
            0.5,
        ),
        ("glm-5", "total", 744.0, 0.5),
        ("glm-5", "active_without_input_embedding", 40.0, 1.0),
        ("nemotron-h-8b", "total", 8.0, 0.5),
        ("qwen3.5-9b", "total", 9.0, 0.5),
        ("../real-mimo-v2-flash", "total", 309.0, 0.5),
        ("../real-mimo-v2-flash", "active", 15.0, 0.5),
        (
            "../real-mimo-v2-flash",
            "active_without_input_embedding",
            15.0,
            0.5,
        ),
        ("../real-deepseek-v4-flash", "total", 284.0, 0.5),
        (
            "../real-deepseek-v4-flash",
            "active_without_input_embedding",
            13.0,
            0.5,
        ),
        ("../real-deepseek-v4-pro", "total", 1600.0, 50.0),
        ("../real-granite-4.0-h-350m", "total", 0.35, 0.015),
        ("../real-lfm2-350m", "total", 0.354_483_968, 1e-12),
        ("../real-exaone-4.0-1.2b", "non_embedding", 1.07, 0.005),
        (
            "../real-deepseek-v4-pro",
            "active_without_input_embedding",
            49.0,
            0.5,
        ),
        ("../real-granite-3.1-1b-a400m-instruct", "total", 1.3, 0.05),
        ("../real-granite-3.1-1b-a400m-instruct", "active", 0.4, 0.05),
        ("../real-ernie-4.5-0.3b-base-pt", "total", 0.36, 0.005),
        // Qwen2.5-VL-3B: "3B"; the language model is 3.09 B, 3.75 B with the vision tower
        // (the checkpoint's 7,509,245,952 bf16 bytes).
        ("../real-qwen2.5-vl-3b-instruct", "total", 3.0, 0.1),
        // LLaVA-1.5-7B: "7B"; 6.74 B for Vicuna, 7.06 B with the CLIP tower.
        ("../real-llava-1.5-7b-hf", "total", 7.0, 0.3),
        ("../real-internlm3-8b-instruct", "non_embedding", 8.0, 0.5),
        // Phi-2's model card: 2.7 billion parameters.
        ("../real-phi-2", "total", 2.7, 0.1),
    ];
    for (name, count, published, slack) in cases {
        let path = repo_path(&format!("tests/fixtures/reference/hybrid/{name}.json"));
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let params = accounting(&case, 1).params;
        let ours = match *count {
            "total" => params.total,
            "non_embedding" => params.non_embedding,
            "active" => params.active,
            _ => params.active_without_input_embedding,
        } as f64
            / 1e9;
        assert!(
            (ours - published).abs() <= *slack,
            "{name}: {count} {ours:.2} B, published {published} B"
        );
    }
}

/// Each boolean field of each type's configuration class flipped, and each positive integer
/// field doubled, alone, on that type's first tiny case, counts as `transformers` builds it,
/// or is refused naming the field changed or one derived from it; where the fixture has
/// FlopCounterMode's FLOPs (the types `measure.py` measures), the detailed count equals them:
/// `tests/fixtures/reference/transformers_field_params.json` (`tools/reference/field_sweep.py`).
#[test]
fn each_field_changed_alone_gives_the_model_transformers_builds() {
    let path = repo_path("tests/fixtures/reference/transformers_field_params.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let bases = fixture["bases"].as_object().expect("bases");
    let cases = fixture["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    let (mut compared, mut booleans, mut refused, mut measured) = (0, 0, 0, 0);
    for case in cases {
        let base = case["base"].as_str().expect("base");
        let field = case["field"].as_str().expect("field");
        let what = format!("{base} {field}={}", case["value"]);
        let Some(total) = case["total"].as_u64() else {
            // transformers cannot build it (recorded with its error).
            assert!(case["error"].is_string(), "{what}: {case}");
            continue;
        };
        let mut config = bases[base].clone();
        let target = match (case["where"].as_str(), config.get_mut("text_config")) {
            (Some("text"), Some(text)) => text,
            _ => &mut config,
        };
        target[field] = case["value"].clone();
        match model_config::from_value(&config) {
            Ok(model) => {
                let counted = Accounting::new(
                    &model,
                    FlopOptions {
                        seq_len: 1,
                        attention: AttentionCounting::Full,
                        include_mtp: false,
                        recompute: Recompute::None,
                    },
                );
                if let Some(flops) = case["flops"].as_object() {
                    let seq_len = flops["seq_len"].as_u64().expect("seq_len");
                    let tokens = seq_len as f64;
                    let options = FlopOptions {
                        seq_len,
                        attention: AttentionCounting::Full,
                        include_mtp: false,
                        recompute: Recompute::None,
                    };
                    let detailed = Accounting::new(&model, options).detailed.totals;
                    for (ours, key) in [
                        (detailed.forward, "forward"),
                        (detailed.training, "forward_backward"),
                    ] {
                        let theirs = flops[key].as_f64().unwrap_or(f64::NAN);
                        if ((ours * tokens) / theirs - 1.0).abs() >= 0.005 {
                            failures.push(format!(
                                "{what}: {key} {} per token counted, {} measured",
                                ours,
                                theirs / tokens
                            ));
                        }
                    }
                    measured += 1;
                }
                let params = counted.params;
                if params.total != total {
                    failures.push(format!("{what}: {} counted, {total} built", params.total));
                }
                if let (Some(ours), Some(theirs)) = (params.vision, case["vision"].as_u64()) {
                    if ours != theirs {
                        failures.push(format!("{what}: vision {ours} counted, {theirs} built"));
                    }
                }
                compared += 1;
                booleans += usize::from(case["value"].is_boolean());
            }
            Err(e) if e.to_string().contains(field) => refused += 1,
            Err(e) => failures.push(format!("{what}: refused for another reason: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 800 && booleans >= 150 && refused <= 20 && measured >= 500,
        "{compared} compared ({booleans} booleans, {measured} FLOPs measured), {refused} refused"
    );
}
