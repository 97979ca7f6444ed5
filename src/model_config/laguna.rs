//! poolside Laguna (`model_type: "laguna"`), as `transformers`' `LagunaConfig` and
//! `LagunaForCausalLM` build it.
//!
//! - Layers are full or sliding-window attention from `layer_types` (default: all full); the
//!   sliding layers see `sliding_window` keys (512).
//! - Each layer has its own query-head count, `num_attention_heads_per_layer` (default:
//!   `num_attention_heads`, 48, on every layer), and the same `num_key_value_heads` (8) of
//!   `head_dim` (128). q/k/v/o take `attention_bias`; `q_norm` and `k_norm` are RMSNorms of
//!   `head_dim` shared by the heads.
//! - A softplus output gate from its own bias-free `g_proj`: `gating` `true` or `"per-head"`
//!   gives one gate per head (`Linear(hidden, heads)`); any other value (`false`,
//!   `"per-element"`) one per output channel (`Linear(hidden, heads · head_dim)`).
//! - Feed-forward blocks are dense (`intermediate_size`) or MoE from `mlp_layer_types`
//!   (default: the first layer dense, the rest sparse): `num_experts` experts of
//!   `moe_intermediate_size`, top `num_experts_per_tok`, a shared expert of
//!   `shared_expert_intermediate_size`, a bias-free sigmoid router whose
//!   `e_score_correction_bias` is a parameter (`requires_grad=False`, counted by
//!   `parameters()`).
//! - Partial rotary, the router's soft-capping and `moe_routed_scaling_factor` cost nothing.

use serde_json::Value;

