//! StepFun Step-3.7 (`step3p7`): the composite `transformers` 5.24 builds as
//! `Step3p7ForConditionalGeneration` (it has no causal LM of its own), its language model
//! from `text_config` (`Step3p7TextConfig`, `model_type` `step3p5`) and its vision tower
//! (`Step3p7VisionModel` and `multi_modal_projector`), counted apart.
//!
//! The language model: per-layer full or sliding attention (`layer_types`, `sliding_window`)
//! with more query heads on sliding layers where the config says so, q/k norms of `head_dim`,
//! a sigmoid gate per head from its own `g_proj`; dense layers, then MoE layers of routed
//! experts (sigmoid router with a correction-bias buffer, top-k) beside one shared expert.
//! The multi-token-prediction layers (`num_nextn_predict_layers`) are not built by the model
//! (`transformers` ignores their checkpoint keys), so they are not counted.
//!
//! A `step3p7` config without `text_config` (the flattened form some tools keep, e.g.
//! aiconfigurator's) is read as if its keys were the `text_config`: `Step3p7Config` itself
//! would ignore them all and build its defaults.
//!
//! Keys the text class does not read (`num_experts`, `num_local_experts`,
//! `first_k_dense_replace`, `n_shared_experts`) are refused where they say something other
//! than the model built, naming the key the class reads instead.

use serde_json::{Map, Value};

use super::{as_u64, default_seq_len, invalid, layer_count, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, QkNorm, RouterCorrection, StandardAttention, VisionEncoder,
    VisionTower,
};

pub(super) const MODEL_TYPE: &str = "step3p7";

/// The first layer `Step3p7TextConfig` makes MoE when neither `mlp_layer_types` nor
/// `moe_layers_enum` says which.
const FIRST_MOE_LAYER: u64 = 3;

