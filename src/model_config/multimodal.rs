//! Multimodal configs: the language model inside `text_config`, and the vision tower and
//! projector, which are counted apart from the language model.
//!
//! Sub-configs follow `transformers`' `SubConfigSpec`: an absent `text_config` or
//! `vision_config` takes the composite class's default sub-config; a given one takes only its
//! own keys, with the default `model_type` when it names none. The composite config's own
//! `tie_word_embeddings` (with its class default) decides the tying, not the text config's,
//! but for Llama 4, whose model ties by its text config alone.

use serde_json::{Map, Value};

use super::{as_u64, from_value, invalid, Config, ModelConfigError};
use crate::accounting::model::{Family, Model, VisionEncoder, VisionTower};

/// The composite types whose vision tower is counted.
#[derive(Clone, Copy)]
enum Composite {
    Gemma3,
    Mistral3,
}

/// Builds the language model of a config with a `text_config`, and its vision tower where
/// the composite type is known.
pub(super) fn model(
    object: &Map<String, Value>,
    text: &Map<String, Value>,
) -> Result<Model, ModelConfigError> {
    let outer = object.get("model_type").and_then(Value::as_str);
    let composite = match outer {
        Some("gemma3") => Some(Composite::Gemma3),
        // Ministral 3 checkpoints ship as mistral3 composites; some copies name the
        // composite after the text model.
        Some("mistral3") | Some("ministral3") => Some(Composite::Mistral3),
        _ => None,
    };
    // Llama 4 and Qwen3.5-MoE: the language model, with its type when text_config names
    // none; their vision towers are not counted yet.
    if let Some(family) = outer.and_then(super::hybrid::multimodal_family) {
        let mut text = text.clone();
        text.entry("model_type")
            .or_insert_with(|| Value::String(family.model_type().into()));
        // Qwen3.5's classes tie by the composite's tie_word_embeddings (false by default),
        // whatever the text config says; Llama 4's by its text config's alone.
        let outer_tie = Config { object }.bool_or(&["tie_word_embeddings"], false)?;
        if family != Family::Llama4 {
            text.insert("tie_word_embeddings".into(), Value::Bool(outer_tie));
        }
        let mut model = from_value(&Value::Object(text))?;
        model.vision = Some(hybrid_vision_tower(family, object, model.hidden_size)?);
        return Ok(model);
    }
    let Some(composite) = composite else {
        // Any other composite: the language model inside it; a vision tower it has is not
        // counted, and the report says so.
        let mut model = from_value(&Value::Object(text.clone()))?;
        if object
            .get("vision_config")
            .is_some_and(|vision| !vision.is_null())
        {
            model.vision = Some(VisionTower::NotCounted);
        }
        return Ok(model);
    };
    let config = Config { object };
    let mut text = text.clone();
    if !text.contains_key("model_type") {
        let default = match composite {
            Composite::Gemma3 => "gemma3_text",
            Composite::Mistral3 => "mistral",
        };
        text.insert("model_type".into(), Value::String(default.into()));
    }
    // The composite class's tie_word_embeddings (true for both) is the one the model reads.
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    text.insert("tie_word_embeddings".into(), Value::Bool(tie));
    let mut model = from_value(&Value::Object(text))?;
    model.family = match composite {
        Composite::Gemma3 => Family::Gemma3,
        Composite::Mistral3 => {
            if outer == Some("ministral3") {
                Family::Ministral3
            } else {
                Family::Mistral3
            }
        }
    };
    let vision =
        match object.get("vision_config") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(vision)) => vision.clone(),
            Some(other) => return Err(invalid(
                "vision_config",
                &other.to_string(),
                "must be an object",
                "give the vision tower's config as a JSON object, or remove it to take the default",
            )),
        };
    let given = object.contains_key("vision_config");
    model.vision = Some(vision_tower(
        &config,
        composite,
        &vision,
        given,
        model.hidden_size,
    )?);
    Ok(model)
}

