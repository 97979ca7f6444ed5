//! AI21 Jamba (`model_type: "jamba"`), as `transformers`' `JambaConfig` and
//! `JambaForCausalLM` build it.
//!
//! - Layer `i` is attention where `i % attn_layer_period == attn_layer_offset` (defaults 8
//!   and 4), else a Mamba-1 mixer ([`Mamba1`]); `layers_block_type` and `layer_types` are
//!   read-only properties, so a file that sets either is refused, as `JambaConfig` refuses it.
//! - Its feed-forward block is a MoE of `num_experts` (alias `num_local_experts`, which
//!   wins) gated experts of `intermediate_size`, `num_experts_per_tok` per token, an unbiased
//!   router, where `i % expert_layer_period == expert_layer_offset` (defaults 2 and 1) and
//!   `num_experts > 1`; a gated MLP of `intermediate_size` elsewhere. The offsets must be
//!   below their periods.
//! - Attention: GQA without biases (`num_key_value_heads`, default 8, null refused), heads of
//!   `head_dim` where the file gives one (it is no field of `JambaConfig`, read with
//!   `getattr`), else `hidden_size / num_attention_heads`.
//! - The Mamba mixer: inner width `mamba_expand · hidden_size`, state `mamba_d_state`, a
//!   convolution of `mamba_d_conv` taps (bias `mamba_conv_bias`, default true), `in_proj`
//!   and `out_proj` biased with `mamba_proj_bias` (default false), dt rank `mamba_dt_rank`
//!   (`"auto"`: `⌈hidden_size / 16⌉`), and RMSNorms on dt, B and C.
//! - Two RMSNorms a layer; the head ties with `tie_word_embeddings` (default false).

use serde_json::Value;

use super::{
    check_top_k, default_seq_len, divide_heads, invalid, key_value_heads, layer_count,
    null_refused, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mamba1, Mixer, MixtureOfExperts, Mlp,
    Model, QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `JambaForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    for derived in ["layers_block_type", "layer_types", "layers_num_experts"] {
        if config.object.contains_key(derived) {
            return Err(invalid(
                derived,
                "(set)",
                "is derived by JambaConfig from the layer periods and offsets and cannot be set",
                "remove it and set attn_layer_period/attn_layer_offset and expert_layer_period/expert_layer_offset",
            ));
        }
    }
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let vocab = config.positive_or(&["vocab_size"], 65536)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, Some(8), false)?;
    let head_dim = match config.optional_u64(&["head_dim"])? {
        Some(0) => {
            return Err(invalid(
                "head_dim",
                "0",
                "must be at least 1",
                "remove it to take hidden_size / num_attention_heads",
            ))
        }
        Some(head_dim) => head_dim,
        None if config.is_null("head_dim") => return Err(null_refused("head_dim")),
        None => divide_heads(d, heads, "hidden_size", "num_attention_heads")?,
    };
    let attention = AttentionLayer::full(Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: false,
        output_bias: false,
        qk_norm: QkNorm::None,
    }));
    let dt_rank = match config.object.get("mamba_dt_rank") {
        None => d.div_ceil(16),
        Some(Value::String(s)) if s == "auto" => d.div_ceil(16),
        Some(_) => config.positive_or(&["mamba_dt_rank"], 1)?,
    };
    let mamba = Mamba1 {
        inner: config
            .positive_or(&["mamba_expand"], 2)?
            .checked_mul(d)
            .ok_or_else(|| {
                invalid(
                    "mamba_expand",
                    "(too large)",
                    "times hidden_size does not fit 64 bits",
                    "check it for a typo",
                )
            })?,
        state_size: config.positive_or(&["mamba_d_state"], 16)?,
        dt_rank,
        conv_kernel: config.positive_or(&["mamba_d_conv"], 4)?,
        conv_bias: config.bool_or(&["mamba_conv_bias"], true)?,
        proj_bias: config.bool_or(&["mamba_proj_bias"], false)?,
        dt_bc_norms: true,
    };
    let (attn_period, attn_offset) =
        period(config, "attn_layer_period", 8, "attn_layer_offset", 4)?;
    let (expert_period, expert_offset) =
        period(config, "expert_layer_period", 2, "expert_layer_offset", 1)?;
    let intermediate = config.positive_or(&["intermediate_size"], 14336)?;
    let mlp = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: false,
    };
    let num_experts = config.positive_or(&["num_local_experts", "num_experts"], 16)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 2)?;
    let moe = if num_experts > 1 {
        check_top_k(top_k, num_experts, "num_experts")?;
        Some(MixtureOfExperts {
            zero_experts: 0,
            num_experts,
            top_k,
            expert: mlp,
            shared: None,
            shared_expert_gate: false,
            router_bias: false,
            router_correction: RouterCorrection::None,
            router_scales: false,
            latent: None,
        })
    } else {
        None
    };
    let layers = (0..layers)
        .map(|i| {
            let mixer = if i % attn_period == attn_offset {
                Mixer::Attention(attention)
            } else {
                Mixer::Mamba1(mamba)
            };
            let ffn = match moe {
                Some(moe) if i % expert_period == expert_offset => {
                    FeedForward::MixtureOfExperts(moe)
                }
                _ => FeedForward::Dense(mlp),
            };
            Layer::new(mixer, ffn)
        })
        .collect();
    Ok(Model::decoder(
        Family::Jamba,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 262144)?,
    ))
}

/// A layer period and its offset, which `JambaConfig.validate_architecture` requires below it.
fn period(
    config: &Config,
    period_key: &'static str,
    period_default: u64,
    offset_key: &'static str,
    offset_default: u64,
) -> Result<(u64, u64), ModelConfigError> {
    let period = config.positive_or(&[period_key], period_default)?;
    let offset = config.u64_or(&[offset_key], offset_default)?;
    if offset >= period {
        return Err(invalid(
            offset_key,
            &offset.to_string(),
            &format!("must be smaller than {period_key} = {period}"),
            "give an offset within the period",
        ));
    }
    Ok((period, offset))
}
