//! IBM Granite with sliding-window attention (`model_type: "granite_swa"`, dense, and
//! `"granitemoe_swa"`, Granite 3.x MoE's layers), as `transformers`' `GraniteSWAConfig` and
//! `GraniteMoeSWAConfig` lay out their layers. The Llama-like builder reads the rest (Granite's
//! attention and MLP, or GraniteMoeShared's experts and shared MLP, with a learned attention
//! sink per head on every layer).
//!
//! - Layer kinds from `layer_types`, else every fourth layer full attention from the first and
//!   the others sliding; sliding layers take `sliding_window` (128). The forward pass always
//!   builds the sliding mask, which refuses a null window: null is refused, and so is 0 (a zero
//!   window masks every key).
//! - Rotary embeddings per layer from `layer_rope_theta` (a falsy entry, 0 or null, is a NoPE
//!   layer); without it every layer rotates with `rope_theta`, none where that is null.

use serde_json::Value;

use super::cohere2::by_kind;
use super::{as_u64, invalid, layer_types, Config, Field, ModelConfigError};
use crate::accounting::model::AttentionWindow;

/// Each layer's window.
pub(super) fn windows(
    config: &Config,
    layers: u64,
) -> Result<Vec<AttentionWindow>, ModelConfigError> {
    let window: Option<u64> = match config.field(&["sliding_window"]) {
        (_, Field::Absent) => Some(128),
        (key, Field::Null) => {
            return Err(invalid(
                key,
                "null",
                "leaves the model without the window its sliding mask needs (the forward pass always builds it and refuses a null window, whatever layer_types says)",
                "give a sliding_window, or remove the key to take 128",
            ))
        }
        (key, Field::Present(value)) => match as_u64(key, value)? {
            0 => {
                return Err(invalid(
                    key,
                    "0",
                    "must be at least 1 (a zero window masks every key of the sliding layers)",
                    "give the sliding layers' window, or remove the key to take 128",
                ))
            }
            w => Some(w),
        },
    };
    let kinds = match layer_types(config, layers)? {
        Some(kinds) => kinds,
        None => (0..layers).map(|i| i % 4 != 0).collect(),
    };
    Ok(by_kind(kinds, window))
}

/// Whether each layer rotates: a truthy `layer_rope_theta` entry, else a `rope_theta`.
pub(super) fn rope_layers(config: &Config, layers: u64) -> Result<Vec<bool>, ModelConfigError> {
    let truthy = |value: &Value| match value {
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => true,
    };
    match config.object.get("layer_rope_theta") {
        None | Some(Value::Null) => {
            let theta = match config.object.get("rope_parameters") {
                Some(Value::Object(parameters)) => parameters.get("rope_theta"),
                _ => config.object.get("rope_theta"),
            };
            Ok(vec![theta.is_none_or(truthy); layers as usize])
        }
        Some(Value::Array(thetas)) if thetas.len() as u64 >= layers => Ok(thetas
            .iter()
            .take(layers as usize)
            .map(truthy)
            .collect()),
        Some(other) => Err(invalid(
            "layer_rope_theta",
            &other.to_string(),
            &format!("must list a rotary base (0 or null for no rotary embedding) for each of the num_hidden_layers = {layers} layers"),
            "give one entry per layer, or remove it to rotate every layer with rope_theta",
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::model_config::{parse, ModelConfigError};

    #[test]
    fn a_null_window_is_refused_and_falsy_rotary_bases_are_nope_layers() {
        for model_type in ["granite_swa", "granitemoe_swa"] {
            let json = format!(r#"{{"model_type": "{model_type}", "sliding_window": null}}"#);
            assert!(matches!(
                parse(&json),
                Err(ModelConfigError::Invalid {
                    field: "sliding_window",
                    ..
                })
            ));
        }
        let model = parse(
            r#"{"model_type": "granite_swa", "num_hidden_layers": 3, "layer_rope_theta": [10000, 0, null]}"#,
        )
        .unwrap();
        let rope: Vec<bool> = model
            .layers
            .iter()
            .filter_map(|layer| layer.mixer.attention().map(|a| a.rope && a.sinks))
            .collect();
        assert_eq!(rope, [true, false, false]);
    }
}