/// The `step3p7` composite: its language model, with the vision tower.
pub(super) fn composite(object: &Map<String, Value>) -> Result<Model, ModelConfigError> {
    let outer = Config { object };
    let text = match object.get("text_config") {
        None | Some(Value::Null) => object,
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
    let mut model = text_model(&Config { object: text })?;
    // The composite's own tie_word_embeddings (absent: untied) is the one the model reads.
    model.tie_word_embeddings = outer.bool_or(&["tie_word_embeddings"], false)?;
    let vision = match object.get("vision_config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(vision)) => vision.clone(),
        Some(other) => {
            return Err(invalid(
                "vision_config",
                &other.to_string(),
                "must be an object",
                "give the vision tower's config as an object, or remove it to take the default",
            ))
        }
    };
    model.vision = Some(vision_tower(
        &Config { object: &vision },
        model.hidden_size,
        outer.bool_or(&["projector_bias"], false)?,
    )?);
    Ok(model)
}

/// `Step3p7VisionConfig`'s defaults; `width`, `layers` win over `hidden_size` and
/// `num_hidden_layers`, and the MLP width is `int(hidden_size * mlp_ratio)` whatever
/// `intermediate_size` says.
fn vision_tower(
    config: &Config,
    text_hidden_size: u64,
    projector_bias: bool,
) -> Result<VisionTower, ModelConfigError> {
    let hidden_size = config.positive_or(&["width", "hidden_size"], 1536)?;
    let mlp_ratio = match config.field(&["mlp_ratio"]) {
        (_, super::Field::Absent) => 8960.0 / 1536.0,
        (_, super::Field::Present(Value::Number(n)))
            if n.as_f64().is_some_and(|r| r.is_finite() && r > 0.0) =>
        {
            n.as_f64().unwrap_or(0.0)
        }
        (key, super::Field::Present(other)) => {
            return Err(invalid(
                key,
                &other.to_string(),
                "must be a positive number",
                "give the MLP width over the hidden size, e.g. 5.8333",
            ))
        }
        (key, super::Field::Null) => return Err(super::null_refused(key)),
    };
    // Python's int() of a positive float truncates, as `as` does.
    let intermediate_size = (hidden_size as f64 * mlp_ratio) as u64;
    Ok(VisionTower::Step3p7 {
        encoder: VisionEncoder {
            hidden_size,
            intermediate_size,
            layers: layer_count(config, &["layers", "num_hidden_layers"], 47)?,
            patch_size: config.positive_or(&["patch_size"], 14)?,
            num_channels: config.positive_or(&["num_channels"], 3)?,
        },
        image_size: config.u64_or(&["image_size"], 728)?,
        text_hidden_size,
        projector_bias,
    })
}

/// The language model of a `step3p7` composite (`Step3p7TextConfig`'s defaults).
fn text_model(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let vocab = config.positive_or(&["vocab_size"], 128_815)?;
    let intermediate = config.positive_or(&["intermediate_size"], 11264)?;
    let layers = layer_count(config, &["num_hidden_layers"], 45)?;
    let heads = config.positive_or(&["num_attention_heads"], 64)?;
    // The attribute_map aliases are set after the fields, so they win.
    let kv_heads = config.positive_or(&["num_attention_groups", "num_key_value_heads"], 8)?;
    let head_dim = config.positive_or(&["head_dim"], 128)?;
    let attention_bias = config.bool_or(&["attention_bias"], false)?;
    let mlp_bias = config.bool_or(&["mlp_bias"], false)?;
    let experts = config.positive_or(&["moe_num_experts", "n_routed_experts"], 288)?;
    let top_k = config.positive_or(&["moe_top_k", "num_experts_per_tok"], 8)?;
    let expert_width = config.positive_or(&["moe_intermediate_size"], 1280)?;
    let shared_width = config.positive_or(&["share_expert_dims", "share_expert_dim"], 1280)?;
    let window = config.optional_u64(&["sliding_window"])?;
    let mtp_layers = config.u64_or(&["num_nextn_predict_layers"], 0)?;
    super::check_top_k(top_k, experts, "n_routed_experts")?;
    check_gating(config)?;

    let sliding = attention_kinds(config, layers, mtp_layers)?;
    let sparse = mlp_kinds(config, layers, mtp_layers)?;
    check_unread_keys(config, experts, &sparse)?;
    let layer_heads = heads_per_layer(config, heads, &sliding)?;

    let moe = MixtureOfExperts {
        zero_experts: 0,
        num_experts: experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: expert_width,
            bias: false,
        },
        shared: Some(Mlp {
            gated: true,
            intermediate_size: shared_width,
            bias: mlp_bias,
        }),
        shared_expert_gate: false,
        router_bias: false,
        // e_score_correction_bias, an nn.Buffer whatever use_moe_router_bias says.
        router_correction: RouterCorrection::Buffer,
        router_scales: false,
        latent: None,
    };
    let dense = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: mlp_bias,
    };
    let mut model_layers = Vec::with_capacity(sliding.len());
    for ((is_sliding, is_sparse), layer_heads) in sliding.iter().zip(&sparse).zip(layer_heads) {
        if layer_heads % kv_heads != 0 {
            return Err(invalid(
                "num_key_value_heads",
                &kv_heads.to_string(),
                &format!(
                    "does not divide a layer's {layer_heads} query heads (the attention cannot \
                     repeat the key/value heads over them)"
                ),
                "use a key/value head count that divides every layer's query heads",
            ));
        }
        let attention = AttentionLayer {
            window: if *is_sliding {
                AttentionWindow::sliding(window)
            } else {
                AttentionWindow::Full
            },
            head_gate: true,
            ..AttentionLayer::full(Attention::Standard(StandardAttention {
                num_heads: layer_heads,
                num_kv_heads: kv_heads,
                head_dim,
                v_head_dim: head_dim,
                qkv_bias: attention_bias,
                output_bias: attention_bias,
                qk_norm: QkNorm::PerHead,
            }))
        };
        let ffn = if *is_sparse {
            FeedForward::MixtureOfExperts(moe)
        } else {
            FeedForward::Dense(dense)
        };
        model_layers.push(Layer::new(Mixer::Attention(attention), ffn));
    }
    Ok(Model::decoder(
        Family::Step3p7,
        d,
        vocab,
        false,
        model_layers,
        default_seq_len(config, &["max_position_embeddings"], 128_000)?,
    ))
}