use super::hybrid::layer_kinds;
use super::{
    as_u64, check_top_k, default_seq_len, invalid, key_value_heads, layer_count, layer_types,
    Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, KeyValue, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `LagunaForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2048)?;
    let layers = layer_count(config, &["num_hidden_layers"], 40)?;
    let heads = config.positive_or(&["num_attention_heads"], 48)?;
    let kv_heads = key_value_heads(config, heads, Some(8), false)?;
    let head_dim = config.positive_or(&["head_dim"], 128)?;
    let vocab = config.positive_or(&["vocab_size"], 100352)?;
    let intermediate = config.positive_or(&["intermediate_size"], 8192)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let window = config.positive_or(&["sliding_window"], 512)?;
    let per_head_gate = gating(config)?;
    if !per_head_gate && bias {
        return Err(invalid(
            "gating",
            &config
                .object
                .get("gating")
                .map_or_else(|| "true".to_string(), Value::to_string),
            "with attention_bias true, a per-element g_proj (bias-free beside a biased q_proj) is not modelled",
            "use true or \"per-head\", or attention_bias false",
        ));
    }

    let sliding = layer_types(config, layers)?.unwrap_or_else(|| vec![false; layers as usize]);
    let sparse = match layer_kinds(config, "mlp_layer_types", layers, &["dense", "sparse"])? {
        Some(kinds) => kinds.iter().map(|kind| kind == "sparse").collect(),
        None => (0..layers).map(|i| i != 0).collect::<Vec<_>>(),
    };
    let layer_heads = heads_per_layer(config, heads, kv_heads, layers)?;
    let moe = moe_block(config)?;

    let built = sliding
        .iter()
        .zip(&sparse)
        .zip(&layer_heads)
        .map(|((&sliding, &sparse), &num_heads)| {
            let mixer = AttentionLayer {
                attention: Attention::Standard(StandardAttention {
                    num_heads,
                    num_kv_heads: kv_heads,
                    head_dim,
                    v_head_dim: head_dim,
                    qkv_bias: bias,
                    output_bias: bias,
                    qk_norm: QkNorm::PerHead,
                }),
                window: if sliding {
                    AttentionWindow::Sliding(window)
                } else {
                    AttentionWindow::Full
                },
                rope: true,
                sinks: false,
                // The per-element g_proj is as wide as q_proj and bias-free (refused above
                // with attention_bias): a gated q_proj in parameters and FLOPs.
                output_gate: !per_head_gate,
                head_gate: per_head_gate,
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
    Ok(Model::decoder(
        Family::Laguna,
        d,
        vocab,
        tie,
        built,
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}

/// Whether the output gate is one per head (`gating` true or `"per-head"`, the default) or
/// one per channel (`false` or `"per-element"`).
fn gating(config: &Config) -> Result<bool, ModelConfigError> {
    match config.object.get("gating") {
        None | Some(Value::Bool(true)) => Ok(true),
        Some(Value::String(kind)) if kind == "per-head" => Ok(true),
        Some(Value::Bool(false)) => Ok(false),
        Some(Value::String(kind)) if kind == "per-element" => Ok(false),
        Some(other) => Err(invalid(
            "gating",
            &other.to_string(),
            "is not a Laguna output gate (true or \"per-head\": one per head; \"per-element\": one per channel)",
            "use true, \"per-head\" or \"per-element\", or remove the key",
        )),
    }
}

/// Query heads of each layer: `num_attention_heads_per_layer`, else `num_attention_heads`
/// everywhere. Each must be a multiple of the K/V heads (eager attention repeats them).
fn heads_per_layer(
    config: &Config,
    heads: u64,
    kv_heads: u64,
    layers: u64,
) -> Result<Vec<u64>, ModelConfigError> {
    let key = "num_attention_heads_per_layer";
    let Some(items) = config.list(
        key,
        "must be a list of query-head counts, one per layer",
        "list one head count per layer, or remove it to use num_attention_heads everywhere",
    )?
    else {
        return Ok(vec![heads; layers as usize]);
    };
    if items.len() as u64 != layers {
        return Err(invalid(
            key,
            &format!("a list of {}", items.len()),
            &format!("must have one entry per layer (num_hidden_layers = {layers})"),
            "list one head count per layer",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let n = as_u64(key, item)?;
            if n == 0 || n % kv_heads != 0 {
                return Err(invalid(
                    key,
                    &n.to_string(),
                    &format!(
                        "layer {index}'s query heads must be a positive multiple of num_key_value_heads = {kv_heads}"
                    ),
                    "give each layer a multiple of the K/V heads",
                ));
            }
            Ok(n)
        })
        .collect()
}

/// The MoE block: routed experts, one shared expert, a sigmoid router with a
/// correction-bias parameter.
fn moe_block(config: &Config) -> Result<MixtureOfExperts, ModelConfigError> {
    let num_experts = config.positive_or(&["num_experts"], 256)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 8)?;
    check_top_k(top_k, num_experts, "num_experts")?;
    Ok(MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: config.positive_or(&["moe_intermediate_size"], 512)?,
            bias: false,
        },
        shared: Some(Mlp {
            gated: true,
            intermediate_size: config.positive_or(&["shared_expert_intermediate_size"], 512)?,
            bias: false,
        }),
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::Parameter,
        router_scales: false,
        latent: None,
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Attention, AttentionWindow, FeedForward, Model};
    use crate::model_config::parse;

    fn layer(model: &Model, index: usize) -> (u64, AttentionWindow, bool, bool) {
        let layer = model.layers[index].mixer.attention().unwrap();
        let Attention::Standard(a) = layer.attention else {
            panic!("standard attention expected")
        };
        (
            a.num_heads,
            layer.window,
            layer.head_gate,
            layer.output_gate,
        )
    }

    #[test]
    fn the_defaults_are_full_attention_with_per_head_gates_and_a_dense_first_layer() {
        let model = parse(r#"{"model_type": "laguna"}"#).unwrap();
        assert_eq!(model.layers.len(), 40);
        for index in [0, 1, 39] {
            assert_eq!(
                layer(&model, index),
                (48, AttentionWindow::Full, true, false)
            );
        }
        assert!(matches!(model.layers[0].ffn, FeedForward::Dense(_)));
        assert!(model.layers[1..].iter().all(|l| matches!(
            l.ffn,
            FeedForward::MixtureOfExperts(m) if m.top_k == 8 && m.shared.is_some()
        )));
    }

    #[test]
    fn per_layer_heads_windows_and_gates_are_read() {
        let model = parse(
            r#"{"model_type": "laguna", "num_hidden_layers": 2, "num_key_value_heads": 2,
                "num_attention_heads_per_layer": [4, 8], "gating": "per-element",
                "sliding_window": 32, "layer_types": ["full_attention", "sliding_attention"]}"#,
        )
        .unwrap();
        assert_eq!(layer(&model, 0), (4, AttentionWindow::Full, false, true));
        assert_eq!(
            layer(&model, 1),
            (8, AttentionWindow::Sliding(32), false, true)
        );
    }

    #[test]
    fn configs_transformers_cannot_run_are_refused_with_the_field() {
        for (extra, field) in [
            (
                r#""num_attention_heads_per_layer": [48]"#,
                "num_attention_heads_per_layer",
            ),
            (
                r#""num_attention_heads_per_layer": [48, 12]"#,
                "num_attention_heads_per_layer",
            ),
            (r#""gating": "per-channel""#, "gating"),
            (r#""gating": false, "attention_bias": true"#, "gating"),
            (r#""mlp_layer_types": ["dense", "moe"]"#, "mlp_layer_types"),
            (r#""num_experts_per_tok": 300"#, "num_experts_per_tok"),
        ] {
            let config = format!(r#"{{"model_type": "laguna", "num_hidden_layers": 2, {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
