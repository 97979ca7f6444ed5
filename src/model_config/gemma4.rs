//! Gemma 4 (`gemma4_text`, and the `gemma4` composite): per-layer head widths, K=V and
//! KV-shared layers, double-wide MLPs, per-layer input embeddings, and the MoE block beside
//! the dense MLP, as `transformers` 5.24's `Gemma4TextConfig` and `modeling_gemma4.py` build
//! them; the composite's vision tower (`Gemma4VisionModel` and `embed_vision`) counted apart.
//!
//! Gemma 4's audio tower (`audio_config`, `audio_tower`, `embed_audio`) is neither the
//! language model nor the vision tower: it is not counted.

use serde_json::{Map, Value};

use super::{as_u64, default_seq_len, invalid, layer_count, layer_types, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, KeyValue, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, PerLayerInput, QkNorm, RouterCorrection, StandardAttention,
    VisionEncoder, VisionTower,
};

/// `Gemma4TextConfig`'s default sliding/full pattern: every sixth layer is full attention.
const SLIDING_WINDOW_PATTERN: u64 = 6;

/// The `gemma4` composite: its `text_config` (the `Gemma4TextConfig` defaults where absent)
/// and its vision tower where it has a `vision_config` (optional in `Gemma4Config`).
pub(super) fn composite(object: &Map<String, Value>) -> Result<Model, ModelConfigError> {
    let config = Config { object };
    let empty = Map::new();
    let text = match object.get("text_config") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(text)) => text,
        Some(other) => {
            return Err(invalid(
                "text_config",
                &other.to_string(),
                "must be an object",
                "give the language model's config as an object, or remove it for the defaults",
            ))
        }
    };
    let mut text = text.clone();
    // The composite class's tie_word_embeddings (true by default) is the one the model reads.
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    text.insert("tie_word_embeddings".into(), Value::Bool(tie));
    let mut model = text_model(&Config { object: &text }, Family::Gemma4)?;
    model.vision = match object.get("vision_config") {
        None | Some(Value::Null) => None,
        Some(Value::Object(vision)) => {
            Some(vision_tower(&Config { object: vision }, model.hidden_size)?)
        }
        Some(other) => {
            return Err(invalid(
                "vision_config",
                &other.to_string(),
                "must be an object",
                "give the vision tower's config as an object, or remove it",
            ))
        }
    };
    Ok(model)
}

/// `Gemma4VisionConfig`'s defaults, and the tower `Gemma4VisionModel` builds.
fn vision_tower(config: &Config, text_hidden_size: u64) -> Result<VisionTower, ModelConfigError> {
    let hidden_size = config.positive_or(&["hidden_size"], 768)?;
    let num_heads = config.positive_or(&["num_attention_heads"], 12)?;
    Ok(VisionTower::Gemma4 {
        encoder: VisionEncoder {
            hidden_size,
            intermediate_size: config.positive_or(&["intermediate_size"], 3072)?,
            layers: layer_count(config, &["num_hidden_layers"], 16)?,
            patch_size: config.positive_or(&["patch_size"], 16)?,
            // The patch projection reads 3 · patch_size² values whatever num_channels says.
            num_channels: 3,
        },
        num_heads,
        num_kv_heads: config.positive_or(&["num_key_value_heads"], 12)?,
        head_dim: config.positive_or(&["head_dim"], 64)?,
        position_embedding_size: config.positive_or(&["position_embedding_size"], 10 * 1024)?,
        text_hidden_size,
    })
}

