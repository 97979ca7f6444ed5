//! Qwen2-VL's and Qwen2.5-VL's composites (`qwen2_vl`, `qwen2_5_vl`) and their text types
//! (`qwen2_vl_text`, `qwen2_5_vl_text`): the language model is Qwen2's block (biased q/k/v,
//! an unbiased output projection, a gated MLP, RMSNorms; the multimodal M-RoPE has no
//! parameter and no matmul), and the vision tower and its patch merger are counted apart.
//!
//! As `transformers` 5.24's `Qwen2VLConfig` and `Qwen2_5_VLConfig` build them: the sub-config
//! specs name their classes, so a `text_config` is read as the composite's own text class
//! (its `model_type` is not consulted) and `vision_config` as its vision class, each with
//! that class's defaults for absent keys. The Hub's checkpoints are flat: without a
//! `text_config` (or with a null one) the text class's own fields are taken from the
//! composite's top level, and nothing else there. The text attention's head width is always
//! `hidden_size / num_attention_heads`: a `head_dim` key is read by nothing. The composite's
//! `tie_word_embeddings` (default false) ties the head, and so does a true
//! `tie_word_embeddings` inside `text_config` (the pre-v5 place, forwarded to the composite).

use serde_json::{Map, Value};

use super::{invalid, llama_like, Config, ModelConfigError};
use crate::accounting::model::{Family, Model, VisionEncoder, VisionTower};

/// The fields of `Qwen2VLTextConfig` (and `Qwen2_5_VLTextConfig`, the same) that a flat
/// composite config lends its text model, as the composite's `__post_init__` pops them.
const TEXT_FIELDS: &[&str] = &[
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "use_cache",
    "use_sliding_window",
    "sliding_window",
    "max_window_layers",
    "layer_types",
    "attention_dropout",
    "rope_parameters",
    "rope_scaling",
    "rope_theta",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
];

/// The composite family of a Qwen2-VL or Qwen2.5-VL `model_type`.
pub(super) fn composite_family(model_type: &str) -> Option<Family> {
    match model_type {
        "qwen2_vl" => Some(Family::Qwen2Vl),
        "qwen2_5_vl" => Some(Family::Qwen25Vl),
        _ => None,
    }
}

/// A `qwen2_vl_text` or `qwen2_5_vl_text` config: Qwen2's block with the text class's
/// defaults, its head width from `hidden_size / num_attention_heads` whatever `head_dim` says.
pub(super) fn text_model(
    object: &Map<String, Value>,
    family: Family,
) -> Result<Model, ModelConfigError> {
    let mut object = object.clone();
    object.remove("head_dim");
    llama_like(&Config { object: &object }, family)
}

/// A `qwen2_vl` or `qwen2_5_vl` composite: its language model, with the vision tower.
pub(super) fn composite(
    object: &Map<String, Value>,
    family: Family,
) -> Result<Model, ModelConfigError> {
    let text_family = if family == Family::Qwen25Vl {
        Family::Qwen25VlText
    } else {
        Family::Qwen2VlText
    };
    let mut text = match object.get("text_config") {
        // The flat Hub format: the text class's fields from the top level.
        None | Some(Value::Null) => TEXT_FIELDS
            .iter()
            .filter_map(|key| object.get(*key).map(|v| ((*key).to_string(), v.clone())))
            .collect(),
        Some(_) => super::qwen3_vl::sub_config(object, "text_config")?,
    };
    let text_tie =
        match text.get("tie_word_embeddings") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(tie)) => *tie,
            Some(other) => return Err(invalid(
                "text_config.tie_word_embeddings",
                &other.to_string(),
                "must be true or false",
                "write a JSON boolean, or remove it (the composite's tie_word_embeddings decides)",
            )),
        };
    let tie = Config { object }.bool_or(&["tie_word_embeddings"], false)? || text_tie;
    text.insert(
        "model_type".into(),
        Value::String(text_family.model_type().into()),
    );
    text.insert("tie_word_embeddings".into(), Value::Bool(tie));
    let mut model = text_model(&text, text_family)?;
    model.family = family;
    let vision = super::qwen3_vl::sub_config(object, "vision_config")?;
    model.vision = Some(vision_tower(family, &vision)?);
    Ok(model)
}

