//! Cohere 2 MoE (`model_type: "cohere2_moe"`), as `transformers`' `Cohere2MoeConfig` and
//! `Cohere2MoeForCausalLM` build it.
//!
//! - Cohere 2's parallel layer: one norm read by attention and the feed-forward block side
//!   by side. The norm (and the final one) is an RMSNorm when `rms_norm_eps` is given (not
//!   null), else Cohere's bias-free LayerNorm.
//! - `head_dim` a field (128); `attention_bias` on q, k, v and o.
//! - Layers: `first_k_dense_replace` (0, a keyword the class pops) dense prefix layers, whose
//!   kinds follow `prefix_dense_sliding_window_pattern` (1: all full), then the others by
//!   `sliding_window_pattern` (4) counted from the first of them; `layer_types` and
//!   `mlp_layer_types` replace either. Sliding layers take `sliding_window` (4096) and
//!   rotate; full layers rotate only when dense with a prefix pattern of 1.
//! - A dense layer's MLP is `prefix_dense_intermediate_size` wide (null: `intermediate_size`).
//!   A sparse layer has `num_experts` gated experts of `intermediate_size`, a bias-free
//!   router, top `num_experts_per_tok`, and with `num_shared_experts` one shared MLP that many
//!   times as wide.
//! - A head tied to the embedding by default (`tie_word_embeddings`, true).

use super::cohere2::{by_kind, pattern, sliding_window};
use super::{
    check_top_k, default_seq_len, invalid, key_value_heads, layer_count, layer_types, Config,
    ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, Norm, QkNorm, RouterCorrection, StandardAttention,
};
use serde_json::Value;

/// Builds the model `Cohere2MoeForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 8192)?;
    let layer_total = layer_count(config, &["num_hidden_layers"], 40)?;
    let heads = config.positive_or(&["num_attention_heads"], 64)?;
    let kv_heads = key_value_heads(config, heads, None, true)?;
    let head_dim = config.positive_or(&["head_dim"], 128)?;
    let vocab = config.positive_or(&["vocab_size"], 256000)?;
    let intermediate = config.positive_or(&["intermediate_size"], 22528)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    let first_dense = config.u64_or(&["first_k_dense_replace"], 0)?;
    let dense_layers = mlp_layer_types(config, layer_total, first_dense)?;
    let prefix_pattern = config.u64_or(&["prefix_dense_sliding_window_pattern"], 1)?;
    let windows = by_kind(
        attention_kinds(config, layer_total, first_dense, prefix_pattern)?,
        sliding_window(config)?,
    );
    let dense = Mlp {
        gated: true,
        intermediate_size: match config.optional_u64(&["prefix_dense_intermediate_size"])? {
            Some(0) => {
                return Err(invalid(
                    "prefix_dense_intermediate_size",
                    "0",
                    "must be at least 1",
                    "give the dense layers' MLP width, or null to take intermediate_size",
                ))
            }
            Some(width) => width,
            None => intermediate,
        },
        bias: false,
    };
    let moe = moe_block(config, intermediate)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm: QkNorm::None,
    });
    let layers = windows
        .into_iter()
        .zip(dense_layers)
        .map(|(window, is_dense)| Layer {
            mixer: Mixer::Attention(AttentionLayer {
                rope: window != AttentionWindow::Full || (is_dense && prefix_pattern == 1),
                ..AttentionLayer::full(attention).with_window(window)
            }),
            ffn: if is_dense {
                FeedForward::Dense(dense)
            } else {
                FeedForward::MixtureOfExperts(moe)
            },
            norms: 1,
        })
        .collect();
    let mut model = Model::decoder(
        Family::Cohere2Moe,
        d,
        vocab,
        tie,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 8192)?,
    );
    model.norm = match config.object.get("rms_norm_eps") {
        None | Some(Value::Null) => Norm::LayerNorm { bias: false },
        Some(_) => Norm::RmsNorm,
    };
    Ok(model)
}

/// Whether each layer is dense: `mlp_layer_types` ("dense" or "sparse") where given, else
/// the first `first_dense` layers.
fn mlp_layer_types(
    config: &Config,
    layers: u64,
    first_dense: u64,
) -> Result<Vec<bool>, ModelConfigError> {
    let fix =
        "list \"dense\" or \"sparse\" for each layer, or remove it to take first_k_dense_replace";
    let Some(types) = config.list("mlp_layer_types", "must be a list of layer kinds", fix)? else {
        return Ok((0..layers).map(|i| i < first_dense).collect());
    };
    if types.len() as u64 != layers {
        return Err(invalid(
            "mlp_layer_types",
            &format!("a list of {}", types.len()),
            &format!("must have one entry per layer (num_hidden_layers = {layers})"),
            fix,
        ));
    }
    types
        .iter()
        .map(|kind| match kind.as_str() {
            Some("dense") => Ok(true),
            Some("sparse") => Ok(false),
            _ => Err(invalid(
                "mlp_layer_types",
                &kind.to_string(),
                "is no layer kind Cohere2MoeConfig accepts",
                fix,
            )),
        })
        .collect()
}