/// The vision tower of a Llama 4 or Qwen3.5-MoE composite: its `vision_config`, with the
/// vision class's defaults for absent keys (an absent `vision_config` is all defaults).
pub(super) fn hybrid_vision_tower(
    family: Family,
    object: &Map<String, Value>,
    text_hidden_size: u64,
) -> Result<VisionTower, ModelConfigError> {
    let vision =
        match object.get("vision_config") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(vision)) => vision.clone(),
            Some(other) => return Err(invalid(
                "vision_config",
                &other.to_string(),
                "must be an object",
                "give the vision tower's config as a JSON object, or remove it to take the default",
            )),
        };
    let vision = &vision;
    if family == Family::Llama4 {
        // Llama4VisionConfig's defaults.
        return Ok(VisionTower::Llama4 {
            encoder: VisionEncoder {
                hidden_size: field(vision, "hidden_size", 768)?,
                intermediate_size: field(vision, "intermediate_size", 5632)?,
                layers: field(vision, "num_hidden_layers", 34)?,
                patch_size: field(vision, "patch_size", 14)?.max(1),
                num_channels: field(vision, "num_channels", 3)?,
            },
            image_size: field(vision, "image_size", 448)?,
            vision_output_dim: field(vision, "vision_output_dim", 7680)?,
            projector_input_dim: field(vision, "projector_input_dim", 4096)?,
            projector_output_dim: field(vision, "projector_output_dim", 4096)?,
            text_hidden_size,
        });
    }
    // Qwen3_5MoeVisionConfig's defaults.
    Ok(VisionTower::Qwen35 {
        encoder: VisionEncoder {
            hidden_size: field(vision, "hidden_size", 1152)?,
            intermediate_size: field(vision, "intermediate_size", 4304)?,
            layers: field(vision, "depth", 27)?,
            patch_size: field(vision, "patch_size", 16)?,
            num_channels: field(vision, "in_channels", 3)?,
        },
        temporal_patch_size: field(vision, "temporal_patch_size", 2)?,
        spatial_merge_size: field(vision, "spatial_merge_size", 2)?,
        num_position_embeddings: field(vision, "num_position_embeddings", 2304)?,
        out_hidden_size: field(vision, "out_hidden_size", 3584)?,
    })
}

/// A vision sub-config field (every one is a size), with the composite class's default.
fn field(
    vision: &Map<String, Value>,
    key: &'static str,
    default: u64,
) -> Result<u64, ModelConfigError> {
    match vision.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => vision_size(key, value),
    }
}

/// A size in a vision config whose class types it as a plain integer: absent takes
/// `default`, null is refused (`which` names the config: "an InternVL", "a LLaVA").
pub(super) fn non_null_vision_size(
    vision: &Map<String, Value>,
    key: &'static str,
    default: u64,
    which: &str,
) -> Result<u64, ModelConfigError> {
    match vision.get(key) {
        None => Ok(default),
        Some(Value::Null) => Err(invalid(
            key,
            "null",
            &format!("cannot be null in {which} vision_config"),
            "remove the key to take the default, or give a value",
        )),
        Some(value) => vision_size(key, value),
    }
}

/// A size of a vision tower: a positive integer.
pub(super) fn vision_size(key: &'static str, value: &Value) -> Result<u64, ModelConfigError> {
    match as_u64(key, value)? {
        0 => Err(invalid(
            key,
            "0",
            "must be at least 1 (a size of the vision tower)",
            "set it to the vision_config's real size, or remove it for the default",
        )),
        size => Ok(size),
    }
}

fn vision_tower(
    config: &Config,
    composite: Composite,
    vision: &Map<String, Value>,
    given: bool,
    text_hidden_size: u64,
) -> Result<VisionTower, ModelConfigError> {
    match composite {
        Composite::Gemma3 => {
            // SiglipVisionConfig's defaults (Gemma3Config gives no init_kwargs).
            let encoder = VisionEncoder {
                hidden_size: field(vision, "hidden_size", 768)?,
                intermediate_size: field(vision, "intermediate_size", 3072)?,
                layers: field(vision, "num_hidden_layers", 12)?,
                patch_size: field(vision, "patch_size", 16)?.max(1),
                num_channels: field(vision, "num_channels", 3)?,
            };
            Ok(VisionTower::Siglip {
                encoder,
                image_size: field(vision, "image_size", 224)?,
                text_hidden_size,
                pooling_head: match vision.get("vision_use_head") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(head)) => *head,
                    Some(other) => {
                        return Err(invalid(
                            "vision_config.vision_use_head",
                            &other.to_string(),
                            "must be true or false",
                            "write a JSON boolean",
                        ))
                    }
                },
            })
        }
        Composite::Mistral3 => {
            // Mistral3Config's default vision sub-config overrides PixtralVisionConfig's
            // patch size and image size; a given vision_config takes Pixtral's own defaults.
            let patch_default = if given { 16 } else { 14 };
            let encoder = VisionEncoder {
                hidden_size: field(vision, "hidden_size", 1024)?,
                intermediate_size: field(vision, "intermediate_size", 4096)?,
                layers: field(vision, "num_hidden_layers", 24)?,
                patch_size: field(vision, "patch_size", patch_default)?,
                num_channels: field(vision, "num_channels", 3)?,
            };
            let feature_layers = match config.object.get("vision_feature_layer") {
                Some(Value::Array(layers)) => layers.len() as u64,
                _ => 1,
            };
            Ok(VisionTower::Pixtral {
                encoder,
                text_hidden_size,
                spatial_merge_size: config.positive_or(&["spatial_merge_size"], 2)?,
                feature_layers,
                projector_bias: config.bool_or(&["multimodal_projector_bias"], false)?,
            })
        }
    }
}
