//! DeepSeek-V4 (`deepseek_v4`): `transformers` 5.24's `DeepseekV4Config` and the layers its
//! `DeepseekV4ForCausalLM` builds.
//!
//! Every layer is one [`DeepseekV4Attention`] (a sliding window over the uncompressed keys,
//! plus compressed keys on CSA and HCA layers) and a MoE block (hash-routed on the first
//! layers), between two hyper-connections. Its fields, as the configuration class reads them:
//! - `layer_types` (`sliding_attention`, `compressed_sparse_attention`,
//!   `heavily_compressed_attention`), else the released configs' `compress_ratios` (0, 4 and
//!   128 name those three kinds; the rates themselves are `compress_rates`), else two HCA
//!   layers and then HCA and CSA in turn; a longer list is cut to `num_hidden_layers`;
//! - `compress_rates` (`{"compressed_sparse_attention": 4, "heavily_compressed_attention": 128}`
//!   when absent; a given object replaces the defaults), overridden by `compress_rate_csa` and
//!   `compress_rate_hca`;
//! - `mlp_layer_types` (`hash_moe`, `moe`), else `num_hash_layers` (3) hash-routed layers
//!   first. A hash-routed layer picks its experts by token id (a `tid2eid` buffer, not a
//!   parameter) and has no score-correction bias; its router matrix still weighs them;
//! - one shared expert of `moe_intermediate_size` whatever `n_shared_experts` says, as the
//!   reference builds it, with `mlp_bias`;
//! - the multi-token-prediction layers (`num_nextn_predict_layers`) are not built by
//!   `transformers` (their checkpoint weights are ignored on load), so they are not counted.

use serde_json::Value;

use super::{check_top_k, default_seq_len, invalid, layer_count, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, CompressedIndexer, DeepseekV4Attention, Family,
    FeedForward, HyperConnections, KeyValue, KvCompression, Layer, Mixer, MixtureOfExperts, Mlp,
    Model, RouterCorrection,
};

const SLIDING: &str = "sliding_attention";
const SPARSE: &str = "compressed_sparse_attention";
const HEAVY: &str = "heavily_compressed_attention";
const ATTENTION_KINDS: &[&str] = &[SLIDING, SPARSE, HEAVY];
const HASH_MOE: &str = "hash_moe";
const MOE: &str = "moe";

pub(super) fn model(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 43)?;
    let heads = config.positive_or(&["num_attention_heads"], 64)?;
    let head_dim = config.positive_or(&["head_dim"], 512)?;
    let vocab = config.positive_or(&["vocab_size"], 129280)?;
    let o_groups = config.positive_or(&["o_groups"], 8)?;
    if (heads * head_dim) % o_groups != 0 {
        return Err(invalid(
            "o_groups",
            &o_groups.to_string(),
            &format!(
                "does not divide the {} query channels (num_attention_heads × head_dim) into equal groups",
                heads * head_dim
            ),
            "use a divisor of num_attention_heads × head_dim (8 for DeepSeek-V4-Flash)",
        ));
    }
    let attention = DeepseekV4Attention {
        num_heads: heads,
        head_dim,
        q_lora_rank: config.positive_or(&["q_lora_rank"], 1024)?,
        o_groups,
        o_lora_rank: config.positive_or(&["o_lora_rank"], 1024)?,
        compression: None,
    };
    let kinds = attention_kinds(config, layers)?;
    let rate = |kind: &str| compress_rate(config, kind);
    let sparse = if kinds.iter().any(|k| k == SPARSE) {
        Some(KvCompression::Sparse {
            rate: rate(SPARSE)?,
            indexer: CompressedIndexer {
                num_heads: config.positive_or(&["index_n_heads"], 64)?,
                head_dim: config.positive_or(&["index_head_dim"], 128)?,
                top_k: config.positive_or(&["index_topk"], 512)?,
            },
        })
    } else {
        None
    };
    let heavy = if kinds.iter().any(|k| k == HEAVY) {
        Some(KvCompression::Heavy { rate: rate(HEAVY)? })
    } else {
        None
    };
    let window = AttentionWindow::Sliding(config.positive_or(&["sliding_window"], 128)?);

    let experts_keys: &[&'static str] = &["num_local_experts", "n_routed_experts"];
    let num_experts = config.positive_or(experts_keys, 256)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 6)?;
    check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
    let expert_size = config.positive_or(&["intermediate_size", "moe_intermediate_size"], 2048)?;
    let moe = MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: expert_size,
            bias: false,
        },
        shared: Some(Mlp {
            gated: true,
            intermediate_size: expert_size,
            bias: config.bool_or(&["mlp_bias"], false)?,
        }),
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::Buffer,
        router_scales: false,
        latent: None,
    };
    let hashed = hash_routed(config, layers)?;

    let layers = kinds
        .iter()
        .zip(hashed)
        .map(|(kind, hashed)| {
            let compression = match kind.as_str() {
                SPARSE => sparse,
                HEAVY => heavy,
                _ => None,
            };
            let mixer = Mixer::Attention(AttentionLayer {
                attention: Attention::DeepseekV4(DeepseekV4Attention {
                    compression,
                    ..attention
                }),
                window,
                rope: true,
                sinks: true,
                output_gate: false,
                head_gate: false,
                indexer: None,
                key_value: KeyValue::KeyIsValue,
            });
            let router_correction = if hashed {
                RouterCorrection::None
            } else {
                RouterCorrection::Buffer
            };
            Layer::new(
                mixer,
                FeedForward::MixtureOfExperts(MixtureOfExperts {
                    router_correction,
                    ..moe
                }),
            )
        })
        .collect();
    // transformers builds no MTP layers for DeepSeek-V4.
    Ok(Model {
        hyper_connections: Some(HyperConnections {
            streams: config.positive_or(&["hc_mult"], 4)?,
        }),
        ..Model::decoder(
            Family::DeepseekV4,
            d,
            vocab,
            config.bool_or(&["tie_word_embeddings"], false)?,
            layers,
            default_seq_len(config, &["max_position_embeddings"], 1048576)?,
        )
    })
}

