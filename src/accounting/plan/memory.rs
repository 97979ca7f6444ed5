//! Memory per GPU of a training configuration, by component, in bytes.
//!
//! Weights, gradients, optimizer states and fp32 master weights follow ZeRO (Rajbhandari et al.
//! 2020, arXiv:1910.02054): stage 1 shards the optimizer states and master weights over the
//! data-parallel ranks, stage 2 the gradients too, stage 3 (FSDP's full sharding) the weights
//! too. With bf16 weights, fp32 gradients, fp32 master weights and Adam's two fp32 moments,
//! that is Megatron-LM's 18 bytes per parameter, and `6 + 12/d` with its distributed optimizer
//! (ZeRO-1). Routed experts shard over their own data-parallel group (data × context over
//! expert parallelism). Activations are [`super::activations`]; the pipeline's first stage
//! keeps as many micro-batches in flight as there are stages (1F1B). The figure reported is
//! the most loaded stage's.

use super::activations::{self, ActivationOptions};
use super::layout::Layout;
use super::shards;
use crate::accounting::flops::Recompute;
use crate::accounting::model::{Family, Model};

/// Bytes per element of each kind of training state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Precision {
    pub param_bytes: f64,
    pub grad_bytes: f64,
    /// Bytes of each optimizer state element (Adam's two moments).
    pub optimizer_bytes: f64,
    /// An fp32 copy of the weights the optimizer updates, kept when the weights are narrower.
    pub master_weight_bytes: Option<f64>,
    pub activation_bytes: f64,
}

impl Precision {
    /// Mixed precision as Megatron-LM trains: bf16 weights and activations, fp32 gradients,
    /// master weights and Adam states.
    pub const MIXED_BF16: Precision = Precision {
        param_bytes: 2.0,
        grad_bytes: 4.0,
        optimizer_bytes: 4.0,
        master_weight_bytes: Some(4.0),
        activation_bytes: 2.0,
    };
}

/// A training configuration of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryConfig {
    pub micro_batch_size: u64,
    pub seq_len: u64,
    pub layout: Layout,
    /// ZeRO stage, 0 to 3 (3 is FSDP's full sharding).
    pub zero: u8,
    pub recompute: Recompute,
    pub sequence_parallel: bool,
    pub flash_attention: bool,
    pub precision: Precision,
    /// Optimizer states per parameter: 2 for Adam, 1 for SGD with momentum, 0 for plain SGD.
    pub optimizer_states: u64,
}

/// Bytes on one GPU of one pipeline stage, by component.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemoryEstimate {
    pub stage: u64,
    pub parameters: f64,
    pub weights: f64,
    pub gradients: f64,
    pub optimizer_states: f64,
    pub master_weights: f64,
    pub activations: f64,
    /// The largest temporary: the LM head's logits for the loss (last stage only).
    pub temporary: f64,
}

impl MemoryEstimate {
    pub fn total(&self) -> f64 {
        self.weights
            + self.gradients
            + self.optimizer_states
            + self.master_weights
            + self.activations
            + self.temporary
    }
}

/// Whether a model's reference implementation trains with dropout (GPT-2's defaults: 0.1 on
/// embeddings, attention probabilities and residuals; the others' defaults are 0).
pub fn trains_with_dropout(model: &Model) -> bool {
    matches!(model.family, Family::Gpt2)
}

/// The activation options of a configuration.
pub fn activation_options(model: &Model, config: &MemoryConfig) -> ActivationOptions {
    ActivationOptions {
        micro_batch_size: config.micro_batch_size,
        seq_len: config.seq_len,
        tensor_parallel: config.layout.tensor,
        context_parallel: config.layout.context,
        sequence_parallel: config.sequence_parallel && config.layout.tensor > 1,
        recompute: config.recompute,
        flash_attention: config.flash_attention,
        bytes_per_element: config.precision.activation_bytes,
        dropout: trains_with_dropout(model),
    }
}

