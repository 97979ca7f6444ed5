//! Liquid LFM2-MoE (`model_type: "lfm2_moe"`), as `transformers`' `Lfm2MoeConfig` and
//! `Lfm2MoeForCausalLM` build it.
//!
//! - LFM2's layers: `conv` (the gated short convolution, [`ShortConv`]) or `full_attention`
//!   from `layer_types`, which the class has no default for (its model cannot be built
//!   without it); attention as LFM2's (bias-free, q/k RMSNorms of `head_dim`, `head_dim` the
//!   file's or `hidden_size // num_attention_heads`).
//! - The first `num_dense_layers` (2) layers have a bias-free SwiGLU MLP of
//!   `intermediate_size`, taken as given (no LFM2 width adjustment); the others `num_experts`
//!   (32) experts of `moe_intermediate_size`, top `num_experts_per_tok` (4), a bias-free
//!   sigmoid router and, with `use_expert_bias` (true), an `expert_bias` buffer.
//! - Two RMSNorms a layer and a final `embedding_norm`; the head ties with
//!   `tie_word_embeddings` (a `tie_embedding` keyword wins; default true).

use super::cohere2::head_dim;
use super::hybrid::layer_kinds;
use super::{check_top_k, default_seq_len, key_value_heads, layer_count, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, MixtureOfExperts, Mlp, Model,
    QkNorm, RouterCorrection, ShortConv, StandardAttention,
};

/// Builds the model `Lfm2MoeForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2048)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let vocab = config.positive_or(&["vocab_size"], 65536)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, Some(8), false)?;
    let head_dim = head_dim(config, d, heads)?;
    let attention = AttentionLayer::full(Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: false,
        output_bias: false,
        qk_norm: QkNorm::PerHead,
    }));
    let conv = ShortConv {
        kernel: config.positive_or(&["conv_L_cache"], 3)?,
        bias: config.bool_or(&["conv_bias"], false)?,
    };
    let Some(kinds) = layer_kinds(config, "layer_types", layers, &["full_attention", "conv"])?
    else {
        return Err(ModelConfigError::Missing {
            field: "layer_types",
            fix:
                "list \"conv\" or \"full_attention\" for each layer: Lfm2MoeConfig has no default \
                  pattern and transformers cannot build the model without one"
                    .into(),
        });
    };
    let dense_layers = config.u64_or(&["num_dense_layers"], 2)?;
    let dense = Mlp {
        gated: true,
        intermediate_size: config.positive_or(&["intermediate_size"], 7168)?,
        bias: false,
    };
    let moe = moe_block(config)?;
    let layers = kinds
        .iter()
        .zip(0u64..)
        .map(|(kind, index)| {
            let mixer = if kind == "full_attention" {
                Mixer::Attention(attention)
            } else {
                Mixer::ShortConv(conv)
            };
            let ffn = if index < dense_layers {
                FeedForward::Dense(dense)
            } else {
                FeedForward::MixtureOfExperts(moe)
            };
            Layer::new(mixer, ffn)
        })
        .collect();
    Ok(Model::decoder(
        Family::Lfm2Moe,
        d,
        vocab,
        config.bool_or(&["tie_embedding", "tie_word_embeddings"], true)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 128_000)?,
    ))
}

/// The sparse layers' block: routed experts, a bias-free router, the expert-bias buffer.
fn moe_block(config: &Config) -> Result<MixtureOfExperts, ModelConfigError> {
    let num_experts = config.positive_or(&["num_experts"], 32)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 4)?;
    check_top_k(top_k, num_experts, "num_experts")?;
    Ok(MixtureOfExperts {
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: config.positive_or(&["moe_intermediate_size"], 1792)?,
            bias: false,
        },
        shared: None,
        shared_expert_gate: false,
        router_bias: false,
        router_correction: if config.bool_or(&["use_expert_bias"], true)? {
            RouterCorrection::Buffer
        } else {
            RouterCorrection::None
        },
        router_scales: false,
        latent: None,
        zero_experts: 0,
    })
}

#[cfg(test)]
mod tests {
    use crate::model_config::{parse, ModelConfigError};

    #[test]
    fn the_defaults_have_no_layer_types_and_are_refused() {
        assert!(matches!(
            parse(r#"{"model_type": "lfm2_moe"}"#),
            Err(ModelConfigError::Missing {
                field: "layer_types",
                ..
            })
        ));
    }
}