/// A vision field by any of its names (the vision class's attribute_map), with the class
/// default; null is refused, as the strict class refuses it.
fn field(
    vision: &Map<String, Value>,
    keys: &[&'static str],
    default: u64,
) -> Result<u64, ModelConfigError> {
    for key in keys {
        match vision.get(*key) {
            None => continue,
            Some(Value::Null) => {
                return Err(invalid(
                    key,
                    "null",
                    "cannot be null in a Qwen2-VL or Qwen2.5-VL vision_config",
                    "remove the key to take the default, or give a value",
                ))
            }
            Some(value) => return super::multimodal::vision_size(key, value),
        }
    }
    Ok(default)
}

/// `Qwen2VLVisionConfig`'s and `Qwen2_5_VLVisionConfig`'s defaults.
fn vision_tower(
    family: Family,
    vision: &Map<String, Value>,
) -> Result<VisionTower, ModelConfigError> {
    let layers = field(vision, &["depth", "num_hidden_layers"], 32)?;
    let patch_size = field(vision, &["patch_size"], 14)?;
    let num_channels = field(vision, &["in_channels"], 3)?;
    let temporal_patch_size = field(vision, &["temporal_patch_size"], 2)?;
    let spatial_merge_size = field(vision, &["spatial_merge_size"], 2)?;
    if family == Family::Qwen25Vl {
        return Ok(VisionTower::Qwen25Vl {
            encoder: VisionEncoder {
                hidden_size: field(vision, &["hidden_size"], 3584)?,
                intermediate_size: field(vision, &["intermediate_size"], 3420)?,
                layers,
                patch_size,
                num_channels,
            },
            temporal_patch_size,
            spatial_merge_size,
            out_hidden_size: field(vision, &["out_hidden_size"], 3584)?,
        });
    }
    // Qwen2-VL: the blocks are embed_dim wide with an MLP of embed_dim · mlp_ratio; its
    // hidden_size is the merger's output width.
    let embed_dim = field(vision, &["embed_dim"], 1280)?;
    let mlp_ratio = field(vision, &["mlp_ratio"], 4)?;
    let intermediate_size = embed_dim.checked_mul(mlp_ratio).ok_or_else(|| {
        invalid(
            "mlp_ratio",
            &mlp_ratio.to_string(),
            "makes embed_dim · mlp_ratio overflow",
            "give the vision_config's real mlp_ratio",
        )
    })?;
    Ok(VisionTower::Qwen2Vl {
        encoder: VisionEncoder {
            hidden_size: embed_dim,
            intermediate_size,
            layers,
            patch_size,
            num_channels,
        },
        temporal_patch_size,
        spatial_merge_size,
        out_hidden_size: field(vision, &["hidden_size"], 3584)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Family, VisionTower};
    use crate::model_config::parse;

    /// A flat config lends the text model only the text class's fields: `head_dim` and
    /// `attention_bias` at the top level are read by nothing.
    #[test]
    fn a_flat_config_lends_only_the_text_fields() {
        let model = parse(
            r#"{"model_type": "qwen2_vl", "hidden_size": 64, "num_attention_heads": 4,
                "num_key_value_heads": 2, "num_hidden_layers": 2, "head_dim": 8,
                "vocab_size": 128, "intermediate_size": 96}"#,
        )
        .unwrap();
        assert_eq!(model.family, Family::Qwen2Vl);
        assert_eq!(model.hidden_size, 64);
        let attention = model.layers[0].mixer.attention().unwrap();
        let crate::accounting::model::Attention::Standard(standard) = attention.attention else {
            panic!("standard attention")
        };
        assert_eq!(standard.head_dim, 16);
        assert!(standard.qkv_bias && !standard.output_bias);
        assert!(!model.tie_word_embeddings);
    }

    /// A nested text_config's own keys win over the top level's, and its true
    /// tie_word_embeddings ties the head (the composite's default is false).
    #[test]
    fn a_text_config_tie_is_forwarded_to_the_composite() {
        let model = parse(
            r#"{"model_type": "qwen2_5_vl", "hidden_size": 32,
                "text_config": {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 1,
                "tie_word_embeddings": true}}"#,
        )
        .unwrap();
        assert_eq!((model.hidden_size, model.tie_word_embeddings), (64, true));
        assert!(matches!(model.vision, Some(VisionTower::Qwen25Vl { .. })));
    }

    #[test]
    fn malformed_fields_are_refused_by_name() {
        for (json, field) in [
            (
                r#"{"model_type": "qwen2_vl", "vision_config": {"depth": null}}"#,
                "depth",
            ),
            (
                r#"{"model_type": "qwen2_vl", "vision_config": {"mlp_ratio": 0}}"#,
                "mlp_ratio",
            ),
            (
                r#"{"model_type": "qwen2_5_vl", "vision_config": "big"}"#,
                "vision_config",
            ),
            (
                r#"{"model_type": "qwen2_5_vl", "text_config": {"tie_word_embeddings": "yes"}}"#,
                "tie_word_embeddings",
            ),
            (
                r#"{"model_type": "qwen2_vl_text", "hidden_size": 66, "num_attention_heads": 4}"#,
                "num_attention_heads",
            ),
        ] {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(field), "{json}: {error}");
        }
    }
}
