//! InternVL's composite (`internvl`, the `-hf` checkpoints of InternVL3 and InternVL3.5): the
//! language model in `text_config`, and InternViT and the MLP projector, counted apart.
//!
//! As `transformers` 5.24's `InternVLConfig` builds it: `text_config` is read by its own
//! `model_type` (`qwen2` when it names none, an absent or null `text_config` being Qwen2's
//! defaults) and built as that type's base model under the composite's own unbiased LM
//! head; the composite's `tie_word_embeddings` (default true) decides the tying, the text
//! config's is not read. `vision_config` is `InternVLVisionConfig`, with its defaults for
//! absent keys.

use serde_json::{Map, Value};

use super::{from_value, invalid, Config, ModelConfigError};
use crate::accounting::model::{Family, Model, VisionEncoder, VisionTower};

pub(super) const MODEL_TYPE: &str = "internvl";

/// Composite types whose `AutoModel` is no plain decoder: refused as InternVL's text model.
const NOT_TEXT_MODELS: &[Family] = &[
    Family::NanoGpt,
    Family::Gemma3,
    Family::Gemma4,
    Family::Mistral3,
    Family::Qwen3VlText,
    Family::Qwen3Vl,
    Family::Qwen3VlMoeText,
    Family::Qwen3VlMoe,
    Family::Step3p7,
    Family::Qwen2VlText,
    Family::Qwen2Vl,
    Family::Qwen25VlText,
    Family::Qwen25Vl,
    Family::InternVl,
    Family::Llava,
    Family::LlavaOnevision,
    Family::Idefics3,
    Family::SmolVlm,
];

/// The family of a composite's text model, named by `text_config.model_type`: a supported
/// decoder type, or an error naming the field.
pub(super) fn text_family(
    text: &Map<String, Value>,
    default: &str,
) -> Result<Family, ModelConfigError> {
    let model_type = match text.get("model_type") {
        None | Some(Value::Null) => default.to_string(),
        Some(Value::String(model_type)) => model_type.clone(),
        Some(other) => {
            return Err(invalid(
                "text_config.model_type",
                &other.to_string(),
                "must be a string",
                "name the language model's type, e.g. \"qwen2\"",
            ))
        }
    };
    Family::ALL
        .iter()
        .copied()
        .find(|f| f.model_type() == model_type && !NOT_TEXT_MODELS.contains(f))
        .ok_or_else(|| {
            invalid(
                "text_config.model_type",
                &format!("\"{model_type}\""),
                "is not a language model type counted here",
                "use a supported text model type (qwen2, qwen3, llama, ...)",
            )
        })
}

/// An `internvl` composite: its language model, with InternViT and the projector.
pub(super) fn composite(object: &Map<String, Value>) -> Result<Model, ModelConfigError> {
    let mut text = super::qwen3_vl::sub_config(object, "text_config")?;
    let family = text_family(&text, "qwen2")?;
    text.insert(
        "model_type".into(),
        Value::String(family.model_type().into()),
    );
    let config = Config { object };
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    text.insert("tie_word_embeddings".into(), Value::Bool(tie));
    let mut model = from_value(&Value::Object(text))?;
    // The composite's lm_head: one unbiased matrix.
    model.lm_head_bias = false;
    model.family = Family::InternVl;
    let vision = super::qwen3_vl::sub_config(object, "vision_config")?;
    model.vision = Some(vision_tower(&config, &vision, model.hidden_size)?);
    Ok(model)
}

/// A vision field with `InternVLVisionConfig`'s default; null is refused.
fn size(
    vision: &Map<String, Value>,
    key: &'static str,
    default: u64,
) -> Result<u64, ModelConfigError> {
    super::multimodal::non_null_vision_size(vision, key, default, "an InternVL")
}

fn flag(
    vision: &Map<String, Value>,
    key: &'static str,
    default: bool,
) -> Result<bool, ModelConfigError> {
    match vision.get(key) {
        None => Ok(default),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(other) => Err(invalid(
            key,
            &other.to_string(),
            "must be true or false in an InternVL vision_config",
            "write a JSON boolean, or remove it for the default",
        )),
    }
}

/// `image_size` or `patch_size`: one integer for both sides, or `[height, width]`.
fn pair(
    vision: &Map<String, Value>,
    key: &'static str,
    default: u64,
) -> Result<(u64, u64), ModelConfigError> {
    match vision.get(key) {
        Some(Value::Array(sides)) => match sides.as_slice() {
            [height, width] => Ok((
                super::multimodal::vision_size(key, height)?,
                super::multimodal::vision_size(key, width)?,
            )),
            _ => Err(invalid(
                key,
                &Value::Array(sides.clone()).to_string(),
                "must be one integer or [height, width]",
                "write e.g. 448 or [448, 448]",
            )),
        },
        _ => {
            let side = size(vision, key, default)?;
            Ok((side, side))
        }
    }
}

