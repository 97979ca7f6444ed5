//! `plan`'s memory estimate against what was measured on real `transformers` models
//! (`tests/fixtures/reference/memory/memory.json`, made by `tools/reference/memory.py`).
//!
//! Parameters, gradients and Adam's moments are exact. Activations are an estimate of fused
//! kernels (Megatron-LM, Transformer Engine, flash attention); `transformers`' eager modules
//! keep more (an fp32 copy in every RMSNorm, fp32 softmax probabilities, rotary copies), so
//! the measured bytes are compared with the estimate within the bounds written below.

use mfu_exporter::accounting::flops::Recompute;
use mfu_exporter::accounting::model::{Attention, FeedForward, Model, QkNorm};
use mfu_exporter::accounting::params;
use mfu_exporter::accounting::plan::activations;
use mfu_exporter::accounting::plan::layout::Layout;
use mfu_exporter::accounting::plan::memory::{self, MemoryConfig, Precision};
use mfu_exporter::model_config;
use serde_json::Value;

use crate::support::repo_path;

fn fixture() -> Value {
    let path = repo_path("tests/fixtures/reference/memory/memory.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn config(bytes: f64, micro_batch_size: u64, seq_len: u64, flash_attention: bool) -> MemoryConfig {
    MemoryConfig {
        micro_batch_size,
        seq_len,
        layout: Layout::SINGLE,
        zero: 0,
        recompute: Recompute::None,
        sequence_parallel: false,
        flash_attention,
        precision: Precision {
            param_bytes: bytes,
            grad_bytes: bytes,
            optimizer_bytes: bytes,
            master_weight_bytes: None,
            activation_bytes: bytes,
        },
        optimizer_states: 2,
    }
}

#[test]
fn parameters_gradients_and_adam_moments_are_the_measured_bytes() {
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let model = model_config::from_value(&case["config"]).unwrap();
        for state in case["state"].as_array().unwrap() {
            let bytes = if state["dtype"] == "float32" {
                4.0
            } else {
                2.0
            };
            let m = memory::estimate(&model, &config(bytes, 1, 32, true));
            let name = format!("{} {}", case["name"], state["dtype"]);
            assert_eq!(
                params::count(&model).total,
                state["parameters"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                m.weights,
                state["params_bytes"].as_f64().unwrap(),
                "{name}: weights"
            );
            assert_eq!(
                m.gradients,
                state["grads_bytes"].as_f64().unwrap(),
                "{name}: gradients"
            );
            assert_eq!(
                m.optimizer_states,
                state["adam_moments_bytes"].as_f64().unwrap(),
                "{name}: Adam moments"
            );
            assert_eq!(m.master_weights, 0.0);
        }
    }
}

/// One row of the measured-vs-estimated table: (case, attention, seq_len, measured per layer,
/// estimated per layer, measured outside the layers, estimated outside the layers).
type Row = (String, String, u64, f64, f64, f64, f64);

fn activation_rows() -> Vec<Row> {
    let fixture = fixture();
    let mut rows = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let model = model_config::from_value(&case["config"]).unwrap();
        for run in case["activations"].as_array().unwrap() {
            let seq_len = run["seq_len"].as_u64().unwrap();
            let batch = run["batch"].as_u64().unwrap();
            let attn = run["attn_implementation"].as_str().unwrap().to_string();
            // sdpa runs PyTorch's flash kernel on CPU, which keeps no score matrix, except with
            // dropout on the probabilities (GPT-2), where it falls back to the math kernel.
            let flash = attn == "sdpa" && !memory::trains_with_dropout(&model);
            let c = config(2.0, batch, seq_len, flash);
            let options = memory::activation_options(&model, &c);
            let per_layer: Vec<f64> = run["per_layer_bytes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let measured_layer = per_layer.iter().sum::<f64>() / per_layer.len() as f64;
            let estimated_layer = activations::layer(&model, &model.layers[0], &options).total();
            let estimated_outside = activations::outside_layers(&model, &options, true, true)
                + activations::logits(&model, &options);
            rows.push((
                case["name"].as_str().unwrap().to_string(),
                attn,
                seq_len,
                measured_layer,
                estimated_layer,
                run["outside_layers_bytes"].as_f64().unwrap(),
                estimated_outside,
            ));
        }
    }
    rows
}

#[test]
fn activation_estimate_is_within_the_stated_bounds_of_the_measured_bytes() {
    println!("| model | attention | seq | measured / layer | estimated / layer | measured ÷ estimated | measured outside layers | estimated | ÷ |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, attn, seq, ml, el, mo, eo) in activation_rows() {
        println!(
            "| {name} | {attn} | {seq} | {ml:.0} | {el:.0} | {:.3} | {mo:.0} | {eo:.0} | {:.3} |",
            ml / el,
            mo / eo
        );
    }
    for (name, attn, seq, ml, el, mo, eo) in activation_rows() {
        let case = format!("{name} {attn} seq {seq}");
        // The estimate counts what fused kernels keep, so it is below what the unfused
        // modules of `transformers` keep, and within 2.6 times of it.
        assert!(
            (1.0..2.6).contains(&(ml / el)),
            "{case}: per layer {ml} measured, {el} estimated"
        );
        // Outside the layers: the LM head's input and the loss's fp32 log-probabilities; the
        // measured extra is the final RMSNorm's fp32 copy of its input.
        assert!(
            (1.0..1.25).contains(&(mo / eo)),
            "{case}: outside {mo} measured, {eo} estimated"
        );
    }
    // With flash attention nothing grows with the square of the context: the measured bytes per
    // layer are the estimate times the same factor at both lengths (within 0.5 %).
    let rows = activation_rows();
    for name in ["tiny-llama", "tiny-qwen3"] {
        let ratios: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == name && r.1 == "sdpa")
            .map(|r| r.3 / r.4)
            .collect();
        assert_eq!(ratios.len(), 2);
        assert!(
            (ratios[0] / ratios[1] - 1.0).abs() < 0.005,
            "{name}: {ratios:?}"
        );
    }
}

