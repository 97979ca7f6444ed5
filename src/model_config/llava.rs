//! LLaVA's composites (`llava`, `llava_onevision`): the language model in `text_config`, and
//! the CLIP or SigLIP vision tower and the two-layer projector (and LLaVA-OneVision's
//! `image_newline` vector), counted apart.
//!
//! As `transformers` 5.24's `LlavaConfig` builds it: `text_config` is read by its own
//! `model_type` (`llama` when it names none) and built as that type's base model under the
//! composite's unbiased head; the head is tied by the composite's `tie_word_embeddings`
//! (default false) or by the text config's own (its class's default included), which the
//! composite forwards. `vision_config` is read by its `model_type` (`clip_vision_model` when
//! it names none); an absent one is CLIP with LLaVA-1.5's sizes (1024 wide, 24 layers of 16
//! heads, 336-pixel images in 14-pixel patches), a given one takes its class's own defaults.
//! A vision type other than CLIP's or SigLIP's is not counted, and the report says so.
//!
//! `LlavaOnevisionConfig` is the same but for its defaults: a `qwen2` text model, a SigLIP
//! tower (an absent one 1152 wide, 26 layers of 16 heads, 384-pixel images in 14-pixel
//! patches, no pooling head), and the model's `image_newline` (one text-width vector).

use serde_json::{Map, Value};

use super::{from_value, invalid, Config, ModelConfigError};
use crate::accounting::model::{Family, Model, VisionEncoder, VisionTower};

/// The family of a LLaVA composite's `model_type`.
pub(super) fn composite_family(model_type: &str) -> Option<Family> {
    match model_type {
        "llava" => Some(Family::Llava),
        "llava_onevision" => Some(Family::LlavaOnevision),
        _ => None,
    }
}

/// A `llava` composite: its language model, with the vision tower and projector.
pub(super) fn composite(
    object: &Map<String, Value>,
    composite: Family,
) -> Result<Model, ModelConfigError> {
    let onevision = composite == Family::LlavaOnevision;
    let mut text = super::qwen3_vl::sub_config(object, "text_config")?;
    let family = super::internvl::text_family(&text, if onevision { "qwen2" } else { "llama" })?;
    text.insert(
        "model_type".into(),
        Value::String(family.model_type().into()),
    );
    let mut model = from_value(&Value::Object(text))?;
    let config = Config { object };
    model.tie_word_embeddings =
        config.bool_or(&["tie_word_embeddings"], false)? || model.tie_word_embeddings;
    model.lm_head_bias = false;
    model.family = composite;
    model.vision = Some(vision_tower(&config, onevision, model.hidden_size)?);
    Ok(model)
}

/// A vision field with the vision class's default; null is refused.
fn size(
    vision: &Map<String, Value>,
    key: &'static str,
    default: u64,
) -> Result<u64, ModelConfigError> {
    super::multimodal::non_null_vision_size(vision, key, default, "a LLaVA")
}

