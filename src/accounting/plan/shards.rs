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
use crate::accounting::model::{Attention, FeedForward, Layer, Model, QkNorm};
use crate::accounting::params;

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

/// The parameters of an attention layer that tensor parallelism replicates rather than
/// splits: the output bias, q/k norms, and MLA's down projections and their norms.
fn attention_replicated(d: f64, attention: &Attention) -> f64 {
    match *attention {
        Attention::Standard(a) => {
            let head = a.head_dim as f64;
            let output_bias = if a.output_bias { d } else { 0.0 };
            let qk_norm = match a.qk_norm {
                QkNorm::None => 0.0,
                QkNorm::PerHead => 2.0 * head,
                QkNorm::AllHeads => (a.num_heads + a.num_kv_heads) as f64 * head,
                QkNorm::Widths { query, key } => (query + key) as f64,
            };
            output_bias + qk_norm
        }
        Attention::Latent(a) => {
            let bias = if a.bias { 1.0 } else { 0.0 };
            let (rank_kv, rope) = (a.kv_lora_rank as f64, a.qk_rope_head_dim as f64);
            // Megatron's MLA keeps the down projections and their norms whole.
            let mut replicated =
                d * (rank_kv + rope) + bias * (rank_kv + rope) + rank_kv + bias * d;
            if let Some(rank) = a.q_lora_rank {
                let rank = rank as f64;
                replicated += d * rank + bias * rank + rank;
            }
            replicated
        }
        // DeepSeek-V4's query down projection and its norm, and the one key-and-value head
        // with its norm, as MLA's down projections.
        Attention::DeepseekV4(a) => {
            let (rank, head) = (a.q_lora_rank as f64, a.head_dim as f64);
            d * rank + rank + d * head + head
        }
    }
}

/// The parameters of one decoder layer, split as tensor and expert parallelism split them.
/// The layer's total is the parameter count's own ([`params::layer_counts`]), so one GPU of
/// a single-GPU layout holds exactly the counted parameters; of it, the norms, the replicated
/// parts of attention and the router stay whole on every tensor-parallel rank, the routed
/// experts go to expert parallelism, and the rest (projections, MLPs, linear mixers) is split.
pub fn layer_parameters(model: &Model, layer: &Layer) -> LayerParameters {
    let d = model.hidden_size as f64;
    let (total, experts) = params::layer_counts(model, layer).unwrap_or((0, 0));
    let norms = layer.norms as f64 * model.norm.params(model.hidden_size) as f64;
    let attention = layer
        .mixer
        .attention()
        .map_or(0.0, |a| attention_replicated(d, &a.attention));
    let router = match &layer.ffn {
        FeedForward::MixtureOfExperts(moe) => {
            d * moe.num_experts as f64 + if moe.shared_expert_gate { d } else { 0.0 }
        }
        // A learnable activation's scalars (xIELU's) are whole on every rank.
        FeedForward::Dense(_) => model.ffn_activation_params as f64,
        FeedForward::None => 0.0,
    };
    let replicated = norms + attention + router;
    LayerParameters {
        tensor_split: total as f64 - experts as f64 - replicated,
        replicated,
        experts: experts as f64,
    }
}

fn embedding(model: &Model) -> f64 {
    let d = model.hidden_size as f64;
    // Gemma 4's per-layer input table, per_layer_model_projection and its norm run before
    // the first layer: the first stage holds them.
    let per_layer_input = model.per_layer_input.map_or(0.0, |ple| {
        let width = model.layers.len() as f64 * ple.width as f64;
        ple.vocab_size as f64 * width + d * width + ple.width as f64
    });
    model.vocab_size as f64 * d
        + model.learned_positions.map_or(0.0, |rows| rows as f64 * d)
        + per_layer_input
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
                let p = layer_parameters(model, layer);
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
    fn one_gpu_holds_gemma4s_per_layer_inputs() {
        let model = model_config::parse(
            r#"{"model_type": "gemma4_text", "hidden_size": 64, "num_hidden_layers": 4,
                "layer_types": ["sliding_attention", "full_attention", "sliding_attention",
                "full_attention"], "num_kv_shared_layers": 2, "vocab_size": 128, "vocab_size_per_layer_input": 128,
                "hidden_size_per_layer_input": 8}"#,
        )
        .unwrap();
        let held = stages(&model, &Layout::SINGLE)[0].parameters();
        assert_eq!(held, params::count(&model).total as f64);
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
