//! Mistral Small 4 (`model_type: "mistral4"`), as `transformers`' `Mistral4Config` and
//! `Mistral4ForCausalLM` build it.
//!
//! - DeepSeek-V2's latent attention: `q_a_proj` (`q_lora_rank`, 1024; null projects queries
//!   directly), `kv_a_proj_with_mqa`, `kv_b_proj`, `o_proj`; `attention_bias` on `q_a_proj`,
//!   `kv_a_proj_with_mqa` and `o_proj`. `num_key_value_heads` only groups the (already
//!   per-head) keys and shapes no weight.
//! - The first `first_k_dense_replace` (0) layers have a dense MLP of `intermediate_size`; the
//!   others `n_routed_experts` (alias `num_local_experts`) experts of `moe_intermediate_size`,
//!   a bias-free softmax router with group-limited top `num_experts_per_tok`, and
//!   `n_shared_experts` fused into one shared MLP. No score-correction bias.
//! - Two RMSNorms per layer; an untied head by default. With no `rope_parameters` the class's
//!   default YaRN scaling stretches an 8192-token pre-training context.

use serde_json::Value;

use super::{
    check_latent_width, check_top_k, default_seq_len, fused_shared_moe, layer_count, null_refused,
    q_lora_rank, shared_experts_width, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, LatentAttention, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, RouterCorrection,
};

/// Builds the model `Mistral4ForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 36)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let vocab = config.positive_or(&["vocab_size"], 131072)?;
    let intermediate = config.positive_or(&["intermediate_size"], 12288)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let q_lora_rank = q_lora_rank(config, 1024)?;
    let attention = Attention::Latent(LatentAttention {
        num_heads: heads,
        q_lora_rank,
        kv_lora_rank: config.positive_or(&["kv_lora_rank"], 256)?,
        qk_nope_head_dim: config.u64_or(&["qk_nope_head_dim"], 64)?,
        qk_rope_head_dim: config.u64_or(&["qk_rope_head_dim"], 64)?,
        v_head_dim: config.positive_or(&["v_head_dim"], 128)?,
        bias: config.bool_or(&["attention_bias"], false)?,
    });
    if let Attention::Latent(a) = &attention {
        check_latent_width(a.qk_nope_head_dim, a.qk_rope_head_dim)?;
    }
    let first_dense = config.u64_or(&["first_k_dense_replace"], 0)?;
    let moe = moe_block(config)?;
    let dense = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: false,
    };
    let layers = (0..layers)
        .map(|index| {
            let ffn = if index >= first_dense {
                FeedForward::MixtureOfExperts(moe)
            } else {
                FeedForward::Dense(dense)
            };
            Layer::new(Mixer::Attention(AttentionLayer::full(attention)), ffn)
        })
        .collect();
    let rope_given = ["rope_parameters", "rope_scaling"]
        .iter()
        .any(|key| !matches!(config.object.get(*key), None | Some(Value::Null)));
    let default_seq = if rope_given {
        default_seq_len(config, &["max_position_embeddings"], 1048576)?
    } else {
        8192
    };
    Ok(Model::decoder(
        Family::Mistral4,
        d,
        vocab,
        tie,
        layers,
        default_seq,
    ))
}

/// The MoE block: routed experts, a bias-free router, the shared experts fused into one MLP.
fn moe_block(config: &Config) -> Result<MixtureOfExperts, ModelConfigError> {
    let experts_keys = &["num_local_experts", "n_routed_experts"];
    let num_experts = config.positive_or(experts_keys, 128)?;
    if config.is_null("num_experts_per_tok") {
        return Err(null_refused("num_experts_per_tok"));
    }
    let top_k = config.positive_or(&["num_experts_per_tok"], 4)?;
    check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
    let size = config.positive_or(&["moe_intermediate_size"], 2048)?;
    let shared_width = shared_experts_width(config, "n_shared_experts", 1, size)?;
    Ok(fused_shared_moe(
        num_experts,
        top_k,
        size,
        shared_width,
        RouterCorrection::None,
    ))
}