/// What `transformers`' unfused Llama-style modules keep beyond the fused-kernel estimate, per
/// layer, in bytes, each term read off `layer_1_by_module` in the fixture and written here as
/// a formula of the shapes (bf16, `sb` tokens):
/// - each RMSNorm upcasts its input: an fp32 copy (4 bytes per element) and its fp32
///   reciprocal RMS (4 bytes per token and normalised row);
/// - SwiGLU as three `Linear`s and a `mul` keeps four intermediates of width f, not three;
/// - Qwen3's per-head query and key norms keep, besides that fp32 copy, their bf16 output
///   before the weight (6 bytes per element, 4 per row);
/// - eager attention keeps the fp32 softmax (4 bytes per score) besides its bf16 copy, and
///   the keys and values repeated to every query head.
fn transformers_extras(model: &Model, tokens: f64, seq_len: f64, eager: bool) -> f64 {
    let Some(Attention::Standard(a)) = model.first_attention().map(|layer| layer.attention) else {
        panic!("a Llama-style model");
    };
    let FeedForward::Dense(mlp) = model.layers[0].ffn else {
        panic!("a dense model");
    };
    let h = model.hidden_size as f64;
    let (heads, kv, dh) = (a.num_heads as f64, a.num_kv_heads as f64, a.head_dim as f64);
    let norms = 2.0 * (4.0 * tokens * h + 4.0 * tokens);
    let swiglu = 2.0 * tokens * mlp.intermediate_size as f64;
    let qk_norms = if a.qk_norm != QkNorm::None {
        6.0 * tokens * (heads + kv) * dh + 4.0 * tokens * (heads + kv)
    } else {
        0.0
    };
    let eager_attention = if eager {
        4.0 * heads * seq_len * tokens + 2.0 * 2.0 * (heads - kv) * dh * tokens
    } else {
        0.0
    };
    norms + swiglu + qk_norms + eager_attention
}

#[test]
fn the_gap_to_transformers_is_exactly_its_unfused_kernels() {
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let model = model_config::from_value(&case["config"]).unwrap();
        if memory::trains_with_dropout(&model) {
            // GPT-2's unfused tanh GeLU and its dropout kernels are not modelled here.
            continue;
        }
        for run in case["activations"].as_array().unwrap() {
            let seq_len = run["seq_len"].as_u64().unwrap();
            let batch = run["batch"].as_u64().unwrap();
            let eager = run["attn_implementation"] == "eager";
            let c = config(2.0, batch, seq_len, !eager);
            let options = memory::activation_options(&model, &c);
            let estimate = activations::layer(&model, &model.layers[0], &options).total();
            let tokens = (batch * seq_len) as f64;
            let expected = estimate + transformers_extras(&model, tokens, seq_len as f64, eager);
            // The second layer (the first also keeps the embedding's output).
            let measured = run["per_layer_bytes"][1].as_f64().unwrap();
            assert_eq!(
                measured, expected,
                "{} {} {seq_len}: measured, fused estimate + transformers' extras",
                case["name"], run["attn_implementation"]
            );
        }
    }
}
