//! Arcee Trinity (`model_type: "afmoe"`), as `transformers`' `AfmoeConfig` and
//! `AfmoeForCausalLM` build it.
//!
//! - Layers are sliding-window or full attention from `layer_types` (default: every
//!   `global_attn_every_n_layers`-th layer (4) full, the others sliding with `sliding_window`,
//!   1024); rotary embeddings on the sliding layers only.
//! - q/k/v/o take `attention_bias`; `q_norm` and `k_norm` are RMSNorms of `head_dim` (128)
//!   shared by the heads; a bias-free `gate_proj` (`hidden → heads · head_dim`) gates every
//!   output channel with a sigmoid: counted as a q_proj twice as wide, so a config with
//!   `attention_bias` (whose gate has no bias beside a biased q_proj) is refused.
//! - Four RMSNorms per layer (before and after the attention and the feed-forward block).
//! - The first `num_dense_layers` (1) layers are dense (`intermediate_size`), the rest MoE:
//!   `num_experts` experts of `moe_intermediate_size`, top `num_experts_per_tok`, one shared
//!   MLP `num_shared_experts` times as wide, a bias-free sigmoid router, and `expert_bias`, a
//!   parameter (`requires_grad=False`, counted by `parameters()`).
//! - `route_scale` and muP's embedding scale are elementwise.

use super::{
    as_u64, check_top_k, default_seq_len, fused_shared_moe, invalid, key_value_heads, layer_count,
    layer_types, shared_experts_width, Config, Field, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, KeyValue, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `AfmoeForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2048)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let heads = config.positive_or(&["num_attention_heads"], 16)?;
    let kv_heads = key_value_heads(config, heads, None, true)?;
    // head_dim is declared optional, but a null one cannot size the projections.
    let head_dim = config.positive_or(&["head_dim"], 128)?;
    let vocab = config.positive_or(&["vocab_size"], 200192)?;
    let intermediate = config.positive_or(&["intermediate_size"], 6144)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    if bias {
        return Err(invalid(
            "attention_bias",
            "true",
            "is not modelled for afmoe: its bias-free gate_proj beside a biased q_proj is not a doubled q_proj",
            "use false (as Arcee's configs do)",
        ));
    }
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let dense_layers = config.u64_or(&["num_dense_layers"], 1)?;
    // An explicit null (or 0) leaves the sliding layers without a window.
    let window = match config.field(&["sliding_window"]) {
        (_, Field::Absent) => Some(1024),
        (_, Field::Null) => None,
        (key, Field::Present(value)) => Some(as_u64(key, value)?).filter(|w| *w > 0),
    };
    let sliding = match layer_types(config, layers)? {
        Some(kinds) => kinds,
        None => {
            let every = config.positive_or(&["global_attn_every_n_layers"], 4)?;
            (0..layers).map(|i| (i + 1) % every != 0).collect()
        }
    };
    let moe = moe_block(config)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: false,
        output_bias: false,
        qk_norm: QkNorm::PerHead,
    });
    let built = sliding
        .iter()
        .enumerate()
        .map(|(index, &sliding)| {
            let mixer = AttentionLayer {
                window: match (sliding, window) {
                    (true, Some(w)) => AttentionWindow::Sliding(w),
                    _ => AttentionWindow::Full,
                },
                rope: sliding,
                output_gate: true,
                key_value: KeyValue::Own,
                ..AttentionLayer::full(attention)
            };
            let ffn = if index as u64 >= dense_layers {
                FeedForward::MixtureOfExperts(moe)
            } else {
                FeedForward::Dense(Mlp {
                    gated: true,
                    intermediate_size: intermediate,
                    bias: false,
                })
            };
            Layer {
                mixer: Mixer::Attention(mixer),
                ffn,
                norms: 4,
            }
        })
        .collect();
    Ok(Model::decoder(
        Family::Afmoe,
        d,
        vocab,
        tie,
        built,
        default_seq_len(config, &["max_position_embeddings"], 16384)?,
    ))
}

/// The MoE block: routed experts, the shared experts fused into one MLP, a sigmoid router
/// with an expert-bias parameter.
fn moe_block(config: &Config) -> Result<MixtureOfExperts, ModelConfigError> {
    let num_experts = config.positive_or(&["num_experts"], 64)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 6)?;
    check_top_k(top_k, num_experts, "num_experts")?;
    let size = config.positive_or(&["moe_intermediate_size"], 1408)?;
    let shared_width = shared_experts_width(config, "num_shared_experts", 2, size)?;
    Ok(fused_shared_moe(
        num_experts,
        top_k,
        size,
        shared_width,
        RouterCorrection::Parameter,
    ))
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{AttentionWindow, FeedForward};
    use crate::model_config::parse;

    #[test]
    fn the_defaults_slide_three_layers_in_four_and_start_dense() {
        let model = parse(r#"{"model_type": "afmoe"}"#).unwrap();
        assert_eq!(model.layers.len(), 32);
        let windows: Vec<_> = model.layers[..4]
            .iter()
            .map(|l| l.mixer.attention().unwrap().window)
            .collect();
        assert_eq!(
            windows,
            [
                AttentionWindow::Sliding(1024),
                AttentionWindow::Sliding(1024),
                AttentionWindow::Sliding(1024),
                AttentionWindow::Full
            ]
        );
        assert!(matches!(model.layers[0].ffn, FeedForward::Dense(_)));
        assert!(model.layers[1..].iter().all(|l| matches!(
            l.ffn,
            FeedForward::MixtureOfExperts(m) if m.top_k == 6 && m.shared.is_some()
        )));
    }

    #[test]
    fn configs_not_modelled_are_refused_with_the_field() {
        for (extra, field) in [
            (r#""attention_bias": true"#, "attention_bias"),
            (r#""head_dim": null"#, "head_dim"),
            (
                r#""global_attn_every_n_layers": 0"#,
                "global_attn_every_n_layers",
            ),
            (r#""num_experts_per_tok": 65"#, "num_experts_per_tok"),
        ] {
            let config = format!(r#"{{"model_type": "afmoe", "num_hidden_layers": 2, {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