/// Every stage's estimate, first stage first.
pub fn stages(model: &Model, config: &MemoryConfig) -> Vec<MemoryEstimate> {
    let layout = config.layout;
    let p = config.precision;
    let dense_dp = layout.dense_data_parallel().max(1) as f64;
    let expert_dp = layout.expert_data_parallel().max(1) as f64;
    let sharded = |dense: f64, experts: f64, at_stage: u8| {
        if config.zero >= at_stage {
            dense / dense_dp + experts / expert_dp
        } else {
            dense + experts
        }
    };
    let options = activation_options(model, config);
    let pipeline = layout.pipeline.max(1);
    let per_stage = model.layers.len() / pipeline as usize;
    shards::stages(model, &layout)
        .into_iter()
        .map(|shard| {
            let (dense, experts) = (shard.dense, shard.experts);
            let start = shard.stage as usize * per_stage;
            let stage_layers = model.layers.iter().skip(start).take(shard.layers as usize);
            let per_micro_batch =
                match config.recompute {
                    Recompute::Full => {
                        // Each layer keeps its input; the layer being recomputed holds its whole
                        // working set once, during its backward pass.
                        shard.layers as f64 * activations::layer_input(model, &options)
                    }
                    _ => stage_layers
                        .clone()
                        .map(|layer| activations::layer(model, layer, &options).total())
                        .sum::<f64>(),
                } + activations::outside_layers(model, &options, shard.first, shard.last);
            let in_flight = (pipeline - shard.stage) as f64;
            let working_set = if config.recompute == Recompute::Full {
                let no_recompute = ActivationOptions {
                    recompute: Recompute::None,
                    ..options
                };
                stage_layers
                    .map(|layer| activations::layer(model, layer, &no_recompute).total())
                    .fold(0.0, f64::max)
            } else {
                0.0
            };
            MemoryEstimate {
                stage: shard.stage,
                parameters: dense + experts,
                weights: sharded(dense, experts, 3) * p.param_bytes,
                gradients: sharded(dense, experts, 2) * p.grad_bytes,
                optimizer_states: sharded(dense, experts, 1)
                    * p.optimizer_bytes
                    * config.optimizer_states as f64,
                master_weights: p
                    .master_weight_bytes
                    .map_or(0.0, |bytes| sharded(dense, experts, 1) * bytes),
                activations: per_micro_batch * in_flight + working_set,
                temporary: if shard.last {
                    activations::logits(model, &options)
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// The most loaded stage's estimate (the first of equals).
pub fn estimate(model: &Model, config: &MemoryConfig) -> MemoryEstimate {
    stages(model, config)
        .into_iter()
        .fold(None::<MemoryEstimate>, |best, stage| match best {
            Some(b) if b.total() >= stage.total() => Some(b),
            _ => Some(stage),
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_config;

    fn config(layout: Layout, zero: u8) -> MemoryConfig {
        MemoryConfig {
            micro_batch_size: 1,
            seq_len: 8192,
            layout,
            zero,
            recompute: Recompute::None,
            sequence_parallel: true,
            flash_attention: true,
            precision: Precision::MIXED_BF16,
            optimizer_states: 2,
        }
    }

    #[test]
    fn mixed_precision_adam_is_18_bytes_per_parameter_and_zero_shards_it() {
        let model = model_config::load("llama-3-8b").unwrap().model;
        let n = crate::accounting::params::count(&model).total as f64;
        let data = Layout {
            data: 8,
            ..Layout::SINGLE
        };
        let state =
            |m: &MemoryEstimate| m.weights + m.gradients + m.optimizer_states + m.master_weights;
        let check = |zero: u8, bytes_per_parameter: f64| {
            let m = estimate(&model, &config(data, zero));
            assert_eq!(state(&m), n * bytes_per_parameter, "zero {zero}");
        };
        check(0, 18.0);
        check(1, 6.0 + 12.0 / 8.0);
        check(2, 2.0 + 16.0 / 8.0);
        check(3, 18.0 / 8.0);
    }

    #[test]
    fn first_pipeline_stage_keeps_a_micro_batch_per_stage() {
        let model = model_config::load("llama-3-8b").unwrap().model;
        let layout = Layout {
            pipeline: 4,
            ..Layout::SINGLE
        };
        let stages = stages(&model, &config(layout, 0));
        let options = activation_options(&model, &config(layout, 0));
        let layer = activations::layer(&model, &model.layers[0], &options).total();
        let ids = activations::outside_layers(&model, &options, true, false);
        assert_eq!(stages[0].activations, 4.0 * (8.0 * layer + ids));
        assert_eq!(stages[3].temporary, activations::logits(&model, &options));
        assert_eq!(stages[0].temporary, 0.0);
    }
}
