//! Cohere Command R7B and Command A (`model_type: "cohere2"`), as `transformers`'
//! `Cohere2Config` and `Cohere2ForCausalLM` build them.
//!
//! - One bias-free `Cohere2LayerNorm` per layer, read by attention and MLP in parallel; a
//!   gated SiLU MLP without biases; `attention_bias` on q, k, v and o; no q/k norms.
//! - `head_dim`: `__post_init__` sets `hidden_size // num_attention_heads` (floor division),
//!   then a `head_dim` the file gives replaces it (an extra attribute set after), so a given
//!   value wins and an explicit null reaches the attention as `None`, which it cannot build.
//! - Layer kinds from `layer_types`, else every `sliding_window_pattern`-th layer (4, a
//!   keyword the class pops) full and the others sliding. Sliding layers take
//!   `sliding_window` (4096) and apply RoPE; full layers are NoPE. With `sliding_window: null`
//!   no layer slides and none rotates.
//! - A head tied to the embedding by default (`tie_word_embeddings`, true).

use super::{
    default_seq_len, invalid, key_value_heads, layer_count, layer_types, null_refused, Config,
    Field, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, Layer, Mixer, Mlp, Model,
    Norm, QkNorm, StandardAttention,
};

/// Builds the model `Cohere2ForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 8192)?;
    let layers = layer_count(config, &["num_hidden_layers"], 40)?;
    let heads = config.positive_or(&["num_attention_heads"], 64)?;
    let kv_heads = key_value_heads(config, heads, None, true)?;
    let vocab = config.positive_or(&["vocab_size"], 256000)?;
    let intermediate = config.positive_or(&["intermediate_size"], 22528)?;
    let head_dim = head_dim(config, d, heads)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm: QkNorm::None,
    });
    let mlp = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: false,
    };
    let layers = windows(config, layers, 4)?
        .into_iter()
        .map(|window| Layer {
            mixer: Mixer::Attention(AttentionLayer {
                rope: window != AttentionWindow::Full,
                ..AttentionLayer::full(attention).with_window(window)
            }),
            ffn: FeedForward::Dense(mlp),
            norms: 1,
        })
        .collect();
    let mut model = Model::decoder(
        Family::Cohere2,
        d,
        vocab,
        tie,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 8192)?,
    );
    model.norm = Norm::LayerNorm { bias: false };
    Ok(model)
}

/// `head_dim` as the attention reads it: the file's value, else `hidden_size //
/// num_attention_heads`.
pub(super) fn head_dim(config: &Config, d: u64, heads: u64) -> Result<u64, ModelConfigError> {
    match config.field(&["head_dim"]) {
        (key, Field::Null) => Err(null_refused(key)),
        (_, Field::Absent) if d < heads => Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!(
                "is above hidden_size = {d}, which leaves hidden_size // num_attention_heads = 0"
            ),
            "fix the head count or the width, or give head_dim",
        )),
        (_, Field::Absent) => Ok(d / heads),
        (key, Field::Present(_)) => config.positive_or(&[key], 1),
    }
}

/// Each layer's window as `Cohere2Config` and `Cohere2Attention` decide it: `layer_types`
/// where given, else every `sliding_window_pattern`-th layer (`default_pattern`) full; a
/// sliding layer takes `sliding_window` (4096), and none slides with a null window.
fn windows(
    config: &Config,
    layers: u64,
    default_pattern: u64,
) -> Result<Vec<AttentionWindow>, ModelConfigError> {
    let window = sliding_window(config)?;
    let kinds = match layer_types(config, layers)? {
        Some(kinds) => kinds,
        None => {
            let pattern = pattern(config, "sliding_window_pattern", default_pattern)?;
            (0..layers).map(|i| (i + 1) % pattern != 0).collect()
        }
    };
    Ok(by_kind(kinds, window))
}

/// `sliding_window`: 4096 when absent, none for null; 0 refused (a zero window masks every
/// key of the sliding layers).
pub(super) fn sliding_window(config: &Config) -> Result<Option<u64>, ModelConfigError> {
    match config.field(&["sliding_window"]) {
        (_, Field::Absent) => Ok(Some(4096)),
        (_, Field::Null) => Ok(None),
        (key, Field::Present(value)) => match super::as_u64(key, value)? {
            0 => Err(invalid(
                key,
                "0",
                "must be at least 1 (a zero window masks every key of the sliding layers)",
                "give the sliding layers' window, or null for full attention everywhere",
            )),
            w => Ok(Some(w)),
        },
    }
}

/// A layer pattern the configuration class takes `%` with: a positive integer.
pub(super) fn pattern(
    config: &Config,
    key: &'static str,
    default: u64,
) -> Result<u64, ModelConfigError> {
    match config.object.get(key) {
        None => Ok(default),
        Some(value) => match value.as_u64() {
            Some(pattern) if pattern > 0 => Ok(pattern),
            _ => Err(invalid(
                key,
                &value.to_string(),
                "must be a positive integer when layer_types is not given (the configuration class computes the layer pattern with `%`)",
                "give layer_types, or an integer pattern such as 4",
            )),
        },
    }
}

/// Sliding layers (`true`) take `window`, when there is one; the others attend fully.
pub(super) fn by_kind(kinds: Vec<bool>, window: Option<u64>) -> Vec<AttentionWindow> {
    kinds
        .into_iter()
        .map(|sliding| match (sliding, window) {
            (true, Some(w)) => AttentionWindow::Sliding(w),
            _ => AttentionWindow::Full,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{AttentionWindow, Mixer};
    use crate::model_config::{parse, ModelConfigError};

    fn refused(json: &str) -> &'static str {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, .. }) => field,
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn full_layers_are_nope_and_a_null_window_leaves_no_layer_sliding_or_rotating() {
        let layers = |json: &str| -> Vec<(AttentionWindow, bool)> {
            parse(json)
                .unwrap()
                .layers
                .iter()
                .map(|layer| match layer.mixer {
                    Mixer::Attention(a) => (a.window, a.rope),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let sliding = (AttentionWindow::Sliding(4096), true);
        let full = (AttentionWindow::Full, false);
        assert_eq!(
            layers(r#"{"model_type": "cohere2", "num_hidden_layers": 4}"#),
            [sliding, sliding, sliding, full]
        );
        assert_eq!(
            layers(r#"{"model_type": "cohere2", "num_hidden_layers": 2, "sliding_window": null}"#),
            [full, full]
        );
        assert_eq!(
            refused(r#"{"model_type": "cohere2", "sliding_window_pattern": 0}"#),
            "sliding_window_pattern"
        );
        assert_eq!(
            refused(r#"{"model_type": "cohere2", "head_dim": null}"#),
            "head_dim"
        );
    }
}
