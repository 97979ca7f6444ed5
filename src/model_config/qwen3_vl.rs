//! Qwen3-VL's composites (`qwen3_vl`, `qwen3_vl_moe`): the language model in `text_config`
//! (Qwen3 and Qwen3-MoE blocks with q/k norms; the interleaved M-RoPE has no parameter and
//! no matmul) and the vision tower, counted apart.
//!
//! As `transformers` 5.24's `Qwen3VLConfig` and `Qwen3VLMoeConfig` build them: the
//! sub-config specs name their classes, so `text_config` is always read as the composite's
//! own text class (its `model_type` is not consulted) and `vision_config` as its vision
//! class, each with that class's defaults for absent keys (an absent or null sub-config is
//! all defaults). The composite class's own `tie_word_embeddings` (default false) decides
//! the tying; the text config's (true by default for the MoE text class) is not read.

use serde_json::{Map, Value};

use super::{from_value, invalid, Config, ModelConfigError};
use crate::accounting::model::{Family, Model, VisionEncoder, VisionTower};

/// The composite family of a Qwen3-VL `model_type`.
pub(super) fn composite_family(model_type: &str) -> Option<Family> {
    match model_type {
        "qwen3_vl" => Some(Family::Qwen3Vl),
        "qwen3_vl_moe" => Some(Family::Qwen3VlMoe),
        _ => None,
    }
}

/// A `qwen3_vl` or `qwen3_vl_moe` composite: its language model, with the vision tower.
pub(super) fn composite(
    object: &Map<String, Value>,
    family: Family,
) -> Result<Model, ModelConfigError> {
    let text_family = if family == Family::Qwen3VlMoe {
        Family::Qwen3VlMoeText
    } else {
        Family::Qwen3VlText
    };
    let mut text = sub_config(object, "text_config")?;
    text.insert(
        "model_type".into(),
        Value::String(text_family.model_type().into()),
    );
    let tie = Config { object }.bool_or(&["tie_word_embeddings"], false)?;
    text.insert("tie_word_embeddings".into(), Value::Bool(tie));
    let mut model = from_value(&Value::Object(text))?;
    model.family = family;
    model.vision = Some(vision_tower(&sub_config(object, "vision_config")?)?);
    Ok(model)
}

/// A sub-config as given, or an empty one (all defaults) when absent or null.
pub(super) fn sub_config(
    object: &Map<String, Value>,
    key: &'static str,
) -> Result<Map<String, Value>, ModelConfigError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(sub)) => Ok(sub.clone()),
        Some(other) => Err(invalid(
            key,
            &other.to_string(),
            "must be an object",
            "give the sub-config as a JSON object, or remove it to take the default",
        )),
    }
}

/// A vision field by any of its names (`Qwen3VLVisionConfig`'s attribute_map), with the
/// class default; null is refused, as the strict class refuses it.
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
                    "cannot be null in a Qwen3-VL vision_config",
                    "remove the key to take the default, or give a value",
                ))
            }
            Some(value) => return super::multimodal::vision_size(key, value),
        }
    }
    Ok(default)
}

/// `Qwen3VLVisionConfig`'s (and `Qwen3VLMoeVisionConfig`'s, the same) defaults.
fn vision_tower(vision: &Map<String, Value>) -> Result<VisionTower, ModelConfigError> {
    let deepstack_mergers = match vision.get("deepstack_visual_indexes") {
        None => 3,
        Some(Value::Array(indexes)) => indexes.len() as u64,
        Some(other) => {
            return Err(invalid(
                "deepstack_visual_indexes",
                &other.to_string(),
                "must be a list of vision layer indices",
                "write e.g. [8, 16, 24], or remove it to take the default",
            ))
        }
    };
    Ok(VisionTower::Qwen3Vl {
        encoder: VisionEncoder {
            hidden_size: field(vision, &["hidden_size"], 1152)?,
            intermediate_size: field(vision, &["intermediate_size"], 4304)?,
            layers: field(vision, &["depth", "num_hidden_layers"], 27)?,
            patch_size: field(vision, &["patch_size"], 16)?,
            num_channels: field(vision, &["in_channels"], 3)?,
        },
        temporal_patch_size: field(vision, &["temporal_patch_size"], 2)?,
        spatial_merge_size: field(vision, &["spatial_merge_size"], 2)?,
        num_position_embeddings: field(vision, &["num_position_embeddings"], 2304)?,
        out_hidden_size: field(vision, &["out_hidden_size"], 3584)?,
        deepstack_mergers,
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{AttentionWindow, Family, FeedForward, VisionTower};
    use crate::model_config::parse;

    /// The text sub-config is read as the composite's own text class (`transformers`' spec
    /// names the class): a `model_type` of `qwen3` there does not bring Qwen3's sliding
    /// window, which Qwen3-VL's text model never applies.
    #[test]
    fn text_config_is_the_composites_text_class() {
        let model = parse(
            r#"{"model_type": "qwen3_vl", "text_config": {"model_type": "qwen3", "num_hidden_layers": 2,
                "use_sliding_window": true, "sliding_window": 8, "max_window_layers": 0}}"#,
        )
        .unwrap();
        assert_eq!(model.family, Family::Qwen3Vl);
        assert!(model.layers.iter().all(|layer| {
            layer
                .mixer
                .attention()
                .is_some_and(|a| a.window == AttentionWindow::Full)
        }));
        // Qwen3VLTextConfig's own defaults: 32 KV heads of 128, 128000 positions.
        assert_eq!(model.default_seq_len, 128000);
    }

    /// `Qwen3VLMoeTextConfig` maps `num_experts` onto `num_local_experts`, which wins when
    /// both are given (as `AutoConfig.for_model("qwen3_vl_moe_text", num_local_experts=4,
    /// num_experts=8).num_experts` is 4).
    #[test]
    fn num_local_experts_wins_over_num_experts() {
        let model = parse(
            r#"{"model_type": "qwen3_vl_moe_text", "num_hidden_layers": 1, "num_experts": 8,
                "num_local_experts": 4, "num_experts_per_tok": 2}"#,
        )
        .unwrap();
        let FeedForward::MixtureOfExperts(moe) = model.layers[0].ffn else {
            panic!("a MoE layer")
        };
        assert_eq!(moe.num_experts, 4);
    }

    #[test]
    fn malformed_vision_fields_are_refused_by_name() {
        for (json, field) in [
            (
                r#"{"model_type": "qwen3_vl", "vision_config": {"deepstack_visual_indexes": 3}}"#,
                "deepstack_visual_indexes",
            ),
            (
                r#"{"model_type": "qwen3_vl_moe", "vision_config": {"depth": null}}"#,
                "depth",
            ),
            (
                r#"{"model_type": "qwen3_vl", "vision_config": [1]}"#,
                "vision_config",
            ),
            (
                r#"{"model_type": "qwen3_vl", "vision_config": {"patch_size": 0}}"#,
                "patch_size",
            ),
        ] {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(field), "{json}: {error}");
        }
        let model = parse(
            r#"{"model_type": "qwen3_vl", "vision_config": {"num_hidden_layers": 4, "deepstack_visual_indexes": []}}"#,
        )
        .unwrap();
        let Some(VisionTower::Qwen3Vl {
            encoder,
            deepstack_mergers,
            ..
        }) = model.vision
        else {
            panic!("a Qwen3-VL tower")
        };
        assert_eq!((encoder.layers, deepstack_mergers), (4, 0));
    }
}