/// `gating`: true or `"per-head"` builds one gate per head. Any other value builds a gate per
/// channel that the attention's forward cannot apply, so it is refused.
fn check_gating(config: &Config) -> Result<(), ModelConfigError> {
    match config.object.get("gating") {
        None | Some(Value::Bool(true)) => Ok(()),
        Some(Value::String(kind)) if kind == "per-head" => Ok(()),
        Some(other) => Err(invalid(
            "gating",
            &other.to_string(),
            "is not a gate transformers' Step-3.7 attention can run (only one gate per head)",
            "use true or \"per-head\", or remove the key",
        )),
    }
}

/// A per-layer list as `Step3p7TextConfig` keeps it: one entry per layer, or (the Hub's
/// legacy form) padded by `num_nextn_predict_layers` entries for the MTP layers, which are
/// cut off.
fn per_layer_list<'a>(
    config: &'a Config,
    key: &'static str,
    layers: u64,
    mtp_layers: u64,
) -> Result<Option<&'a [Value]>, ModelConfigError> {
    let Some(items) = config.list(
        key,
        "must be a list with one entry per layer",
        "list one entry per decoder layer, or remove it for the default",
    )?
    else {
        return Ok(None);
    };
    let len = items.len() as u64;
    if len == layers || (mtp_layers > 0 && len == layers + mtp_layers) {
        return Ok(items.get(..layers as usize));
    }
    Err(invalid(
        key,
        &format!("a list of {len}"),
        &format!(
            "must have one entry per layer (num_hidden_layers = {layers}), or also one per MTP \
             layer (num_nextn_predict_layers = {mtp_layers})"
        ),
        "list one entry per decoder layer",
    ))
}

/// Which layers use sliding-window attention (`layer_types`; absent: none).
fn attention_kinds(
    config: &Config,
    layers: u64,
    mtp_layers: u64,
) -> Result<Vec<bool>, ModelConfigError> {
    let Some(kinds) = per_layer_list(config, "layer_types", layers, mtp_layers)? else {
        return Ok(vec![false; layers as usize]);
    };
    kinds
        .iter()
        .enumerate()
        .map(|(index, kind)| match kind.as_str() {
            Some("sliding_attention") => Ok(true),
            Some("full_attention") => Ok(false),
            _ => Err(ModelConfigError::Invalid {
                field: "layer_types",
                value: kind.to_string(),
                problem: format!("layer {index} has an attention kind Step-3.7 does not build"),
                fix: "use full_attention or sliding_attention".into(),
            }),
        })
        .collect()
}

