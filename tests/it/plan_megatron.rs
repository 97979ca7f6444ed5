//! `plan`'s memory estimate against Megatron-LM's own (`theoretical_memory_usage.py`) on the
//! configurations of Megatron-LM's example scripts
//! (`tests/fixtures/reference/memory/megatron.json`, made by `tools/reference/megatron_memory.py`,
//! which records the Megatron-LM commit it ran).

use mfu_exporter::accounting::flops::Recompute;
use mfu_exporter::accounting::plan::layout::Layout;
use mfu_exporter::accounting::plan::memory::{self, MemoryConfig, Precision};
use mfu_exporter::model_config;
use serde_json::Value;

use crate::support::repo_path;

fn cases() -> Vec<Value> {
    let path = repo_path("tests/fixtures/reference/memory/megatron.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text).unwrap();
    value["cases"].as_array().unwrap().clone()
}

fn u(case: &Value, key: &str) -> u64 {
    case["megatron_args"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key}"))
}

/// (name, ours ÷ Megatron for weights and optimizer, ours ÷ Megatron for activations).
fn ratios() -> Vec<(String, f64, f64)> {
    cases()
        .iter()
        .map(|case| {
            let model = model_config::from_value(&case["config"]).unwrap();
            let layout = Layout {
                tensor: u(case, "tensor_model_parallel_size"),
                pipeline: u(case, "pipeline_model_parallel_size"),
                data: u(case, "data_parallel_size"),
                context: u(case, "context_parallel_size"),
                expert: u(case, "expert_model_parallel_size"),
            };
            let args = &case["megatron_args"];
            let config = MemoryConfig {
                micro_batch_size: u(case, "micro_batch_size"),
                seq_len: u(case, "seq_length"),
                layout,
                zero: if args["use_distributed_optimizer"] == true {
                    1
                } else {
                    0
                },
                recompute: Recompute::None,
                sequence_parallel: args["sequence_parallel"] == true,
                // `--attention-backend auto` picks flash attention; the estimate Megatron
                // reports has no score-matrix term either.
                flash_attention: true,
                precision: Precision::MIXED_BF16,
                optimizer_states: 2,
            };
            let stages = memory::stages(&model, &config);
            // Megatron reports its first stage (the embedding's, the most loaded).
            let first = stages[0];
            let state =
                first.weights + first.gradients + first.optimizer_states + first.master_weights;
            let activations = first.activations + first.temporary;
            (
                case["name"].as_str().unwrap().to_string(),
                state / case["weight_and_optimizer_bytes"].as_f64().unwrap(),
                activations / case["activation_bytes"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn weights_optimizer_and_activations_are_close_to_megatrons_estimate() {
    for (name, state, activations) in ratios() {
        println!(
            "{name}: weights+optimizer ours/megatron {state:.4}, activations {activations:.4}"
        );
        // Weights, gradients, master weights and Adam states: Megatron leaves out the linear
        // biases and GPT-3's learned position embeddings, 0.2 % of the first stage.
        assert!(
            (state - 1.0).abs() < 0.005,
            "{name}: weights and optimizer {state}"
        );
        // Both sides by hand, in units of s·b·h bytes on the first stage.
        let h = 4096.0;
        let expected = match name.as_str() {
            // Megatron's function without sequence parallelism multiplies by 1.05 for
            // "optimizer and miscellaneous temporaries"; the terms are otherwise the same.
            "gpt3-175b" => 1.0 / 1.05,
            // Megatron: 34 per layer (dropout masks Llama does not keep, a SwiGLU counted as a
            // 4h GeLU MLP), token ids 8/h, embedding dropout 1, logits and final norm
            // 2·V/h + 2; times 1.05. Here: 8 outside the tensor-parallel region, attention
            // 2 + 0.5 + 0.5 + 2 (GQA), fused SwiGLU 3 × 2 × 14336/h, log-sum-exp 4·32/h; ids
            // 8/h, final norm and LM head inputs 4, fp32 logits 4·V/h.
            "llama3-8b" => {
                let v = 128_256.0;
                let layer = 8.0 + 5.0 + 6.0 * 14336.0 / h + 128.0 / h;
                let ours = 32.0 * layer + 8.0 / h + 4.0 + 4.0 * v / h;
                let megatron = (32.0 * 34.0 + 8.0 / h + 1.0 + 2.0 * v / h + 2.0) * 1.05;
                ours / megatron
            }
            // Megatron counts an MoE layer as one dense MLP; with top-2 routing each token
            // keeps two experts' intermediates (2 × 21) and two routed copies of itself (2 × 2),
            // plus fp32 router logits 4·8/h. Four stages: 4 micro-batches of 8 layers in flight.
            "mixtral-8x7b" => {
                let layer = 8.0 + 4.0 + 32.0 / h + 5.0 + 2.0 * 6.0 * 14336.0 / h + 128.0 / h;
                let ours = 32.0 * layer + 4.0 * 8.0 / h;
                let megatron = (32.0 * 34.0 + 4.0 * 8.0 / h + 4.0) * 1.05;
                ours / megatron
            }
            other => panic!("no expectation for {other}"),
        };
        assert!(
            (activations / expected - 1.0).abs() < 1e-3,
            "{name}: activations {activations}"
        );
    }
}