/// The language model of a `gemma4_text` config (or a `gemma4` composite's `text_config`).
pub(super) fn text_model(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2304)?;
    let vocab = config.positive_or(&["vocab_size"], 262_144)?;
    let intermediate = config.positive_or(&["intermediate_size"], 9216)?;
    let layers = layer_count(config, &["num_hidden_layers"], 30)?;
    let heads = config.positive_or(&["num_attention_heads"], 8)?;
    let kv_heads = config.positive_or(&["num_key_value_heads"], 4)?;
    let head_dim = config.positive_or(&["head_dim"], 256)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    let k_eq_v = config.bool_or(&["attention_k_eq_v"], false)?;
    let window = config.positive_or(&["sliding_window"], 512)?;

    // layer_types, or every sixth layer full; the last layer is always full attention.
    let mut sliding = match layer_types(config, layers)? {
        Some(kinds) => kinds,
        None => (0..layers)
            .map(|i| (i + 1) % SLIDING_WINDOW_PATTERN != 0)
            .collect(),
    };
    if let Some(last) = sliding.last_mut() {
        *last = false;
    }

    let overrides = full_layer_overrides(config, &sliding, k_eq_v)?;
    let shared = kv_shared_layers(config, layers, &sliding)?;

    let double_wide = config.bool_or(&["use_double_wide_mlp"], false)?;
    let moe = moe_block(config)?;
    let ple_width = config.u64_or(&["hidden_size_per_layer_input"], 256)?;
    let per_layer_input = if ple_width > 0 {
        Some(PerLayerInput {
            vocab_size: config.positive_or(&["vocab_size_per_layer_input"], 262_144)?,
            width: ple_width,
        })
    } else {
        None
    };

    let mut built = Vec::with_capacity(sliding.len());
    for (index, &is_sliding) in sliding.iter().enumerate() {
        let (layer_head_dim, layer_kv_heads) = overrides
            .get(index)
            .copied()
            .flatten()
            .map_or((head_dim, kv_heads), |(h, kv)| {
                (h.unwrap_or(head_dim), kv.unwrap_or(kv_heads))
            });
        if layer_kv_heads == 0 || heads % layer_kv_heads != 0 {
            return Err(invalid(
                "num_global_key_value_heads",
                &layer_kv_heads.to_string(),
                &format!("must divide num_attention_heads = {heads} (layer {index})"),
                "use a divisor of the attention head count",
            ));
        }
        let is_shared = shared.get(index).copied().unwrap_or(false);
        let key_value = if is_shared {
            KeyValue::Shared
        } else if k_eq_v && !is_sliding {
            KeyValue::KeyIsValue
        } else {
            KeyValue::Own
        };
        let attention = AttentionLayer {
            window: if is_sliding {
                AttentionWindow::Sliding(window)
            } else {
                AttentionWindow::Full
            },
            key_value,
            ..AttentionLayer::full(Attention::Standard(StandardAttention {
                num_heads: heads,
                num_kv_heads: layer_kv_heads,
                head_dim: layer_head_dim,
                v_head_dim: layer_head_dim,
                qkv_bias: bias,
                output_bias: bias,
                // q_norm and k_norm of head_dim (v_norm has no weight); a KV-shared layer
                // has only q_norm.
                qk_norm: QkNorm::PerHead,
            }))
        };
        let mlp = Mlp {
            gated: true,
            intermediate_size: if double_wide && is_shared {
                2 * intermediate
            } else {
                intermediate
            },
            bias: false,
        };
        // Input, post-attention, pre- and post-feed-forward norms; the MoE block adds
        // post_feedforward_layernorm_1 and _2 and pre_feedforward_layernorm_2.
        let (ffn, norms) = match moe {
            Some(moe) => (
                FeedForward::MixtureOfExperts(MixtureOfExperts {
                    shared: Some(mlp),
                    ..moe
                }),
                7,
            ),
            None => (FeedForward::Dense(mlp), 4),
        };
        built.push(Layer {
            mixer: Mixer::Attention(attention),
            ffn,
            norms,
        });
    }
    Ok(Model {
        per_layer_input,
        ..Model::decoder(
            family,
            d,
            vocab,
            tie,
            built,
            default_seq_len(config, &["max_position_embeddings"], 131_072)?,
        )
    })
}

/// (head_dim, num_key_value_heads) overrides of each layer, `None` where it has none.
type Overrides = Vec<Option<(Option<u64>, Option<u64>)>>;

/// The full-attention layers' head width and KV heads: a saved config's `per_layer_config`
/// (keyed by layer index), else `global_head_dim` (512 by default) and, with
/// `attention_k_eq_v`, `num_global_key_value_heads`.
fn full_layer_overrides(
    config: &Config,
    sliding: &[bool],
    k_eq_v: bool,
) -> Result<Overrides, ModelConfigError> {
    match config.object.get("per_layer_config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(by_layer)) => {
            let mut overrides: Overrides = vec![None; sliding.len()];
            for (key, value) in by_layer {
                let index = key
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i < sliding.len())
                    .ok_or_else(|| {
                        invalid(
                            "per_layer_config",
                            key,
                            "has a key that is not a layer index",
                            "key each override by a layer index below num_hidden_layers",
                        )
                    })?;
                let Value::Object(fields) = value else {
                    return Err(invalid(
                        "per_layer_config",
                        &value.to_string(),
                        "must map each layer index to an object of overrides",
                        "write e.g. {\"5\": {\"head_dim\": 512}}",
                    ));
                };
                let field = |name: &'static str| -> Result<Option<u64>, ModelConfigError> {
                    fields.get(name).map(|v| as_u64(name, v)).transpose()
                };
                if let Some(slot) = overrides.get_mut(index) {
                    *slot = Some((field("head_dim")?, field("num_key_value_heads")?));
                }
            }
            return Ok(overrides);
        }
        Some(other) => {
            return Err(invalid(
                "per_layer_config",
                &other.to_string(),
                "must be an object keyed by layer index",
                "write e.g. {\"5\": {\"head_dim\": 512}}, or remove it",
            ))
        }
    }
    let global_head_dim = config.positive_or(&["global_head_dim"], 512)?;
    let global_kv_heads = if k_eq_v {
        config.optional_u64(&["num_global_key_value_heads"])?
    } else {
        None
    };
    Ok(sliding
        .iter()
        .map(|&is_sliding| (!is_sliding).then_some((Some(global_head_dim), global_kv_heads)))
        .collect())
}

