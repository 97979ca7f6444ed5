//! OLMo Hybrid (`model_type: "olmo_hybrid"`), as `transformers`' `OlmoHybridConfig` and
//! `OlmoHybridForCausalLM` build it.
//!
//! - Layers from `layer_types` (`linear_attention` or `full_attention`), else every fourth
//!   layer full attention (the last one when that gives none); the class wants at least one
//!   of each kind.
//! - Attention layers are OLMo 3's: q/k/v/o with `attention_bias`, RMSNorms over all query
//!   and all key channels, the post-attention and post-feed-forward norms only. `head_dim`
//!   is no field of the class (the file's value, else `hidden_size // num_attention_heads`).
//! - Linear-attention layers hold Gated DeltaNet with separate q/k/v/a/b/g projections (the
//!   same shapes as Qwen3-Next's fused ones), behind the usual pre-norms. Its heads default to
//!   the attention heads, the key head width to `int(0.75 · hidden_size / key heads)` and the
//!   value head width to twice that.
//! - A gated SiLU MLP on every layer; an untied head by default. Rotary embeddings only where
//!   `rope_parameters` has a `rope_theta` (the released checkpoints have none).

use serde_json::Value;

use super::cohere2::head_dim;
use super::hybrid::layer_kinds;
use super::{default_seq_len, invalid, key_value_heads, layer_count, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, DeltaDecay, Family, FeedForward, GatedDeltaNet, Layer, Mixer, Mlp,
    Model, QkNorm, StandardAttention,
};

/// Builds the model `OlmoHybridForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 3840)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let heads = config.positive_or(&["num_attention_heads"], 30)?;
    let kv_heads = key_value_heads(config, heads, None, true)?;
    let head_dim = head_dim(config, d, heads)?;
    let vocab = config.positive_or(&["vocab_size"], 100352)?;
    let intermediate = config.positive_or(&["intermediate_size"], 11008)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let gdn = gated_delta_net(config, d, heads)?;
    let linear = linear_layers(config, layers)?;
    let mut attention = AttentionLayer::full(Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm: QkNorm::AllHeads,
    }));
    attention.rope = rotates(config);
    let mlp = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: false,
    };
    let layers = linear
        .into_iter()
        .map(|linear| {
            let mixer = if linear {
                Mixer::GatedDeltaNet(gdn)
            } else {
                Mixer::Attention(attention)
            };
            Layer::new(mixer, FeedForward::Dense(mlp))
        })
        .collect();
    Ok(Model::decoder(
        Family::OlmoHybrid,
        d,
        vocab,
        tie,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 65536)?,
    ))
}

/// The Gated DeltaNet of the linear-attention layers, with `OlmoHybridConfig`'s derived
/// defaults for the fields left null or absent.
fn gated_delta_net(config: &Config, d: u64, heads: u64) -> Result<GatedDeltaNet, ModelConfigError> {
    let positive_or_null = |key: &'static str, default: u64| -> Result<u64, ModelConfigError> {
        match config.optional_u64(&[key])? {
            Some(0) => Err(invalid(
                key,
                "0",
                "must be at least 1",
                "remove it (or give null) to take the class's derived default",
            )),
            Some(value) => Ok(value),
            None => Ok(default),
        }
    };
    let num_key_heads = positive_or_null("linear_num_key_heads", heads)?;
    let num_value_heads = positive_or_null("linear_num_value_heads", heads)?;
    // int(0.75 * hidden_size / linear_num_key_heads)
    let derived_key_dim = (3 * d) / (4 * num_key_heads);
    let key_head_dim = match config.optional_u64(&["linear_key_head_dim"])? {
        None if derived_key_dim == 0 => {
            return Err(invalid(
                "linear_num_key_heads",
                &num_key_heads.to_string(),
                &format!(
                    "leaves int(0.75 * hidden_size / linear_num_key_heads) = 0 (hidden_size = {d})"
                ),
                "give linear_key_head_dim, or fewer key heads",
            ))
        }
        None => derived_key_dim,
        Some(_) => positive_or_null("linear_key_head_dim", derived_key_dim)?,
    };
    let value_head_dim = positive_or_null("linear_value_head_dim", 2 * key_head_dim)?;
    let gdn = GatedDeltaNet {
        num_key_heads,
        num_value_heads,
        key_head_dim,
        value_head_dim,
        conv_kernel: config.positive_or(&["linear_conv_kernel_dim"], 4)?,
        // Qwen3-Next's decay: one per value head and token.
        decay: DeltaDecay::PerHead,
    };
    if gdn.num_value_heads % gdn.num_key_heads != 0 {
        return Err(invalid(
            "linear_num_value_heads",
            &gdn.num_value_heads.to_string(),
            &format!(
                "must be a multiple of linear_num_key_heads = {}",
                gdn.num_key_heads
            ),
            "each key head serves a whole number of value heads",
        ));
    }
    Ok(gdn)
}