fn vision_tower(
    config: &Config,
    onevision: bool,
    text_hidden_size: u64,
) -> Result<VisionTower, ModelConfigError> {
    let given = !matches!(config.object.get("vision_config"), None | Some(Value::Null));
    let vision = super::qwen3_vl::sub_config(config.object, "vision_config")?;
    let kind = match vision.get("model_type") {
        None | Some(Value::Null) if onevision => "siglip_vision_model".to_string(),
        None | Some(Value::Null) => "clip_vision_model".to_string(),
        Some(Value::String(kind)) => kind.clone(),
        Some(other) => {
            return Err(invalid(
                "vision_config.model_type",
                &other.to_string(),
                "must be a string",
                "name the vision tower's type, e.g. \"clip_vision_model\"",
            ))
        }
    };
    let siglip = match kind.as_str() {
        "clip_vision_model" => false,
        "siglip_vision_model" => true,
        _ => return Ok(VisionTower::NotCounted),
    };
    // (hidden, intermediate, layers, heads, patch, image, pooling head): the composite's
    // init_kwargs for an absent vision_config, else CLIPVisionConfig's or
    // SiglipVisionConfig's own defaults.
    let (hidden, intermediate, layers, heads, patch, image, head) = match (given, onevision, siglip)
    {
        (false, false, _) => (1024, 4096, 24, 16, 14, 336, false),
        (false, true, _) => (1152, 4304, 26, 16, 14, 384, false),
        (true, _, false) => (768, 3072, 12, 12, 32, 224, false),
        (true, _, true) => (768, 3072, 12, 12, 16, 224, true),
    };
    let hidden_size = size(&vision, "hidden_size", hidden)?;
    let heads = size(&vision, "num_attention_heads", heads)?;
    if hidden_size % heads != 0 {
        return Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!("does not divide the vision hidden_size = {hidden_size} (the vision class refuses it)"),
            "use a head count that divides the vision tower's width",
        ));
    }
    let feature_layers = match config.object.get("vision_feature_layer") {
        Some(Value::Array(layers)) => layers.len() as u64,
        _ => 1,
    };
    let pooling_head = match vision.get("vision_use_head") {
        None => siglip && head,
        Some(Value::Bool(head)) => siglip && *head,
        Some(other) => {
            return Err(invalid(
                "vision_config.vision_use_head",
                &other.to_string(),
                "must be true or false",
                "write a JSON boolean",
            ))
        }
    };
    Ok(VisionTower::Llava {
        encoder: VisionEncoder {
            hidden_size,
            intermediate_size: size(&vision, "intermediate_size", intermediate)?,
            layers: size(&vision, "num_hidden_layers", layers)?,
            patch_size: size(&vision, "patch_size", patch)?,
            num_channels: size(&vision, "num_channels", 3)?,
        },
        image_size: size(&vision, "image_size", image)?,
        siglip,
        pooling_head,
        feature_layers,
        projector_bias: config.bool_or(&["multimodal_projector_bias"], true)?,
        image_newline: onevision,
        text_hidden_size,
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Family, VisionTower};
    use crate::model_config::parse;

    /// The text config's own tie (Gemma's class default, true) is forwarded to the
    /// composite, whose default is false.
    #[test]
    fn the_text_configs_tie_is_forwarded() {
        let model = parse(
            r#"{"model_type": "llava", "text_config": {"model_type": "gemma", "hidden_size": 64,
                "num_attention_heads": 4, "num_key_value_heads": 4, "num_hidden_layers": 1, "head_dim": 16}}"#,
        )
        .unwrap();
        assert_eq!(model.family, Family::Llava);
        assert!(model.tie_word_embeddings);
        let onevision = parse(r#"{"model_type": "llava_onevision"}"#).unwrap();
        assert_eq!(onevision.family, Family::LlavaOnevision);
        assert!(matches!(
            onevision.vision,
            Some(VisionTower::Llava {
                siglip: true,
                pooling_head: false,
                image_newline: true,
                ..
            })
        ));
        let untied = parse(r#"{"model_type": "llava"}"#).unwrap();
        assert!(!untied.tie_word_embeddings);
        assert!(matches!(untied.vision, Some(VisionTower::Llava { .. })));
    }

    #[test]
    fn another_vision_type_is_not_counted_and_bad_fields_are_refused() {
        let model = parse(r#"{"model_type": "llava", "vision_config": {"model_type": "pixtral"}}"#)
            .unwrap();
        assert_eq!(model.vision, Some(VisionTower::NotCounted));
        for (json, field) in [
            (
                r#"{"model_type": "llava", "text_config": {"model_type": "vicuna"}}"#,
                "text_config.model_type",
            ),
            (
                r#"{"model_type": "llava", "vision_config": {"hidden_size": 64}}"#,
                "num_attention_heads",
            ),
            (
                r#"{"model_type": "llava", "vision_config": {"patch_size": null}}"#,
                "patch_size",
            ),
            (
                r#"{"model_type": "llava", "multimodal_projector_bias": 1}"#,
                "multimodal_projector_bias",
            ),
        ] {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(field), "{json}: {error}");
        }
    }
}