/// Which layers reuse an earlier layer's keys and values: the last `num_kv_shared_layers`.
fn kv_shared_layers(
    config: &Config,
    layers: u64,
    sliding: &[bool],
) -> Result<Vec<bool>, ModelConfigError> {
    let shared = config.u64_or(&["num_kv_shared_layers"], 0)?;
    if shared > layers {
        return Err(invalid(
            "num_kv_shared_layers",
            &shared.to_string(),
            &format!("must be at most num_hidden_layers = {layers}"),
            "set it to the number of final layers that reuse earlier keys and values",
        ));
    }
    let first_shared = (layers - shared) as usize;
    // Every kind of layer that reuses keys and values needs an earlier layer of its kind
    // that makes them (transformers' kv_sharing_modes refuses the config otherwise).
    if shared < layers {
        let producers = sliding.get(..first_shared).unwrap_or(&[]);
        let consumers = sliding.get(first_shared..).unwrap_or(&[]);
        if consumers.iter().any(|kind| !producers.contains(kind)) {
            return Err(invalid(
                "num_kv_shared_layers",
                &shared.to_string(),
                "leaves a shared layer kind (sliding or full) with no earlier layer of its kind",
                "make the unshared layers include each attention kind the shared layers use",
            ));
        }
    }
    Ok((0..sliding.len()).map(|i| i >= first_shared).collect())
}

/// The MoE block every layer has beside its dense MLP when `enable_moe_block` is set.
fn moe_block(config: &Config) -> Result<Option<MixtureOfExperts>, ModelConfigError> {
    if !config.bool_or(&["enable_moe_block"], false)? {
        return Ok(None);
    }
    let required = |key: &'static str| -> Result<u64, ModelConfigError> {
        match config.optional_u64(&[key])? {
            Some(0) | None => Err(invalid(
                key,
                "absent",
                "is required when enable_moe_block is true",
                "give it a positive value, or set enable_moe_block to false",
            )),
            Some(value) => Ok(value),
        }
    };
    let num_experts = required("num_experts")?;
    let top_k = required("top_k_experts")?;
    if top_k > num_experts {
        return Err(invalid(
            "top_k_experts",
            &top_k.to_string(),
            &format!("must be at most num_experts = {num_experts}"),
            "route each token to at most every expert",
        ));
    }
    let expert_width = required("moe_intermediate_size")?;
    // The dense MLP, filled in per layer, runs beside the experts like a shared expert.
    let placeholder = Mlp {
        gated: true,
        intermediate_size: 0,
        bias: false,
    };
    Ok(Some(MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: expert_width,
            bias: false,
        },
        shared: Some(placeholder),
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::None,
        router_scales: true,
        latent: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layers_are_five_sliding_then_one_full() {
        let model = super::super::parse(r#"{"model_type": "gemma4_text"}"#).unwrap();
        let full: Vec<usize> = model
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                matches!(l.mixer, Mixer::Attention(a) if a.window == AttentionWindow::Full)
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(full, vec![5, 11, 17, 23, 29]);
    }

    #[test]
    fn a_shared_kind_without_a_producer_is_refused_by_name() {
        let err = super::super::parse(
            r#"{"model_type": "gemma4_text", "num_hidden_layers": 2,
                "layer_types": ["full_attention", "sliding_attention"], "num_kv_shared_layers": 1}"#,
        );
        // The last layer is forced to full attention, so layer 1 (full) has layer 0 (full).
        assert!(err.is_ok());
        let err = super::super::parse(
            r#"{"model_type": "gemma4_text", "num_hidden_layers": 3,
                "layer_types": ["full_attention", "sliding_attention", "full_attention"],
                "num_kv_shared_layers": 2}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("num_kv_shared_layers"), "{err}");
    }

    #[test]
    fn moe_without_its_sizes_is_refused_by_name() {
        let err = super::super::parse(
            r#"{"model_type": "gemma4_text", "enable_moe_block": true, "num_experts": 8}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("top_k_experts"), "{err}");
    }

    #[test]
    fn head_dim_has_a_fixed_default() {
        // head_dim defaults to 256 whatever hidden_size / num_attention_heads is.
        let model =
            super::super::parse(r#"{"model_type": "gemma4_text", "hidden_size": 64}"#).unwrap();
        let first = model.first_attention().unwrap();
        assert_eq!(first.attention.qk_head_dim(), 256);
    }
}
