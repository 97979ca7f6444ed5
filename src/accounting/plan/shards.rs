//! How a model's parameters are split over the GPUs of a layout, stage by stage.
//!
//! As Megatron-LM holds them: attention and (dense or shared-expert) MLP weights are split by
//! tensor parallelism; norms, routers and gates are replicated on every tensor-parallel rank;
//! routed experts are split by expert × tensor parallelism (Megatron's expert tensor
//! parallelism defaults to the tensor-parallel degree); the token (and position) embedding,
//! split by tensor parallelism over the vocabulary, sits on the first pipeline stage, and the
//! final norm with the LM head on the last one, which keeps its own copy of a tied embedding
//! when there is more than one stage.

use super::layout::Layout;
use crate::accounting::model::{Attention, FeedForward, Mlp, Model};

/// Parameters of one decoder layer by how they are split.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LayerParameters {
    /// Attention and dense or shared-expert MLP weights, split by tensor parallelism.
    pub tensor_split: f64,
    /// Norms, router, shared-expert gate: whole on every rank.
    pub replicated: f64,
    /// Routed experts, split by expert × tensor parallelism.
    pub experts: f64,
}

/// The parameters one GPU of a pipeline stage holds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StageShard {
    pub stage: u64,
    /// Decoder layers in the stage.
    pub layers: u64,
    /// Dense parameters on one GPU (everything but routed experts), after tensor parallelism.
    pub dense: f64,
    /// Routed-expert parameters on one GPU, after expert × tensor parallelism.
    pub experts: f64,
    /// Whether the stage holds the input embedding (the first) and the LM head (the last).
    pub first: bool,
    pub last: bool,
}

impl StageShard {
    pub fn parameters(&self) -> f64 {
        self.dense + self.experts
    }
}

fn mlp(d: f64, mlp: &Mlp) -> f64 {
    let i = mlp.intermediate_size as f64;
    let bias = if mlp.bias {
        (mlp.matrices() - 1) as f64 * i + d
    } else {
        0.0
    };
    mlp.matrices() as f64 * d * i + bias
}

fn attention(model: &Model) -> (f64, f64) {
    let d = model.hidden_size as f64;
    match model.attention {
        Attention::Standard(a) => {
            let q = (a.num_heads * a.head_dim) as f64;
            let kv = (a.num_kv_heads * a.head_dim) as f64;
            let mut split = 2.0 * d * q + 2.0 * d * kv;
            if a.qkv_bias {
                split += q + 2.0 * kv;
            }
            let mut replicated = if a.output_bias { d } else { 0.0 };
            if a.qk_norm {
                replicated += 2.0 * a.head_dim as f64;
            }
            (split, replicated)
        }
        Attention::Latent(a) => {
            let h = a.num_heads as f64;
            let qk = (a.qk_nope_head_dim + a.qk_rope_head_dim) as f64;
            let bias = if a.bias { 1.0 } else { 0.0 };
            let (rank_kv, rope) = (a.kv_lora_rank as f64, a.qk_rope_head_dim as f64);
            // The down projections and their norms are replicated (Megatron's MLA keeps them
            // whole); the up projections and the output are split by heads.
            let mut replicated = d * (rank_kv + rope) + bias * (rank_kv + rope) + rank_kv;
            let mut split = rank_kv * h * (a.qk_nope_head_dim + a.v_head_dim) as f64
                + h * a.v_head_dim as f64 * d;
            replicated += bias * d;
            match a.q_lora_rank {
                Some(rank) => {
                    let rank = rank as f64;
                    replicated += d * rank + bias * rank + rank;
                    split += rank * h * qk;
                }
                None => split += d * h * qk,
            }
            (split, replicated)
        }
    }
}

