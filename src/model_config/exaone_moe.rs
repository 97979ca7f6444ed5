//! LG EXAONE MoE (`model_type: "exaone_moe"`), as `transformers`' `ExaoneMoeConfig` and
//! `ExaoneMoeForCausalLM` build it.
//!
//! - Layers are sliding-window or full attention from `layer_types` (default: every
//!   `sliding_window_pattern`-th layer (4) full, the others sliding with `sliding_window`,
//!   4096); rotary embeddings on the sliding layers only, which costs nothing.
//! - q/k/v/o have no bias; `q_norm` and `k_norm` are RMSNorms of `head_dim` (default
//!   `hidden_size / num_attention_heads`) shared by the heads.
//! - Dense (`intermediate_size`) or MoE layers from `mlp_layer_types` (default: the first
//!   `first_k_dense_replace` (1) dense): `num_experts` experts of `moe_intermediate_size`,
//!   top `num_experts_per_tok`, one shared MLP `num_shared_experts` times as wide, DeepSeek-V3's
//!   group-limited sigmoid router with an `e_score_correction_bias` buffer (not counted).
//! - The checkpoint's MTP weights (`mtp.*`) are ignored on load: no MTP module is built.

use serde_json::Value;

use super::hybrid::layer_kinds;
use super::{
    check_top_k, default_seq_len, divide_heads, fused_shared_moe, invalid, key_value_heads,
    layer_count, layer_types, shared_experts_width, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `ExaoneMoeForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, Some(32), false)?;
    // The class has no head_dim field: the key is read when a config gives one.
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
        None => divide_heads(d, heads, "hidden_size", "num_attention_heads")?,
    };
    let vocab = config.positive_or(&["vocab_size"], 102400)?;
    let intermediate = config.positive_or(&["intermediate_size"], 16384)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let window = config.positive_or(&["sliding_window"], 4096)?;
    let sliding = match layer_types(config, layers)? {
        Some(kinds) => kinds,
        None => {
            let pattern = sliding_window_pattern(config)?;
            (0..layers).map(|i| (i + 1) % pattern != 0).collect()
        }
    };
    let sparse = match layer_kinds(config, "mlp_layer_types", layers, &["dense", "sparse"])? {
        Some(kinds) => kinds.iter().map(|kind| kind == "sparse").collect(),
        None => {
            let first = config.u64_or(&["first_k_dense_replace"], 1)?;
            (0..layers).map(|i| i >= first).collect::<Vec<_>>()
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
        .zip(&sparse)
        .map(|(&sliding, &sparse)| {
            let mixer = AttentionLayer {
                window: if sliding {
                    AttentionWindow::Sliding(window)
                } else {
                    AttentionWindow::Full
                },
                rope: sliding,
                ..AttentionLayer::full(attention)
            };
            let ffn = if sparse {
                FeedForward::MixtureOfExperts(moe)
            } else {
                FeedForward::Dense(Mlp {
                    gated: true,
                    intermediate_size: intermediate,
                    bias: false,
                })
            };
            Layer::new(Mixer::Attention(mixer), ffn)
        })
        .collect();
    Ok(Model::decoder(
        Family::ExaoneMoe,
        d,
        vocab,
        tie,
        built,
        default_seq_len(config, &["max_position_embeddings"], 2048)?,
    ))
}

/// `sliding_window_pattern` as the default `layer_types` reads it: a positive integer (the
/// class's modulo cannot take a string or zero).
fn sliding_window_pattern(config: &Config) -> Result<u64, ModelConfigError> {
    match config.object.get("sliding_window_pattern") {
        None => Ok(4),
        Some(Value::Number(_)) => config.positive_or(&["sliding_window_pattern"], 4),
        Some(other) => Err(invalid(
            "sliding_window_pattern",
            &other.to_string(),
            "cannot give the default layer_types (ExaoneMoeConfig takes every n-th layer full, n a positive integer)",
            "give a positive integer, or list layer_types",
        )),
    }
}

/// The MoE block: routed experts, the shared experts fused into one MLP, DeepSeek-V3's
/// router with a correction-bias buffer.
fn moe_block(config: &Config) -> Result<MixtureOfExperts, ModelConfigError> {
    let num_experts = config.positive_or(&["num_experts"], 64)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 8)?;
    check_top_k(top_k, num_experts, "num_experts")?;
    let size = config.positive_or(&["moe_intermediate_size"], 1024)?;
    let shared_width = shared_experts_width(config, "num_shared_experts", 1, size)?;
    Ok(fused_shared_moe(
        num_experts,
        top_k,
        size,
        shared_width,
        RouterCorrection::Buffer,
    ))
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{AttentionWindow, FeedForward};
    use crate::model_config::parse;

    #[test]
    fn the_defaults_slide_three_layers_in_four_and_start_dense() {
        let model = parse(r#"{"model_type": "exaone_moe"}"#).unwrap();
        assert_eq!(model.layers.len(), 32);
        let windows: Vec<_> = model.layers[..4]
            .iter()
            .map(|l| l.mixer.attention().unwrap().window)
            .collect();
        assert_eq!(
            windows,
            [
                AttentionWindow::Sliding(4096),
                AttentionWindow::Sliding(4096),
                AttentionWindow::Sliding(4096),
                AttentionWindow::Full
            ]
        );
        assert!(matches!(model.layers[0].ffn, FeedForward::Dense(_)));
        assert!(model.layers[1..].iter().all(|l| matches!(
            l.ffn,
            FeedForward::MixtureOfExperts(m) if m.top_k == 8 && m.shared.is_some()
        )));
    }

    #[test]
    fn configs_transformers_cannot_build_are_refused_with_the_field() {
        for (extra, field) in [
            (
                r#""sliding_window_pattern": "LLLG""#,
                "sliding_window_pattern",
            ),
            (r#""sliding_window_pattern": 0"#, "sliding_window_pattern"),
            (r#""sliding_window": null"#, "sliding_window"),
            (r#""mlp_layer_types": ["dense", "moe"]"#, "mlp_layer_types"),
            (r#""num_experts_per_tok": 65"#, "num_experts_per_tok"),
        ] {
            let config =
                format!(r#"{{"model_type": "exaone_moe", "num_hidden_layers": 2, {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
