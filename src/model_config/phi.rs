//! Microsoft Phi-1, Phi-1.5 and Phi-2 (`model_type: "phi"`), as `transformers`' `PhiConfig`
//! and `PhiForCausalLM` build them.
//!
//! - One LayerNorm (weight and bias) per layer, read by the attention and the MLP in
//!   parallel; a final LayerNorm; an LM head with a bias (kept when the embeddings are tied).
//! - q/k/v and the output projection (`dense`) always have biases; `head_dim` is
//!   `getattr(config, "head_dim", hidden_size // num_attention_heads)` (no field of the class:
//!   a null one is refused); rotary embeddings on `partial_rotary_factor` of each head (0.5),
//!   which costs nothing. `qk_layernorm` adds LayerNorms (weight and bias) of
//!   `hidden_size // num_attention_heads` on queries and keys, shared by the heads.
//! - The MLP is `fc1`/`fc2` with biases (`gelu_new`), not gated.

use super::{default_seq_len, invalid, key_value_heads, layer_count, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, Mlp, Model, Norm, QkNorm,
    StandardAttention,
};

/// Builds the model `PhiForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2048)?;
    let layers = layer_count(config, &["num_hidden_layers"], 24)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, None, true)?;
    let vocab = config.positive_or(&["vocab_size"], 51200)?;
    let intermediate = config.positive_or(&["intermediate_size"], 8192)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let head_width = d / heads;
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
        None if config.is_null("head_dim") => return Err(invalid(
            "head_dim",
            "null",
            "reaches PhiAttention as None (PhiConfig has no head_dim field), which it cannot build",
            "remove it to take hidden_size / num_attention_heads",
        )),
        None if head_width == 0 => {
            return Err(invalid(
                "num_attention_heads",
                &heads.to_string(),
                &format!("is more than hidden_size = {d}: no width is left for a head"),
                "fix the head count or the width",
            ))
        }
        None => head_width,
    };
    // nn.LayerNorm(hidden_size // num_attention_heads) on queries and on keys: a weight and
    // a bias each, so twice that width of parameters for each.
    let qk_norm = if config.bool_or(&["qk_layernorm"], false)? {
        QkNorm::Widths {
            query: 2 * head_width,
            key: 2 * head_width,
        }
    } else {
        QkNorm::None
    };
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: true,
        output_bias: true,
        qk_norm,
    });
    let layer = Layer {
        norms: 1,
        ..Layer::new(
            Mixer::Attention(AttentionLayer::full(attention)),
            FeedForward::Dense(Mlp {
                gated: false,
                intermediate_size: intermediate,
                bias: true,
            }),
        )
    };
    Ok(Model {
        norm: Norm::LayerNorm { bias: true },
        lm_head_bias: true,
        ..Model::decoder(
            Family::Phi,
            d,
            vocab,
            tie,
            vec![layer; layers as usize],
            default_seq_len(config, &["max_position_embeddings"], 2048)?,
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Attention, FeedForward, Norm, QkNorm};
    use crate::model_config::parse;

    #[test]
    fn one_layernorm_per_layer_biases_everywhere_and_a_biased_head() {
        let model = parse(r#"{"model_type": "phi"}"#).unwrap();
        assert_eq!(model.norm, Norm::LayerNorm { bias: true });
        assert!(model.lm_head_bias && !model.tie_word_embeddings);
        assert!(model.layers.iter().all(|l| l.norms == 1));
        assert!(matches!(model.layers[0].ffn, FeedForward::Dense(m) if !m.gated && m.bias));
        let attention = model.first_attention().unwrap();
        assert!(matches!(
            attention.attention,
            Attention::Standard(a) if a.qkv_bias && a.output_bias && a.head_dim == 64
                && a.num_kv_heads == 32 && a.qk_norm == QkNorm::None
        ));
        let normed = parse(r#"{"model_type": "phi", "qk_layernorm": true}"#).unwrap();
        let attention = normed.first_attention().unwrap();
        assert!(matches!(
            attention.attention,
            Attention::Standard(a) if a.qk_norm == QkNorm::Widths { query: 128, key: 128 }
        ));
        for (extra, field) in [
            (r#""head_dim": null"#, "head_dim"),
            (r#""num_key_value_heads": 5"#, "num_key_value_heads"),
        ] {
            let config = format!(r#"{{"model_type": "phi", {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