/// Which layers are linear attention: `layer_types`, else every fourth layer full (the
/// last one when that leaves none); at least one of each kind, as the class checks.
fn linear_layers(config: &Config, layers: u64) -> Result<Vec<bool>, ModelConfigError> {
    let kinds: Vec<bool> = match layer_kinds(
        config,
        "layer_types",
        layers,
        &["linear_attention", "full_attention"],
    )? {
        Some(kinds) => kinds
            .iter()
            .map(|kind| kind == "linear_attention")
            .collect(),
        None => {
            let mut kinds: Vec<bool> = (0..layers).map(|i| i % 4 != 3).collect();
            if kinds.iter().all(|linear| *linear) {
                if let Some(last) = kinds.last_mut() {
                    *last = false;
                }
            }
            kinds
        }
    };
    if !kinds.iter().any(|linear| *linear) {
        return Err(invalid(
            "layer_types",
            "no linear_attention layer",
            "must have at least one linear_attention layer (OlmoHybridConfig refuses it)",
            "make some layers \"linear_attention\"",
        ));
    }
    if kinds.iter().all(|linear| *linear) {
        return Err(invalid(
            "layer_types",
            "only linear_attention layers",
            "must have at least one attention layer (OlmoHybridConfig refuses it)",
            "make some layers \"full_attention\"",
        ));
    }
    Ok(kinds)
}

/// Whether the attention layers rotate: `OlmoHybridModel` builds its rotary embedding only
/// when `rope_parameters` has a `rope_theta` (the class fills 10000 unless the file says null).
fn rotates(config: &Config) -> bool {
    let theta_null = |object: &serde_json::Map<String, Value>| {
        matches!(object.get("rope_theta"), Some(Value::Null))
    };
    match config.object.get("rope_parameters") {
        Some(Value::Object(parameters)) => !theta_null(parameters),
        _ => !theta_null(config.object),
    }
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::Mixer;
    use crate::model_config::{parse, ModelConfigError};

    #[test]
    fn default_layers_and_derived_widths_follow_the_configuration_class() {
        let model = parse(r#"{"model_type": "olmo_hybrid", "num_hidden_layers": 3}"#).unwrap();
        let linear: Vec<bool> = model
            .layers
            .iter()
            .map(|layer| matches!(layer.mixer, Mixer::GatedDeltaNet(_)))
            .collect();
        // No fourth layer: the last one becomes attention.
        assert_eq!(linear, [true, true, false]);
        let Mixer::GatedDeltaNet(gdn) = model.layers[0].mixer else {
            panic!("not a Gated DeltaNet layer")
        };
        // int(0.75 * 3840 / 30) = 96, value heads twice as wide.
        assert_eq!((gdn.key_head_dim, gdn.value_head_dim), (96, 192));
        assert!(matches!(
            parse(
                r#"{"model_type": "olmo_hybrid", "num_hidden_layers": 2, "layer_types": ["full_attention", "full_attention"]}"#
            ),
            Err(ModelConfigError::Invalid {
                field: "layer_types",
                ..
            })
        ));
    }
}
