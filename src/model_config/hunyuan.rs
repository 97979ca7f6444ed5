//! Tencent's remote-code Hunyuan config (`model_type: "hunyuan"`, the `config.json` the
//! Hunyuan-A13B checkpoint ships with `configuration_hunyuan.py` and `modeling_hunyuan.py`),
//! read as that remote code builds the model.
//!
//! The remote code and `transformers`' `hunyuan_v1_moe` build the same modules for
//! Hunyuan-A13B, but read the config differently, so the fields are mapped here rather than
//! renamed:
//! - heads are `hidden_size / num_attention_heads` wide (the remote code reads neither
//!   `attention_head_dim` nor `head_dim`; an `attention_head_dim` that disagrees is refused);
//! - the q/k norms exist only with `use_qk_norm` (default false);
//! - the shared MLP exists only with `use_mixed_mlp_moe` (default false) and is
//!   `intermediate_size · num_shared_expert[0]` wide; experts are `intermediate_size` wide
//!   (`moe_intermediate_size` is not read);
//! - a layer is MoE when `num_experts > 1`, a dense `intermediate_size` MLP otherwise;
//! - every layer routes to `moe_topk[0]` experts (or 1 for `moe_topk: 1`), whatever the
//!   other entries say.
//!
//! Cross-layer attention (`use_cla`) and the classification head are refused: the first
//! drops k/v projections but keeps key norms, which the accounting has no shape for yet.

use serde_json::{Map, Value};

use super::{as_u64, divide_heads, invalid, llama_like, Config, ModelConfigError};
use crate::accounting::model::{Attention, Family, FeedForward, Mixer, Mlp, Model, QkNorm};

/// The `model_type` of the remote-code config.
pub(super) const MODEL_TYPE: &str = "hunyuan";

/// Builds the model the remote code (`HunYuanMoEV1ForCausalLM`) instantiates.
pub(super) fn remote_code(object: &Map<String, Value>) -> Result<Model, ModelConfigError> {
    let config = Config { object };
    for key in ["use_cla", "add_classification_head"] {
        if config.bool_or(&[key], false)? {
            return Err(invalid(
                key,
                "true",
                "is not supported for the remote-code Hunyuan config",
                "count a config without it, or one in transformers' hunyuan_v1_moe format",
            ));
        }
    }
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let head_dim = divide_heads(d, heads, "hidden_size", "num_attention_heads")?;
    if let Some(stated) = config.optional_u64(&["attention_head_dim"])? {
        if stated != head_dim {
            return Err(invalid(
                "attention_head_dim",
                &stated.to_string(),
                &format!(
                    "differs from hidden_size / num_attention_heads = {head_dim}, the head width the remote code builds"
                ),
                "check the config against its modeling_hunyuan.py",
            ));
        }
    }
    let num_experts = config.u64_or(&["num_experts"], 1)?;
    let top_k = remote_top_k(&config)?;
    let qk_norm = config.bool_or(&["use_qk_norm"], false)?;
    let intermediate = config.positive_or(&["intermediate_size"], 11008)?;
    let shared = if config.bool_or(&["use_mixed_mlp_moe"], false)? {
        let count = first_shared_expert_count(&config)?;
        let width = intermediate.checked_mul(count).ok_or_else(|| {
            invalid(
                "num_shared_expert",
                &count.to_string(),
                &format!("times intermediate_size = {intermediate} does not fit 64 bits"),
                "check both for a typo or a unit mistake",
            )
        })?;
        (width > 0).then_some(width)
    } else {
        None
    };

    // The fields the transformers builder reads, with the remote code's meaning; the rest
    // (norms, biases, tying, vocabulary, layer count) mean the same in both.
    let mut mapped = object.clone();
    mapped.insert("model_type".into(), "hunyuan_v1_moe".into());
    mapped.remove("attention_head_dim");
    mapped.insert("head_dim".into(), head_dim.into());
    // num_experts 0 makes the builder use dense MLPs, as the remote code does for 1.
    let routed = if num_experts > 1 { num_experts } else { 0 };
    mapped.insert("num_experts".into(), routed.into());
    mapped.insert("moe_topk".into(), top_k.into());
    let mut model = llama_like(&Config { object: &mapped }, Family::HunyuanV1Moe)?;

    for layer in &mut model.layers {
        if let Mixer::Attention(mixer) = &mut layer.mixer {
            if let Attention::Standard(attention) = &mut mixer.attention {
                if !qk_norm {
                    attention.qk_norm = QkNorm::None;
                }
            }
        }
        if let FeedForward::MixtureOfExperts(moe) = &mut layer.ffn {
            moe.shared = shared.map(|width| Mlp {
                intermediate_size: width,
                ..moe.expert
            });
        }
    }
    Ok(model)
}