/// The parameters of one decoder layer with feed-forward block `ffn`.
pub fn layer_parameters(model: &Model, ffn: &FeedForward) -> LayerParameters {
    let d = model.hidden_size as f64;
    let (attention_split, attention_replicated) = attention(model);
    let norms = 2.0 * model.norm.params(model.hidden_size) as f64;
    match ffn {
        FeedForward::Dense(m) => LayerParameters {
            tensor_split: attention_split + mlp(d, m),
            replicated: attention_replicated + norms,
            experts: 0.0,
        },
        FeedForward::MixtureOfExperts(moe) => LayerParameters {
            tensor_split: attention_split + moe.shared.map_or(0.0, |s| mlp(d, &s)),
            replicated: attention_replicated
                + norms
                + d * moe.num_experts as f64
                + if moe.shared_expert_gate { d } else { 0.0 },
            experts: moe.num_experts as f64 * mlp(d, &moe.expert),
        },
    }
}

fn embedding(model: &Model) -> f64 {
    let d = model.hidden_size as f64;
    model.vocab_size as f64 * d + model.learned_positions.map_or(0.0, |rows| rows as f64 * d)
}

/// Every stage's shard on one of its GPUs, first stage first.
///
/// The layout must divide the model ([`super::layout::validate`]); a stage count that does not
/// divide the layers gives the last stage the remainder.
pub fn stages(model: &Model, layout: &Layout) -> Vec<StageShard> {
    let pipeline = layout.pipeline.max(1);
    let tensor = layout.tensor.max(1) as f64;
    let expert_split = (layout.expert.max(1) * layout.tensor.max(1)) as f64;
    let total_layers = model.layers.len() as u64;
    let per_stage = total_layers / pipeline;
    let d = model.hidden_size as f64;
    let lm_head = model.vocab_size as f64 * d;
    (0..pipeline)
        .map(|stage| {
            let start = stage * per_stage;
            let end = if stage + 1 == pipeline {
                total_layers
            } else {
                start + per_stage
            };
            let mut split = 0.0;
            let mut replicated = 0.0;
            let mut experts = 0.0;
            for layer in model
                .layers
                .iter()
                .skip(start as usize)
                .take((end - start) as usize)
            {
                let p = layer_parameters(model, &layer.ffn);
                split += p.tensor_split;
                replicated += p.replicated;
                experts += p.experts;
            }
            let first = stage == 0;
            let last = stage + 1 == pipeline;
            if first {
                split += embedding(model);
            }
            if last {
                replicated += model.norm.params(model.hidden_size) as f64;
                if !model.tie_word_embeddings || pipeline > 1 {
                    split += lm_head;
                }
            }
            StageShard {
                stage,
                layers: end - start,
                dense: split / tensor + replicated,
                experts: experts / expert_split,
                first,
                last,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::params;
    use crate::model_config;

    #[test]
    fn one_gpu_holds_exactly_the_counted_parameters_of_every_preset() {
        for name in model_config::preset_names() {
            let model = model_config::load(name).unwrap().model;
            let shards = stages(&model, &Layout::SINGLE);
            assert_eq!(shards.len(), 1);
            let held = shards[0].parameters();
            let counted = params::count(&model).total as f64;
            assert_eq!(held, counted, "{name}");
        }
    }

    #[test]
    fn tensor_and_pipeline_split_what_megatron_splits() {
        let model = model_config::load("llama-3-8b").unwrap().model;
        let one = stages(&model, &Layout::SINGLE)[0];
        let layout = Layout {
            tensor: 2,
            pipeline: 4,
            ..Layout::SINGLE
        };
        let shards = stages(&model, &layout);
        assert_eq!(shards.len(), 4);
        assert!(shards.iter().all(|s| s.layers == 8));
        // The norms are replicated, so the GPUs together hold a little more than the model.
        let sum: f64 = shards.iter().map(|s| s.parameters()).sum::<f64>() * 2.0;
        let norms = (32.0 * 2.0 + 1.0) * 4096.0;
        assert_eq!(sum, one.parameters() + norms);
        assert!(shards[0].first && shards[3].last);
    }
}
