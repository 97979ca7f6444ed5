//! MiniMax-Text-01 and MiniMax-M1 (`model_type: "minimax"`), as `transformers`'
//! `MiniMaxConfig` and `MiniMaxForCausalLM` build them.
//!
//! - Layers are lightning attention (`linear_attention`, [`LightningAttention`]) or softmax
//!   attention (`full_attention`) from `layer_types`; without it, `full_attention` on the even
//!   layers (0, 2, …) and `linear_attention` on the odd ones. MiniMax's own checkpoints'
//!   `attn_type_list` is read by nothing in `transformers`.
//! - Both kinds take `num_attention_heads` heads of `head_dim` (null or 0:
//!   `hidden_size / num_attention_heads`, as `getattr(config, "head_dim", None) or …`);
//!   softmax attention has `num_key_value_heads` key/value heads (default 8; null is refused,
//!   as `MiniMaxConfig` refuses it), no biases, rotary embeddings, and the `sliding_window` mask on every
//!   `full_attention` layer when it is set. Lightning attention runs in blocks of
//!   `block_size` tokens (default 256).
//! - Every layer's feed-forward block is a MoE of `num_local_experts` (alias `num_experts`,
//!   which wins) gated experts of `intermediate_size`, `num_experts_per_tok` per token, an
//!   unbiased softmax router and no shared expert. Two RMSNorms a layer; the residual scales
//!   (`*_alpha_factor`, `*_beta_factor`) are elementwise. The head ties with
//!   `tie_word_embeddings` (default false).

use super::{
    check_top_k, default_seq_len, divide_heads, hybrid::layer_kinds, invalid, key_value_heads,
    layer_count, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, Layer, LightningAttention,
    Mixer, MixtureOfExperts, Mlp, Model, QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `MiniMaxForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let vocab = config.positive_or(&["vocab_size"], 32000)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, Some(8), false)?;
    let head_dim = match config.optional_u64(&["head_dim"])? {
        Some(0) | None => divide_heads(d, heads, "hidden_size", "num_attention_heads")?,
        Some(head_dim) => head_dim,
    };
    let window = match config.optional_u64(&["sliding_window"])? {
        Some(0) => {
            return Err(invalid(
                "sliding_window",
                "0",
                "leaves the full_attention layers no key to attend to",
                "give the window in tokens, or null for full attention",
            ))
        }
        window => AttentionWindow::sliding(window),
    };
    let attention = AttentionLayer::full(Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: false,
        output_bias: false,
        qk_norm: QkNorm::None,
    }))
    .with_window(window);
    let lightning = LightningAttention {
        num_heads: heads,
        head_dim,
        block_size: config.positive_or(&["block_size"], 256)?,
    };
    let num_experts = config.positive_or(&["num_experts", "num_local_experts"], 8)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 2)?;
    check_top_k(top_k, num_experts, "num_local_experts")?;
    let moe = MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: config.positive_or(&["intermediate_size"], 14336)?,
            bias: false,
        },
        shared: None,
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::None,
        router_scales: false,
        latent: None,
    };
    let linear: Vec<bool> = match layer_kinds(
        config,
        "layer_types",
        layers,
        &["full_attention", "linear_attention"],
    )? {
        Some(kinds) => kinds
            .iter()
            .map(|kind| kind == "linear_attention")
            .collect(),
        None => (0..layers).map(|i| (i + 1) % 2 == 0).collect(),
    };
    let layers = linear
        .into_iter()
        .map(|is_linear| {
            let mixer = if is_linear {
                Mixer::Lightning(lightning)
            } else {
                Mixer::Attention(attention)
            };
            Layer::new(mixer, FeedForward::MixtureOfExperts(moe))
        })
        .collect();
    Ok(Model::decoder(
        Family::Minimax,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}
