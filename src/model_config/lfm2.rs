//! Liquid LFM2 (`model_type: "lfm2"`), as `transformers`' `Lfm2Config` and `Lfm2ForCausalLM`
//! build it.
//!
//! - Layers are `conv` (a gated short convolution, [`ShortConv`]) or `full_attention` from
//!   `layer_types`; without it, the layers listed in `full_attn_idxs` are attention and the
//!   rest `conv` (default: every layer attention).
//! - Attention: bias-free q/k/v/out projections, `head_dim` where the file gives one, else
//!   `hidden_size / num_attention_heads`, RMSNorms of `head_dim` on queries and keys, rotary.
//! - Every layer has a bias-free SwiGLU MLP whose width `transformers` derives from
//!   `intermediate_size` (alias `block_ff_dim`, which wins): with `block_auto_adjust_ff_dim`
//!   (default) `⌊2·I/3⌋`, times `block_ffn_dim_multiplier` (truncated), rounded up to a
//!   multiple of `block_multiple_of`.
//! - Two RMSNorms a layer (`operator_norm`, `ffn_norm`) and a final one (`embedding_norm`,
//!   applied after the layers); the head ties with `tie_word_embeddings` (alias
//!   `tie_embedding`, which wins; default true).

use serde_json::Value;

use super::granitemoehybrid::attention_head_dim;
use super::hybrid::layer_kinds;
use super::{
    default_seq_len, invalid, key_value_heads, layer_count, null_refused, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, Mlp, Model, QkNorm, ShortConv,
    StandardAttention,
};

/// Builds the model `Lfm2ForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2560)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let vocab = config.positive_or(&["vocab_size"], 65536)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, Some(8), false)?;
    let head_dim = attention_head_dim(config, d, heads)?;
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
    let attention_layers: Vec<bool> =
        match layer_kinds(config, "layer_types", layers, &["full_attention", "conv"])? {
            Some(kinds) => kinds.iter().map(|k| k == "full_attention").collect(),
            None => match config.object.get("full_attn_idxs") {
                None | Some(Value::Null) => vec![true; layers as usize],
                Some(_) => {
                    let indices = config.u64_list("full_attn_idxs")?;
                    if let Some(bad) = indices.iter().find(|i| **i >= layers) {
                        return Err(invalid(
                            "full_attn_idxs",
                            &bad.to_string(),
                            &format!(
                                "names a layer past the last one (num_hidden_layers = {layers})"
                            ),
                            "list layer indices from 0 to num_hidden_layers - 1",
                        ));
                    }
                    (0..layers).map(|i| indices.contains(&i)).collect()
                }
            },
        };
    let mlp = FeedForward::Dense(Mlp {
        gated: true,
        intermediate_size: mlp_width(config)?,
        bias: false,
    });
    let layers = attention_layers
        .iter()
        .map(|attention_layer| {
            let mixer = if *attention_layer {
                Mixer::Attention(attention)
            } else {
                Mixer::ShortConv(conv)
            };
            Layer::new(mixer, mlp)
        })
        .collect();
    Ok(Model::decoder(
        Family::Lfm2,
        d,
        vocab,
        config.bool_or(&["tie_embedding", "tie_word_embeddings"], true)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 128_000)?,
    ))
}

/// `Lfm2MLP`'s width from `intermediate_size` (or `block_ff_dim`) and the `block_*` keys.
fn mlp_width(config: &Config) -> Result<u64, ModelConfigError> {
    let mut width = config.positive_or(&["block_ff_dim", "intermediate_size"], 12288)?;
    if !config.bool_or(&["block_auto_adjust_ff_dim"], true)? {
        return Ok(width);
    }
    // int(2 * I / 3): the float quotient of two integers truncates as the integer one does.
    width = 2 * width / 3;
    let multiplier = match config.object.get("block_ffn_dim_multiplier") {
        None => 1.0,
        Some(Value::Null) => return Err(null_refused("block_ffn_dim_multiplier")),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| *f > 0.0 && f.is_finite())
            .ok_or_else(|| {
                invalid(
                    "block_ffn_dim_multiplier",
                    &n.to_string(),
                    "must be a positive number",
                    "remove it to take 1.0",
                )
            })?,
        Some(other) => {
            return Err(invalid(
                "block_ffn_dim_multiplier",
                &other.to_string(),
                "must be a number",
                "remove it to take 1.0",
            ))
        }
    };
    // int(multiplier * I), in floating point as Python computes it.
    width = (multiplier * width as f64) as u64;
    let multiple = config.positive_or(&["block_multiple_of"], 256)?;
    let rounded = width.div_ceil(multiple).checked_mul(multiple);
    match rounded {
        Some(0) | None => Err(invalid(
            "block_ffn_dim_multiplier",
            &format!("{multiplier}"),
            "leaves the MLP without a width that fits",
            "use the model's real multiplier (1.0)",
        )),
        Some(width) => Ok(width),
    }
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{FeedForward, Mixer};
    use crate::model_config::{parse, ModelConfigError};

    fn refused(json: &str) -> (&'static str, String) {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, problem, .. }) => (field, problem),
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    fn mlp_width(json: &str) -> u64 {
        match parse(json).unwrap().layers[0].ffn {
            FeedForward::Dense(mlp) => mlp.intermediate_size,
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_mlp_width_is_adjusted_as_lfm2_mlp_does() {
        // int(2 * 12288 / 3) = 8192, a multiple of 256.
        assert_eq!(mlp_width(r#"{"model_type": "lfm2"}"#), 8192);
        // block_ff_dim wins: int(2 * 1000 / 3) = 666, int(1.5 * 666) = 999, up to 1024.
        assert_eq!(
            mlp_width(
                r#"{"model_type": "lfm2", "intermediate_size": 12288, "block_ff_dim": 1000,
                    "block_ffn_dim_multiplier": 1.5}"#
            ),
            1024
        );
        assert_eq!(
            mlp_width(
                r#"{"model_type": "lfm2", "intermediate_size": 1000, "block_auto_adjust_ff_dim": false}"#
            ),
            1000
        );
    }

    #[test]
    fn layer_kinds_come_from_layer_types_or_full_attn_idxs() {
        let kinds = |json: &str| -> Vec<bool> {
            parse(json)
                .unwrap()
                .layers
                .iter()
                .map(|l| matches!(l.mixer, Mixer::Attention(_)))
                .collect()
        };
        assert_eq!(
            kinds(r#"{"model_type": "lfm2", "num_hidden_layers": 3, "full_attn_idxs": [1]}"#),
            [false, true, false]
        );
        assert_eq!(
            kinds(
                r#"{"model_type": "lfm2", "num_hidden_layers": 3, "full_attn_idxs": [1],
                    "layer_types": ["full_attention", "conv", "conv"]}"#
            ),
            [true, false, false]
        );
        assert_eq!(
            kinds(r#"{"model_type": "lfm2", "num_hidden_layers": 2}"#),
            [true, true]
        );
        let (field, _) = refused(
            r#"{"model_type": "lfm2", "num_hidden_layers": 2, "layer_types": ["conv", "mamba2"]}"#,
        );
        assert_eq!(field, "layer_types");
        let (field, _) =
            refused(r#"{"model_type": "lfm2", "num_hidden_layers": 2, "full_attn_idxs": [2]}"#);
        assert_eq!(field, "full_attn_idxs");
        let (field, _) = refused(r#"{"model_type": "lfm2", "block_ffn_dim_multiplier": null}"#);
        assert_eq!(field, "block_ffn_dim_multiplier");
    }
}