/// Which layers slide: `layer_types` where given, else the dense prefix by
/// `prefix_dense_sliding_window_pattern` and the others by `sliding_window_pattern`, each
/// counted from its own first layer.
fn attention_kinds(
    config: &Config,
    layers: u64,
    first_dense: u64,
    prefix_pattern: u64,
) -> Result<Vec<bool>, ModelConfigError> {
    if let Some(kinds) = layer_types(config, layers)? {
        return Ok(kinds);
    }
    if first_dense > layers {
        return Err(invalid(
            "first_k_dense_replace",
            &first_dense.to_string(),
            &format!("is above num_hidden_layers = {layers}, which leaves Cohere2MoeConfig a layer_types list of the wrong length"),
            "give at most num_hidden_layers dense layers",
        ));
    }
    let mut kinds = Vec::with_capacity(layers as usize);
    if first_dense > 0 {
        let prefix = pattern(
            config,
            "prefix_dense_sliding_window_pattern",
            prefix_pattern,
        )?;
        kinds.extend((0..first_dense).map(|i| (i + 1) % prefix != 0));
    }
    if layers > first_dense {
        let rest = pattern(config, "sliding_window_pattern", 4)?;
        kinds.extend((0..layers - first_dense).map(|i| (i + 1) % rest != 0));
    }
    Ok(kinds)
}

/// The sparse layers' block: routed experts of `intermediate_size`, a bias-free router, and
/// the shared experts fused into one MLP.
fn moe_block(config: &Config, intermediate: u64) -> Result<MixtureOfExperts, ModelConfigError> {
    let num_experts = config.positive_or(&["num_experts"], 8)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 2)?;
    check_top_k(top_k, num_experts, "num_experts")?;
    let shared = config.u64_or(&["num_shared_experts"], 0)?;
    let shared_width = intermediate.checked_mul(shared).ok_or_else(|| {
        invalid(
            "num_shared_experts",
            &shared.to_string(),
            &format!("times intermediate_size = {intermediate} does not fit 64 bits"),
            "check both for a typo or a unit mistake",
        )
    })?;
    one_of(config, "expert_selection_fn", &["softmax", "sigmoid"], true)?;
    one_of(
        config,
        "shared_expert_combination_strategy",
        &["sum", "average"],
        shared > 0,
    )?;
    Ok(MixtureOfExperts {
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: intermediate,
            bias: false,
        },
        shared: (shared_width > 0).then_some(Mlp {
            gated: true,
            intermediate_size: shared_width,
            bias: false,
        }),
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::None,
        router_scales: false,
        latent: None,
        zero_experts: 0,
    })
}

/// A string field the forward pass dispatches on (and raises for any other value), checked
/// where it is read.
fn one_of(
    config: &Config,
    key: &'static str,
    allowed: &[&str],
    read: bool,
) -> Result<(), ModelConfigError> {
    match config.object.get(key) {
        Some(value) if read && !allowed.iter().any(|name| value.as_str() == Some(name)) => {
            Err(invalid(
                key,
                &value.to_string(),
                "is a value Cohere2MoeSparseMoeBlock's forward pass refuses",
                &format!("use one of: {}", allowed.join(", ")),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::AttentionWindow;
    use crate::model_config::{parse, ModelConfigError};

    fn refused(json: &str) -> &'static str {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, .. }) => field,
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn cohere2_moe_lays_out_its_dense_prefix_and_checks_its_layer_kinds() {
        let model = parse(
            r#"{"model_type": "cohere2_moe", "num_hidden_layers": 6, "first_k_dense_replace": 2}"#,
        )
        .unwrap();
        let windows: Vec<AttentionWindow> = model
            .layers
            .iter()
            .filter_map(|layer| layer.mixer.attention().map(|a| a.window))
            .collect();
        let (s, f) = (AttentionWindow::Sliding(4096), AttentionWindow::Full);
        assert_eq!(windows, [f, f, s, s, s, f]);
        assert_eq!(
            refused(
                r#"{"model_type": "cohere2_moe", "num_hidden_layers": 2, "mlp_layer_types": ["dense", "moe"]}"#
            ),
            "mlp_layer_types"
        );
        assert_eq!(
            refused(
                r#"{"model_type": "cohere2_moe", "num_hidden_layers": 2, "first_k_dense_replace": 3}"#
            ),
            "first_k_dense_replace"
        );
    }
}