/// Which layers are MoE: `mlp_layer_types`, else `moe_layers_enum` (a comma-separated string
/// or a list of layer indices), else every layer from the fourth on.
fn mlp_kinds(config: &Config, layers: u64, mtp_layers: u64) -> Result<Vec<bool>, ModelConfigError> {
    if let Some(kinds) = per_layer_list(config, "mlp_layer_types", layers, mtp_layers)? {
        return kinds
            .iter()
            .enumerate()
            .map(|(index, kind)| match kind.as_str() {
                Some("sparse") => Ok(true),
                Some("dense") => Ok(false),
                _ => Err(ModelConfigError::Invalid {
                    field: "mlp_layer_types",
                    value: kind.to_string(),
                    problem: format!("layer {index} has an unknown feed-forward kind"),
                    fix: "use sparse (MoE) or dense".into(),
                }),
            })
            .collect();
    }
    let bad_enum = |value: &Value| {
        invalid(
            "moe_layers_enum",
            &value.to_string(),
            "must list the MoE layers' indices",
            "write e.g. \"3,4,5\" or [3, 4, 5]",
        )
    };
    let moe_layers: Vec<u64> = match config.object.get("moe_layers_enum") {
        None | Some(Value::Null) => (FIRST_MOE_LAYER..layers).collect(),
        Some(Value::String(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<u64>()
                    .map_err(|_| bad_enum(&Value::String(text.clone())))
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| as_u64("moe_layers_enum", item))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(bad_enum(other)),
    };
    Ok((0..layers).map(|i| moe_layers.contains(&i)).collect())
}

/// Query heads of each layer: `per_layer_config`'s `num_attention_heads` where a saved config
/// has it, else `num_sliding_attention_heads` (or `attention_other_setting`'s
/// `num_attention_heads`) on sliding layers and `num_attention_heads` on the others.
fn heads_per_layer(
    config: &Config,
    heads: u64,
    sliding: &[bool],
) -> Result<Vec<u64>, ModelConfigError> {
    if let Some(per_layer) = config.object.get("per_layer_config") {
        let overrides = match per_layer {
            Value::Object(overrides) => overrides,
            other => {
                return Err(invalid(
                    "per_layer_config",
                    &other.to_string(),
                    "must map layer indices to per-layer overrides",
                    "remove it to derive the sliding layers' heads from the config",
                ))
            }
        };
        let mut layer_heads = vec![heads; sliding.len()];
        for (index, entry) in overrides {
            let slot = index
                .parse::<usize>()
                .ok()
                .and_then(|i| layer_heads.get_mut(i));
            let (Some(slot), Value::Object(entry)) = (slot, entry) else {
                return Err(invalid(
                    "per_layer_config",
                    &format!("{index}: {entry}"),
                    "must map existing layer indices to objects",
                    "remove it to derive the sliding layers' heads from the config",
                ));
            };
            for (key, value) in entry {
                if key != "num_attention_heads" {
                    return Err(invalid(
                        "per_layer_config",
                        &format!("{index}: {key}"),
                        "overrides something other than num_attention_heads, which is not counted here",
                        "remove the override, or the per_layer_config to derive it",
                    ));
                }
                *slot = as_u64("per_layer_config", value)?;
                if *slot == 0 {
                    return Err(invalid(
                        "per_layer_config",
                        &format!("{index}: 0"),
                        "gives a layer no query head",
                        "give each layer at least one head",
                    ));
                }
            }
        }
        return Ok(layer_heads);
    }
    let sliding_heads = match config.field(&["num_sliding_attention_heads"]) {
        (_, super::Field::Absent | super::Field::Null) => {
            match config.object.get("attention_other_setting") {
                Some(Value::Object(other)) => match other.get("num_attention_heads") {
                    None | Some(Value::Null) => heads,
                    Some(value) => match as_u64("attention_other_setting", value)? {
                        0 => {
                            return Err(invalid(
                                "attention_other_setting",
                                "num_attention_heads: 0",
                                "gives the sliding layers no query head",
                                "set its num_attention_heads to at least 1",
                            ))
                        }
                        n => n,
                    },
                },
                None | Some(Value::Null) => heads,
                Some(other) => {
                    return Err(invalid(
                        "attention_other_setting",
                        &other.to_string(),
                        "must be an object (the sliding layers' attention settings)",
                        "write e.g. {\"num_attention_heads\": 96, \"num_attention_groups\": 8}",
                    ))
                }
            }
        }
        _ => config.positive_or(&["num_sliding_attention_heads"], heads)?,
    };
    Ok(sliding
        .iter()
        .map(|s| if *s { sliding_heads } else { heads })
        .collect())
}

/// Refuses keys `Step3p7TextConfig` does not read where they describe another model than the
/// one it builds.
fn check_unread_keys(
    config: &Config,
    experts: u64,
    sparse: &[bool],
) -> Result<(), ModelConfigError> {
    for key in ["num_experts", "num_local_experts"] {
        if let Some(value) = config.object.get(key).filter(|v| !v.is_null()) {
            if as_u64(key, value)? != experts {
                return Err(invalid(
                    key,
                    &value.to_string(),
                    &format!(
                        "is not read by Step-3.7's config, which builds {experts} experts from \
                         n_routed_experts (or moe_num_experts)"
                    ),
                    "give the expert count as n_routed_experts",
                ));
            }
        }
    }
    if let Some(value) = config
        .object
        .get("first_k_dense_replace")
        .filter(|v| !v.is_null())
    {
        let first = as_u64("first_k_dense_replace", value)?;
        let dense_first = sparse.iter().take_while(|s| !**s).count() as u64;
        let moe_after = sparse.iter().skip(first as usize).all(|s| *s);
        if first != dense_first || !moe_after {
            return Err(invalid(
                "first_k_dense_replace",
                &value.to_string(),
                "is not read by Step-3.7's config and disagrees with the dense layers it builds \
                 (mlp_layer_types, moe_layers_enum, else layers 0-2 dense)",
                "say which layers are MoE with mlp_layer_types or moe_layers_enum",
            ));
        }
    }
    if let Some(value) = config
        .object
        .get("n_shared_experts")
        .filter(|v| !v.is_null())
    {
        if as_u64("n_shared_experts", value)? != 1 {
            return Err(invalid(
                "n_shared_experts",
                &value.to_string(),
                "is not read by Step-3.7's config, which always builds one shared expert",
                "give the shared expert's width as share_expert_dim",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{FeedForward, Mixer, VisionTower};
    use crate::model_config::parse;

    fn heads(json: &str) -> Vec<u64> {
        parse(json)
            .unwrap()
            .layers
            .iter()
            .filter_map(|l| match l.mixer {
                Mixer::Attention(a) => Some(a.attention.num_heads()),
                _ => None,
            })
            .collect()
    }

    /// Sliding layers take `num_sliding_attention_heads`, else `attention_other_setting`'s
    /// heads; a saved `per_layer_config` is read as it is.
    #[test]
    fn sliding_layers_take_their_own_head_count() {
        let text = r#""num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
            "layer_types": ["full_attention", "sliding_attention", "full_attention"]"#;
        assert_eq!(
            heads(&format!(
                r#"{{"model_type": "step3p7", "text_config": {{{text}, "num_sliding_attention_heads": 8}}}}"#
            )),
            [4, 8, 4]
        );
        assert_eq!(
            heads(&format!(
                r#"{{"model_type": "step3p7", "text_config": {{{text},
                    "attention_other_setting": {{"num_attention_heads": 6}}}}}}"#
            )),
            [4, 6, 4]
        );
        assert_eq!(
            heads(&format!(
                r#"{{"model_type": "step3p7", "text_config": {{{text},
                    "per_layer_config": {{"2": {{"num_attention_heads": 8}}}}}}}}"#
            )),
            [4, 4, 8]
        );
    }

    /// A flat config is its text config; the vision tower is the default one.
    #[test]
    fn a_flat_config_is_read_as_its_text_config() {
        let model = parse(
            r#"{"model_type": "step3p7", "num_hidden_layers": 4, "n_routed_experts": 4,
                "num_experts_per_tok": 2, "first_k_dense_replace": 3, "num_experts": 4}"#,
        )
        .unwrap();
        assert_eq!(model.layers.len(), 4);
        let moe: Vec<bool> = model
            .layers
            .iter()
            .map(|l| matches!(l.ffn, FeedForward::MixtureOfExperts(_)))
            .collect();
        assert_eq!(moe, [false, false, false, true]);
        assert!(matches!(model.vision, Some(VisionTower::Step3p7 { .. })));
    }

    #[test]
    fn keys_the_config_does_not_read_are_refused_where_they_disagree() {
        for (json, field) in [
            (
                r#"{"model_type": "step3p7", "num_experts": 16}"#,
                "num_experts",
            ),
            (
                r#"{"model_type": "step3p7", "first_k_dense_replace": 1}"#,
                "first_k_dense_replace",
            ),
            (
                r#"{"model_type": "step3p7", "n_shared_experts": 2}"#,
                "n_shared_experts",
            ),
            (
                r#"{"model_type": "step3p7", "text_config": {"gating": "elementwise"}}"#,
                "gating",
            ),
            (
                r#"{"model_type": "step3p7", "text_config": {"attention_other_setting": [96]}}"#,
                "attention_other_setting",
            ),
            (
                r#"{"model_type": "step3p7", "text_config": {"moe_intermediate_size": 0}}"#,
                "moe_intermediate_size",
            ),
            (
                r#"{"model_type": "step3p7", "text_config": {"num_hidden_layers": 2,
                    "layer_types": ["full_attention"]}}"#,
                "layer_types",
            ),
        ] {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(field), "{json}: {error}");
        }
    }
}