/// A list of strings, one per layer, cut to `layers` as the configuration class cuts it;
/// `None` when absent or null.
fn kind_list(
    config: &Config,
    key: &'static str,
    layers: u64,
    kinds: &[&str],
) -> Result<Option<Vec<String>>, ModelConfigError> {
    let fix = format!("list one of {} per layer", kinds.join(", "));
    let Some(items) = config.list(key, "must be a list of layer kinds", &fix)? else {
        return Ok(None);
    };
    too_short(key, items.len(), layers)?;
    items
        .iter()
        .take(layers as usize)
        .map(|item| match item {
            Value::String(kind) if kinds.contains(&kind.as_str()) => Ok(kind.clone()),
            other => Err(invalid(
                key,
                &other.to_string(),
                "is not a layer kind of DeepSeek-V4",
                &format!("use one of {}", kinds.join(", ")),
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn too_short(key: &'static str, len: usize, layers: u64) -> Result<(), ModelConfigError> {
    if (len as u64) < layers {
        return Err(invalid(
            key,
            &format!("a list of {len}"),
            &format!("has fewer entries than layers (num_hidden_layers = {layers})"),
            "give one entry per layer, or remove the key to take the default pattern",
        ));
    }
    Ok(())
}

/// Each layer's attention kind: `layer_types`, else `compress_ratios`, else the default
/// pattern (two HCA layers, then HCA and CSA in turn).
fn attention_kinds(config: &Config, layers: u64) -> Result<Vec<String>, ModelConfigError> {
    if let Some(kinds) = kind_list(config, "layer_types", layers, ATTENTION_KINDS)? {
        return Ok(kinds);
    }
    let key = "compress_ratios";
    match config.object.get(key) {
        None | Some(Value::Null) => Ok((0..layers)
            .map(|i| {
                if i < 2 || (i - 2) % 2 == 0 {
                    HEAVY.to_string()
                } else {
                    SPARSE.to_string()
                }
            })
            .collect()),
        Some(Value::Array(items)) => {
            too_short(key, items.len(), layers)?;
            // Every entry is mapped (the class maps the MTP layer's too), then cut to the layers.
            let kinds = items
                .iter()
                .map(|item| match item.as_u64() {
                    Some(0) => Ok(SLIDING.to_string()),
                    Some(4) => Ok(SPARSE.to_string()),
                    Some(128) => Ok(HEAVY.to_string()),
                    _ => Err(invalid(
                        key,
                        &item.to_string(),
                        "is not a layer kind: the configuration class maps only 0 (sliding), 4 \
                         (compressed sparse) and 128 (heavily compressed)",
                        "give 0, 4 or 128 per layer (the rates are compress_rates), or use layer_types",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(kinds.into_iter().take(layers as usize).collect())
        }
        Some(other) => Err(invalid(
            key,
            &other.to_string(),
            "must be a list of 0, 4 or 128 per layer",
            "write e.g. [0, 0, 4, 128]",
        )),
    }
}

/// The compression rate of a CSA or HCA layer: `compress_rate_csa` / `compress_rate_hca`, else
/// `compress_rates[kind]`, else the default (4 and 128) when `compress_rates` is absent.
fn compress_rate(config: &Config, kind: &str) -> Result<u64, ModelConfigError> {
    let (legacy, default) = if kind == SPARSE {
        ("compress_rate_csa", 4)
    } else {
        ("compress_rate_hca", 128)
    };
    if let Some(rate) = config.optional_u64(&[legacy])? {
        return positive_rate(legacy, rate);
    }
    let key = "compress_rates";
    match config.object.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Object(rates)) => match rates.get(kind) {
            Some(value) => match value.as_u64() {
                Some(rate) => positive_rate(key, rate),
                None => Err(invalid(
                    key,
                    &value.to_string(),
                    &format!("gives {kind} a rate that is not a whole number"),
                    "give the tokens per compressed entry, e.g. 4",
                )),
            },
            None => Err(invalid(
                key,
                &Value::Object(rates.clone()).to_string(),
                &format!("has no rate for {kind}, which a layer uses"),
                &format!("add \"{kind}\": {default}, or remove the key to take the defaults"),
            )),
        },
        Some(other) => Err(invalid(
            key,
            &other.to_string(),
            "must be an object of rates by layer kind",
            "write e.g. {\"compressed_sparse_attention\": 4, \"heavily_compressed_attention\": 128}",
        )),
    }
}

fn positive_rate(key: &'static str, rate: u64) -> Result<u64, ModelConfigError> {
    if rate == 0 {
        return Err(invalid(
            key,
            "0",
            "must be at least 1 (tokens per compressed entry)",
            "give the compression rate, e.g. 4 or 128",
        ));
    }
    Ok(rate)
}

/// Whether each layer's experts are hash-routed: `mlp_layer_types`, else the first
/// `num_hash_layers` (3).
fn hash_routed(config: &Config, layers: u64) -> Result<Vec<bool>, ModelConfigError> {
    if let Some(kinds) = kind_list(config, "mlp_layer_types", layers, &[HASH_MOE, MOE])? {
        return Ok(kinds.iter().map(|k| k == HASH_MOE).collect());
    }
    let hashed = config.u64_or(&["num_hash_layers"], 3)?;
    Ok((0..layers).map(|i| i < hashed).collect())
}

#[cfg(test)]
mod tests {
    use crate::accounting::flops::{self, AttentionCounting, FlopOptions, Recompute};
    use crate::accounting::model::FeedForward;
    use crate::accounting::model::{Attention, KvCompression, Mixer, Model, RouterCorrection};
    use crate::model_config::{parse, ModelConfigError};

    fn model(json: &str) -> Result<Model, ModelConfigError> {
        parse(json)
    }

    fn kinds(model: &Model) -> Vec<&'static str> {
        model
            .layers
            .iter()
            .map(|layer| match &layer.mixer {
                Mixer::Attention(a) => match a.attention {
                    Attention::DeepseekV4(v4) => match v4.compression {
                        None => "sliding",
                        Some(KvCompression::Sparse { .. }) => "csa",
                        Some(KvCompression::Heavy { .. }) => "hca",
                    },
                    _ => "other",
                },
                _ => "other",
            })
            .collect()
    }

    fn refused(json: &str) -> String {
        model(json).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn layer_kinds_follow_layer_types_then_compress_ratios_then_the_default() {
        let m = model(r#"{"model_type": "deepseek_v4", "num_hidden_layers": 5}"#).unwrap();
        assert_eq!(kinds(&m), ["hca", "hca", "hca", "csa", "hca"]);
        let m = model(
            r#"{"model_type": "deepseek_v4", "num_hidden_layers": 3, "compress_ratios": [0, 4, 128, 4]}"#,
        )
        .unwrap();
        assert_eq!(kinds(&m), ["sliding", "csa", "hca"]);
        let m = model(
            r#"{"model_type": "deepseek_v4", "num_hidden_layers": 2, "compress_ratios": [4, 4],
                "layer_types": ["heavily_compressed_attention", "sliding_attention"]}"#,
        )
        .unwrap();
        assert_eq!(kinds(&m), ["hca", "sliding"]);
    }

    #[test]
    fn hash_routed_layers_have_no_correction_bias() {
        let m =
            model(r#"{"model_type": "deepseek_v4", "num_hidden_layers": 4, "num_hash_layers": 1}"#)
                .unwrap();
        let corrections: Vec<bool> = m
            .layers
            .iter()
            .map(|l| match l.ffn {
                FeedForward::MixtureOfExperts(moe) => {
                    moe.router_correction == RouterCorrection::Buffer
                }
                _ => false,
            })
            .collect();
        assert_eq!(corrections, [false, true, true, true]);
    }

    #[test]
    fn bad_layer_patterns_and_rates_name_the_field() {
        for (json, field) in [
            (
                r#"{"model_type": "deepseek_v4", "num_hidden_layers": 3, "compress_ratios": [0, 4]}"#,
                "compress_ratios",
            ),
            (
                r#"{"model_type": "deepseek_v4", "num_hidden_layers": 2, "compress_ratios": [0, 8]}"#,
                "compress_ratios",
            ),
            // An entry past the decoder layers (the MTP layer's) is checked too.
            (
                r#"{"model_type": "deepseek_v4", "num_hidden_layers": 2, "compress_ratios": [0, 4, 7]}"#,
                "compress_ratios",
            ),
            (
                r#"{"model_type": "deepseek_v4", "num_hidden_layers": 2, "layer_types": ["sliding_attention", "full_attention"]}"#,
                "layer_types",
            ),
            (
                r#"{"model_type": "deepseek_v4", "num_hidden_layers": 2, "mlp_layer_types": ["moe"]}"#,
                "mlp_layer_types",
            ),
            (
                r#"{"model_type": "deepseek_v4", "num_hidden_layers": 2, "compress_rates": {"compressed_sparse_attention": 4}}"#,
                "compress_rates",
            ),
            (
                r#"{"model_type": "deepseek_v4", "compress_rate_csa": 0}"#,
                "compress_rate_csa",
            ),
            (
                r#"{"model_type": "deepseek_v4", "o_groups": 3}"#,
                "o_groups",
            ),
        ] {
            let error = refused(json);
            assert!(error.contains(field), "{json}: {error}");
        }
    }

    #[test]
    fn compressed_keys_add_to_the_window_and_the_indexer_has_no_backward() {
        let json = r#"{"model_type": "deepseek_v4", "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "head_dim": 32, "q_lora_rank": 32, "o_groups": 2,
            "o_lora_rank": 16, "n_routed_experts": 4, "num_experts_per_tok": 2,
            "moe_intermediate_size": 24, "index_n_heads": 4, "index_head_dim": 16,
            "index_topk": 8, "sliding_window": 16, "vocab_size": 100,
            "layer_types": ["compressed_sparse_attention", "heavily_compressed_attention"],
            "compress_rates": {"compressed_sparse_attention": 4, "heavily_compressed_attention": 16}}"#;
        let m = model(json).unwrap();
        let options = FlopOptions {
            seq_len: 64,
            attention: AttentionCounting::Full,
            include_mtp: false,
            recompute: Recompute::None,
        };
        let detailed = flops::detailed(&m, &options);
        let scores = detailed
            .components
            .iter()
            .find(|c| c.name == "attention_scores")
            .map_or(0.0, |c| c.forward);
        // CSA: 16 window keys + min(8, 64 / 4) entries; HCA: 16 + 64 / 16.
        assert_eq!(scores, 2.0 * (16.0 + 8.0 + 16.0 + 4.0) * 4.0 * 32.0);
        let indexer = detailed
            .components
            .iter()
            .find(|c| c.name == "csa_indexer")
            .map_or(0.0, |c| c.forward);
        assert!(indexer > 0.0);
        assert_eq!(
            detailed.totals.training,
            3.0 * detailed.totals.forward - 2.0 * indexer
        );
    }
}