/// `InternVLVisionConfig`'s defaults, and the projector `InternVLMultiModalProjector` builds.
fn vision_tower(
    config: &Config,
    vision: &Map<String, Value>,
    text_hidden_size: u64,
) -> Result<VisionTower, ModelConfigError> {
    let hidden_size = size(vision, "hidden_size", 1024)?;
    let heads = size(vision, "num_attention_heads", 16)?;
    if hidden_size % heads != 0 {
        return Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!("does not divide the vision hidden_size = {hidden_size} (InternVLVisionAttention refuses it)"),
            "use a head count that divides the vision tower's width",
        ));
    }
    let (image_height, image_width) = pair(vision, "image_size", 448)?;
    let (patch_height, patch_width) = pair(vision, "patch_size", 14)?;
    let rms_norm = match vision.get("norm_type") {
        None => false,
        Some(Value::String(kind)) if kind == "layer_norm" => false,
        Some(Value::String(kind)) if kind == "rms_norm" => true,
        Some(other) => {
            return Err(invalid(
                "norm_type",
                &other.to_string(),
                "must be \"layer_norm\" or \"rms_norm\"",
                "write one of the two, or remove it for layer_norm",
            ))
        }
    };
    // The pixel shuffle folds int(1 / downsample_ratio)² patches into one.
    let ratio = match config.object.get("downsample_ratio") {
        None => 0.5,
        Some(Value::Number(ratio)) => ratio.as_f64().unwrap_or(0.0),
        Some(other) => {
            return Err(invalid(
                "downsample_ratio",
                &other.to_string(),
                "must be a number",
                "write e.g. 0.5, or remove it for the default",
            ))
        }
    };
    let fold = 1.0 / ratio;
    if !(ratio > 0.0 && (1.0..1.0e6).contains(&fold)) {
        return Err(invalid(
            "downsample_ratio",
            &ratio.to_string(),
            "must be a number in (0, 1]",
            "write e.g. 0.5, or remove it for the default",
        ));
    }
    Ok(VisionTower::InternVl {
        encoder: VisionEncoder {
            hidden_size,
            intermediate_size: size(vision, "intermediate_size", 4096)?,
            layers: size(vision, "num_hidden_layers", 24)?,
            patch_size: patch_height,
            num_channels: size(vision, "num_channels", 3)?,
        },
        patch_width,
        patches: (image_height / patch_height) * (image_width / patch_width),
        attention_bias: flag(vision, "attention_bias", false)?,
        qk_norm: flag(vision, "use_qk_norm", false)?,
        rms_norm,
        mask_token: flag(vision, "use_mask_token", false)?,
        absolute_positions: flag(vision, "use_absolute_position_embeddings", true)?,
        final_layernorm: !flag(vision, "use_mean_pooling", true)?,
        pixel_shuffle: fold as u64,
        text_hidden_size,
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Family, VisionTower};
    use crate::model_config::parse;

    #[test]
    fn the_text_model_is_read_by_its_own_type_and_tied_by_the_composite() {
        let model = parse(
            r#"{"model_type": "internvl", "text_config": {"model_type": "llama", "hidden_size": 64,
                "num_attention_heads": 4, "num_hidden_layers": 1, "tie_word_embeddings": false}}"#,
        )
        .unwrap();
        assert_eq!(model.family, Family::InternVl);
        assert!(model.tie_word_embeddings);
        assert!(matches!(model.vision, Some(VisionTower::InternVl { .. })));
    }

    #[test]
    fn an_unsupported_text_type_is_refused_by_name() {
        for (json, field) in [
            (
                r#"{"model_type": "internvl", "text_config": {"model_type": "internlm2"}}"#,
                "text_config.model_type",
            ),
            (
                r#"{"model_type": "internvl", "text_config": {"model_type": "qwen2_vl"}}"#,
                "text_config.model_type",
            ),
            (
                r#"{"model_type": "internvl", "downsample_ratio": 0}"#,
                "downsample_ratio",
            ),
            (
                r#"{"model_type": "internvl", "vision_config": {"norm_type": "batch_norm"}}"#,
                "norm_type",
            ),
            (
                r#"{"model_type": "internvl", "vision_config": {"image_size": [448]}}"#,
                "image_size",
            ),
            (
                r#"{"model_type": "internvl", "vision_config": {"num_attention_heads": 7}}"#,
                "num_attention_heads",
            ),
        ] {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(field), "{json}: {error}");
        }
    }
}
