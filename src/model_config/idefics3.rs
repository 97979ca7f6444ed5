//! Idefics3's and SmolVLM's composites (`idefics3`, `smolvlm`): the language model in
//! `text_config`, and the SigLIP-style vision tower and the pixel-shuffle connector, counted
//! apart.
//!
//! As `transformers` 5.24's `Idefics3Config` and `SmolVLMConfig` (the same) build them:
//! `text_config` is read by its own `model_type` (`llama` when it names none) and built as
//! that type's base model under the composite's unbiased head; the composite's
//! `tie_word_embeddings` (default false) alone decides the tying. `vision_config` is the
//! composite's vision class, with its defaults (1152 wide, 12 layers of 16 heads, 224-pixel
//! images in 32-pixel patches).

use serde_json::{Map, Value};

use super::{from_value, invalid, Config, ModelConfigError};
use crate::accounting::model::{Family, Model, VisionEncoder, VisionTower};

/// The family of an Idefics3 or SmolVLM `model_type`.
pub(super) fn composite_family(model_type: &str) -> Option<Family> {
    match model_type {
        "idefics3" => Some(Family::Idefics3),
        "smolvlm" => Some(Family::SmolVlm),
        _ => None,
    }
}

/// An `idefics3` or `smolvlm` composite: its language model, with the vision tower.
pub(super) fn composite(
    object: &Map<String, Value>,
    composite: Family,
) -> Result<Model, ModelConfigError> {
    let mut text = super::qwen3_vl::sub_config(object, "text_config")?;
    let family = super::internvl::text_family(&text, "llama")?;
    text.insert(
        "model_type".into(),
        Value::String(family.model_type().into()),
    );
    let config = Config { object };
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    text.insert("tie_word_embeddings".into(), Value::Bool(tie));
    let mut model = from_value(&Value::Object(text))?;
    model.lm_head_bias = false;
    model.family = composite;
    let vision = super::qwen3_vl::sub_config(object, "vision_config")?;
    let size = |key: &'static str, default: u64| match vision.get(key) {
        None => Ok(default),
        Some(Value::Null) => Err(invalid(
            key,
            "null",
            "cannot be null in an Idefics3 or SmolVLM vision_config",
            "remove the key to take the default, or give a value",
        )),
        Some(value) => super::multimodal::vision_size(key, value),
    };
    let hidden_size = size("hidden_size", 1152)?;
    let heads = size("num_attention_heads", 16)?;
    if hidden_size % heads != 0 {
        return Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!(
                "does not divide the vision hidden_size = {hidden_size} (the attention refuses it)"
            ),
            "use a head count that divides the vision tower's width",
        ));
    }
    model.vision = Some(VisionTower::Idefics3 {
        encoder: VisionEncoder {
            hidden_size,
            intermediate_size: size("intermediate_size", 3072)?,
            layers: size("num_hidden_layers", 12)?,
            patch_size: size("patch_size", 32)?,
            num_channels: size("num_channels", 3)?,
        },
        image_size: size("image_size", 224)?,
        scale_factor: config.positive_or(&["scale_factor"], 2)?,
        text_hidden_size: model.hidden_size,
    });
    Ok(model)
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Family, VisionTower};
    use crate::model_config::parse;

    #[test]
    fn the_composite_alone_ties_and_bad_fields_are_refused() {
        let model = parse(
            r#"{"model_type": "smolvlm", "text_config": {"model_type": "llama", "hidden_size": 64,
                "num_attention_heads": 4, "num_hidden_layers": 1, "tie_word_embeddings": true}}"#,
        )
        .unwrap();
        assert_eq!(model.family, Family::SmolVlm);
        assert!(!model.tie_word_embeddings);
        assert!(matches!(model.vision, Some(VisionTower::Idefics3 { .. })));
        for (json, field) in [
            (
                r#"{"model_type": "idefics3", "scale_factor": 0}"#,
                "scale_factor",
            ),
            (
                r#"{"model_type": "idefics3", "vision_config": {"image_size": null}}"#,
                "image_size",
            ),
            (
                r#"{"model_type": "smolvlm", "text_config": {"model_type": "idefics3"}}"#,
                "text_config.model_type",
            ),
        ] {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(field), "{json}: {error}");
        }
    }
}
