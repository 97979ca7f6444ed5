//! Xiaomi MiMo-V2-Flash (`model_type: "mimo_v2_flash"`), as `transformers`'
//! `MiMoV2FlashConfig` and `MiMoV2FlashForCausalLM` build it.
//!
//! - Layers are full or sliding-window attention from `layer_types` (default: full at layer 0
//!   and every sixth layer, `(i + 1) % 6 == 0`, sliding elsewhere). The window is
//!   `sliding_window` (129 by default), or `sliding_window_size + 1` when the config gives
//!   `sliding_window_size` (the Hub file's 128 previous tokens plus the query).
//! - Every layer has `num_attention_heads` query heads of `head_dim` (192) and values of
//!   `v_head_dim` (128): `v_proj` is `kv · v_head_dim` wide, `o_proj` reads
//!   `heads · v_head_dim`. Full layers have `num_key_value_heads` K/V heads, sliding layers
//!   twice as many, and one learned sink logit per query head (`sinks`). q/k/v take
//!   `attention_bias`; `o_proj` has none.
//! - Feed-forward blocks are dense (`intermediate_size`) or MoE from `mlp_layer_types`
//!   (default: the first layer dense, the rest MoE): `n_routed_experts` experts of
//!   `moe_intermediate_size`, top `num_experts_per_tok`, no shared expert, a bias-free
//!   sigmoid router whose `e_score_correction_bias` is a buffer.
//! - `attention_value_scale` multiplies the values (elementwise); partial rotary costs
//!   nothing.
//!
//! The Hub's `config.json` also describes the model in the fields of Xiaomi's own code,
//! which `transformers` 5.24 does not read: `hybrid_layer_pattern` (0 full, 1 sliding),
//! `moe_layer_freq` (0 dense, 1 MoE), `swa_num_attention_heads`, `swa_num_key_value_heads`,
//! `swa_head_dim`, `swa_v_head_dim`, `add_swa_attention_sink_bias` and
//! `add_full_attention_sink_bias`. Where one is given it must describe the model
//! `transformers` builds (it does, in the published config); one that does not is refused,
//! naming the field, rather than counting a model other than the one described.

use serde_json::Value;