/// The top-k every layer uses: `HunYuanTopKGate` takes top-1 routing for `moe_topk: 1` and
/// `moe_topk[0]` otherwise (an integer other than 1 fails there).
fn remote_top_k(config: &Config) -> Result<u64, ModelConfigError> {
    let top_k = match config.object.get("moe_topk") {
        None => 1,
        Some(Value::Array(items)) => match items.first() {
            Some(first) => as_u64("moe_topk", first)?,
            None => {
                return Err(invalid(
                    "moe_topk",
                    "[]",
                    "is an empty list",
                    "give the top-k of each layer",
                ))
            }
        },
        Some(value) => {
            let k = as_u64("moe_topk", value)?;
            if k != 1 {
                return Err(invalid(
                    "moe_topk",
                    &k.to_string(),
                    "must be 1 or a list (the remote code indexes it as moe_topk[0])",
                    "write one top-k per layer, e.g. [8, 8, ...]",
                ));
            }
            k
        }
    };
    if top_k == 0 {
        return Err(invalid(
            "moe_topk",
            "0",
            "must be at least 1",
            "set the number of experts each token is routed to",
        ));
    }
    Ok(top_k)
}

/// `num_shared_expert[0]`, the width multiplier of the shared MLP.
fn first_shared_expert_count(config: &Config) -> Result<u64, ModelConfigError> {
    match config.object.get("num_shared_expert") {
        Some(Value::Array(items)) => match items.first() {
            Some(first) => as_u64("num_shared_expert", first),
            None => Err(invalid(
                "num_shared_expert",
                "[]",
                "is an empty list",
                "give the shared-expert count of each layer",
            )),
        },
        Some(other) => Err(invalid(
            "num_shared_expert",
            &other.to_string(),
            "must be a list with use_mixed_mlp_moe (the remote code reads num_shared_expert[0])",
            "write one count per layer, e.g. [1, 1, ...]",
        )),
        None => Err(invalid(
            "num_shared_expert",
            "absent",
            "is needed with use_mixed_mlp_moe (the remote code reads num_shared_expert[0])",
            "write one count per layer, e.g. [1, 1, ...]",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, ModelConfigError};

    fn refused_field(json: &str) -> &'static str {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, .. }) => field,
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn what_the_remote_code_cannot_build_is_refused_by_field() {
        let base = r#""model_type": "hunyuan", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2"#;
        let check = |extra: &str, field: &str| {
            let json = format!("{{{base}, {extra}}}");
            assert_eq!(refused_field(&json), field, "{extra}");
        };
        check(r#""use_cla": true, "cla_share_factor": 2"#, "use_cla");
        check(
            r#""add_classification_head": true"#,
            "add_classification_head",
        );
        // Heads are hidden_size / num_attention_heads = 16 wide in the remote code.
        check(r#""attention_head_dim": 128"#, "attention_head_dim");
        // HunYuanTopKGate indexes moe_topk[0] unless it is 1.
        check(r#""num_experts": 4, "moe_topk": 2"#, "moe_topk");
        check(r#""num_experts": 4, "moe_topk": []"#, "moe_topk");
        check(
            r#""num_experts": 4, "use_mixed_mlp_moe": true, "num_shared_expert": 1"#,
            "num_shared_expert",
        );
        check(
            r#""num_experts": 4, "use_mixed_mlp_moe": true"#,
            "num_shared_expert",
        );
    }

    #[test]
    fn every_layer_routes_to_the_first_listed_top_k() {
        let model = parse(
            r#"{"model_type": "hunyuan", "hidden_size": 64, "num_attention_heads": 4,
                "num_hidden_layers": 2, "num_experts": 4, "moe_topk": [2, 3]}"#,
        )
        .unwrap();
        let top_k: Vec<u64> = model
            .layers
            .iter()
            .filter_map(|layer| match &layer.ffn {
                crate::accounting::model::FeedForward::MixtureOfExperts(moe) => Some(moe.top_k),
                _ => None,
            })
            .collect();
        assert_eq!(top_k, vec![2, 2]);
    }
}