use super::hybrid::layer_kinds;
use super::{
    as_u64, check_top_k, default_seq_len, invalid, key_value_heads, layer_count, layer_types,
    Config, Field, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, KeyValue, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `MiMoV2FlashForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 48)?;
    let heads = config.positive_or(&["num_attention_heads"], 64)?;
    let kv_heads = key_value_heads(config, heads, Some(4), false)?;
    let head_dim = config.positive_or(&["head_dim"], 192)?;
    let v_head_dim = config.positive_or(&["v_head_dim"], 128)?;
    let vocab = config.positive_or(&["vocab_size"], 152576)?;
    let intermediate = config.positive_or(&["intermediate_size"], 16384)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;

    let sliding = match layer_types(config, layers)? {
        Some(kinds) => kinds,
        None => (0..layers).map(|i| i != 0 && (i + 1) % 6 != 0).collect(),
    };
    let sparse = match layer_kinds(config, "mlp_layer_types", layers, &["dense", "sparse"])? {
        Some(kinds) => kinds.iter().map(|kind| kind == "sparse").collect(),
        None => (0..layers).map(|i| i != 0).collect::<Vec<_>>(),
    };
    check_pattern(config, "hybrid_layer_pattern", &sliding, "layer_types")?;
    check_pattern(config, "moe_layer_freq", &sparse, "mlp_layer_types")?;

    // Sliding layers double the K/V heads; their query groups must still divide evenly.
    // At most 2 × MAX_INTEGER: no overflow.
    let swa_kv_heads = 2 * kv_heads;
    if sliding.iter().any(|s| *s) && heads % swa_kv_heads != 0 {
        return Err(invalid(
            "num_key_value_heads",
            &kv_heads.to_string(),
            &format!(
                "twice it ({swa_kv_heads}, the sliding layers' K/V heads) must divide num_attention_heads = {heads}"
            ),
            "use a K/V head count whose double divides the attention heads",
        ));
    }
    check_same(
        config,
        "swa_num_attention_heads",
        heads,
        "num_attention_heads",
    )?;
    check_same(
        config,
        "swa_num_key_value_heads",
        swa_kv_heads,
        "2 × num_key_value_heads",
    )?;
    check_same(config, "swa_head_dim", head_dim, "head_dim")?;
    check_same(config, "swa_v_head_dim", v_head_dim, "v_head_dim")?;
    check_flag(config, "add_swa_attention_sink_bias", true)?;
    check_flag(config, "add_full_attention_sink_bias", false)?;

    let window = sliding_window(config)?;
    let moe = moe_block(config)?;
    let attention = |num_kv_heads: u64| {
        Attention::Standard(StandardAttention {
            num_heads: heads,
            num_kv_heads,
            head_dim,
            v_head_dim,
            qkv_bias: bias,
            output_bias: false,
            qk_norm: QkNorm::None,
        })
    };
    let built = sliding
        .iter()
        .zip(&sparse)
        .map(|(&sliding, &sparse)| {
            let mixer = AttentionLayer {
                attention: attention(if sliding { swa_kv_heads } else { kv_heads }),
                window: if sliding {
                    AttentionWindow::Sliding(window)
                } else {
                    AttentionWindow::Full
                },
                rope: true,
                sinks: sliding,
                output_gate: false,
                head_gate: false,
                indexer: None,
                key_value: KeyValue::Own,
            };
            let ffn = if sparse {
                FeedForward::MixtureOfExperts(moe)
            } else {
                FeedForward::Dense(Mlp {
                    gated: true,
                    intermediate_size: intermediate,
                    bias: false,
                })
            };
            Layer::new(Mixer::Attention(mixer), ffn)
        })
        .collect();
    // The checkpoint's MTP layers (`model.mtp.*`) are not built by transformers.
    Ok(Model::decoder(
        Family::MimoV2Flash,
        d,
        vocab,
        tie,
        built,
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}

/// The sliding layers' window: `sliding_window_size + 1` when given (transformers' reading of
/// the Hub field), else `sliding_window` (129).
fn sliding_window(config: &Config) -> Result<u64, ModelConfigError> {
    match config.optional_u64(&["sliding_window_size"])? {
        Some(size) => Ok(size + 1),
        None => config.positive_or(&["sliding_window"], 129),
    }
}

/// The MoE block: routed experts only, a sigmoid router with a correction-bias buffer.
fn moe_block(config: &Config) -> Result<MixtureOfExperts, ModelConfigError> {
    let experts_keys = &["num_local_experts", "n_routed_experts"];
    let num_experts = config.positive_or(experts_keys, 256)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 8)?;
    check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
    Ok(MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: config.positive_or(&["moe_intermediate_size"], 2048)?,
            bias: false,
        },
        shared: None,
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::Buffer,
        router_scales: false,
        latent: None,
    })
}

/// A Hub layer pattern of 0s and 1s (`hybrid_layer_pattern`: 1 sliding; `moe_layer_freq`:
/// 1 MoE), which must agree with the layers transformers builds from `read_key`.
fn check_pattern(
    config: &Config,
    key: &'static str,
    built: &[bool],
    read_key: &str,
) -> Result<(), ModelConfigError> {
    let items = match config.field(&[key]) {
        (_, Field::Absent | Field::Null) => return Ok(()),
        (_, Field::Present(Value::Array(items))) => items,
        (_, Field::Present(other)) => {
            return Err(invalid(
                key,
                &other.to_string(),
                "must be a list of 0 and 1, one per layer",
                &format!("remove it and give {read_key}, which transformers reads"),
            ))
        }
    };
    if items.len() != built.len() {
        return Err(invalid(
            key,
            &format!("a list of {}", items.len()),
            &format!(
                "must have one entry per layer (num_hidden_layers = {})",
                built.len()
            ),
            "give one 0 or 1 per layer",
        ));
    }
    for (index, (item, built)) in items.iter().zip(built).enumerate() {
        let flag = match as_u64(key, item)? {
            0 => false,
            1 => true,
            other => {
                return Err(invalid(
                    key,
                    &other.to_string(),
                    &format!("layer {index} is neither 0 nor 1"),
                    "write 0 or 1 for each layer",
                ))
            }
        };
        if flag != *built {
            return Err(invalid(
                key,
                &format!("{} at layer {index}", u64::from(flag)),
                &format!(
                    "disagrees with the layer transformers builds from {read_key} (or its default), which it reads instead"
                ),
                &format!("give {read_key} to match it"),
            ));
        }
    }
    Ok(())
}

/// A Hub field transformers does not read, which must equal what it builds.
fn check_same(
    config: &Config,
    key: &'static str,
    built: u64,
    source: &str,
) -> Result<(), ModelConfigError> {
    match config.optional_u64(&[key])? {
        Some(stated) if stated != built => Err(invalid(
            key,
            &stated.to_string(),
            &format!(
                "differs from {source} = {built}, what transformers builds on the sliding layers (it does not read this field)"
            ),
            &format!("remove it, or set it to {built}"),
        )),
        _ => Ok(()),
    }
}

/// A Hub sink flag transformers does not read: it builds sinks on every sliding layer and on
/// no full layer.
fn check_flag(config: &Config, key: &'static str, built: bool) -> Result<(), ModelConfigError> {
    if config.bool_or(&[key], built)? != built {
        return Err(invalid(
            key,
            &(!built).to_string(),
            &format!(
                "transformers builds {} (it does not read this field)",
                if built {
                    "attention sinks on every sliding layer"
                } else {
                    "no attention sinks on full layers"
                }
            ),
            &format!("remove it, or set it to {built}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Attention, AttentionWindow, FeedForward, Model};
    use crate::model_config::parse;

    fn attention(model: &Model, index: usize) -> (u64, AttentionWindow, bool) {
        let layer = model.layers[index].mixer.attention().unwrap();
        let Attention::Standard(a) = layer.attention else {
            panic!("standard attention expected")
        };
        (a.num_kv_heads, layer.window, layer.sinks)
    }

    #[test]
    fn the_defaults_alternate_full_and_sliding_layers_with_their_own_heads() {
        let model = parse(r#"{"model_type": "mimo_v2_flash"}"#).unwrap();
        assert_eq!(model.layers.len(), 48);
        // Full at 0 and every sixth layer (5, 11, ...): 4 K/V heads, no sinks.
        for full in [0, 5, 11, 47] {
            assert_eq!(attention(&model, full), (4, AttentionWindow::Full, false));
        }
        // Sliding elsewhere: twice the K/V heads, a window of 129, sinks.
        for sliding in [1, 4, 6, 46] {
            assert_eq!(
                attention(&model, sliding),
                (8, AttentionWindow::Sliding(129), true)
            );
        }
        assert!(matches!(model.layers[0].ffn, FeedForward::Dense(_)));
        assert!(model.layers[1..]
            .iter()
            .all(|l| matches!(l.ffn, FeedForward::MixtureOfExperts(m) if m.top_k == 8)));
        let layer = model.layers[0].mixer.attention().unwrap();
        assert_eq!(
            (layer.attention.qk_head_dim(), layer.attention.v_head_dim()),
            (192, 128)
        );
    }

    #[test]
    fn sliding_window_size_counts_the_query_too() {
        let model = parse(
            r#"{"model_type": "mimo_v2_flash", "num_hidden_layers": 2, "sliding_window": 128, "sliding_window_size": 128}"#,
        )
        .unwrap();
        assert_eq!(attention(&model, 1).1, AttentionWindow::Sliding(129));
    }

    #[test]
    fn hub_fields_that_disagree_with_the_built_model_are_refused() {
        for (extra, field) in [
            (
                r#""hybrid_layer_pattern": [0, 0, 1]"#,
                "hybrid_layer_pattern",
            ),
            (r#""hybrid_layer_pattern": [0, 1]"#, "hybrid_layer_pattern"),
            (r#""moe_layer_freq": [1, 1, 1]"#, "moe_layer_freq"),
            (r#""swa_num_key_value_heads": 4"#, "swa_num_key_value_heads"),
            (
                r#""swa_num_attention_heads": 32"#,
                "swa_num_attention_heads",
            ),
            (r#""swa_head_dim": 128"#, "swa_head_dim"),
            (r#""swa_v_head_dim": 192"#, "swa_v_head_dim"),
            (
                r#""add_full_attention_sink_bias": true"#,
                "add_full_attention_sink_bias",
            ),
            (
                r#""add_swa_attention_sink_bias": false"#,
                "add_swa_attention_sink_bias",
            ),
            (r#""num_key_value_heads": 64"#, "num_key_value_heads"),
        ] {
            let config =
                format!(r#"{{"model_type": "mimo_v2_flash", "num_hidden_layers": 3, {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
        // The same fields, agreeing with what transformers builds, are accepted.
        let agreeing = r#"{"model_type": "mimo_v2_flash", "num_hidden_layers": 3,
            "hybrid_layer_pattern": [0, 1, 1], "moe_layer_freq": [0, 1, 1],
            "swa_num_attention_heads": 64, "swa_num_key_value_heads": 8, "swa_head_dim": 192,
            "swa_v_head_dim": 128, "add_swa_attention_sink_bias": true,
            "add_full_attention_sink_bias": false}"#;
        assert!(parse(agreeing).is_ok());
    }
}
