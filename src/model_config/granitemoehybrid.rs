//! IBM Granite 4.0 and 4.0-H (`model_type: "granitemoehybrid"`), as `transformers`'
//! `GraniteMoeHybridConfig` and `GraniteMoeHybridForCausalLM` build them.
//!
//! - Each layer's mixer is Bamba's Mamba-2 (`linear_attention`, legacy `mamba`) or attention
//!   (`full_attention`, legacy `attention`) from `layer_types` (alias `layers_block_type`,
//!   which wins when both are given); the default is Mamba-2 on every layer.
//! - Attention: q/k/v/o with `attention_bias`, `head_dim` where the file gives one, else
//!   `hidden_size / num_attention_heads`, no q/k norms. Rotary embeddings only where
//!   `position_embedding_type` is `"rope"` (the default, null, is NoPE); neither costs a
//!   parameter or a matmul.
//! - Every layer has the shared MLP (`shared_mlp`: a gated `input_linear` of
//!   `2 · shared_intermediate_size` and an `output_linear`); with `num_local_experts > 0` it
//!   is the shared expert of a MoE block (a bias-free softmax router, gated experts of
//!   `intermediate_size`, top `num_experts_per_tok`), with 0 it is the layer's dense MLP.
//! - Two RMSNorms per layer, a final one; the head is tied with `tie_word_embeddings`.
//! - The multipliers (`embedding_multiplier`, `residual_multiplier`, `attention_multiplier`,
//!   `logits_scaling`) are elementwise scalings: no parameter, no matmul.

use super::hybrid::{bamba_mamba, layer_kinds};
use super::{
    check_top_k, default_seq_len, divide_heads, invalid, key_value_heads, layer_count,
    null_refused, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, MixtureOfExperts, Mlp, Model,
    QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `GraniteMoeHybridForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let vocab = config.positive_or(&["vocab_size"], 32000)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, None, true)?;
    let head_dim = attention_head_dim(config, d, heads)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm: QkNorm::None,
    });
    let rope = match config.object.get("position_embedding_type") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(kind)) => kind == "rope",
        Some(other) => {
            return Err(invalid(
                "position_embedding_type",
                &other.to_string(),
                "must be a string or null",
                "write \"rope\", or null (or \"nope\") for no position embedding",
            ))
        }
    };
    let mamba = bamba_mamba(config, d)?;
    // The alias wins over the field when both are given, as the class resolves them.
    let key = if config.object.contains_key("layers_block_type") {
        "layers_block_type"
    } else {
        "layer_types"
    };
    let kinds = layer_kinds(config, key, layers, &["linear_attention", "full_attention"])?;
    let shared = Mlp {
        gated: true,
        intermediate_size: config.u64_or(&["shared_intermediate_size"], 1024)?,
        bias: false,
    };
    let num_experts = match config.optional_u64(&["num_local_experts"])? {
        Some(experts) => experts,
        None if config.is_null("num_local_experts") => {
            return Err(null_refused("num_local_experts"))
        }
        None => 8,
    };
    let ffn = if num_experts == 0 {
        FeedForward::Dense(shared)
    } else {
        let top_k = config.positive_or(&["num_experts_per_tok"], 2)?;
        check_top_k(top_k, num_experts, "num_local_experts")?;
        FeedForward::MixtureOfExperts(MixtureOfExperts {
            zero_experts: 0,
            num_experts,
            top_k,
            expert: Mlp {
                gated: true,
                intermediate_size: config.positive_or(&["intermediate_size"], 11008)?,
                bias: false,
            },
            shared: Some(shared),
            shared_expert_gate: false,
            router_bias: false,
            router_correction: RouterCorrection::None,
            router_scales: false,
            latent: None,
        })
    };
    let layers = (0..layers as usize)
        .map(|i| {
            let mamba_layer = kinds
                .as_ref()
                .is_none_or(|kinds| kinds.get(i).is_some_and(|k| k == "linear_attention"));
            let mixer = if mamba_layer {
                Mixer::Mamba2(mamba)
            } else {
                let mut layer = AttentionLayer::full(attention);
                layer.rope = rope;
                Mixer::Attention(layer)
            };
            Layer::new(mixer, ffn)
        })
        .collect();
    Ok(Model::decoder(
        Family::GraniteMoeHybrid,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 2048)?,
    ))
}

/// `getattr(config, "head_dim", hidden_size // num_attention_heads)`: the class declares no
/// `head_dim`, so only a file that gives one sets it (Bamba's attention reads it the same way).
pub(super) fn attention_head_dim(
    config: &Config,
    d: u64,
    heads: u64,
) -> Result<u64, ModelConfigError> {
    match config.optional_u64(&["head_dim"])? {
        Some(0) => Err(invalid(
            "head_dim",
            "0",
            "must be at least 1",
            "remove it to take hidden_size / num_attention_heads",
        )),
        Some(head_dim) => Ok(head_dim),
        None if config.is_null("head_dim") => Err(null_refused("head_dim")),
        None => divide_heads(d, heads, "hidden_size", "num_attention_heads"),
    }
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{FeedForward, Mixer};
    use crate::model_config::{parse, ModelConfigError};

    fn refused(json: &str) -> (&'static str, String) {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, problem, .. }) => (field, problem),
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn layer_kinds_take_the_legacy_names_and_the_alias_wins() {
        let model = parse(
            r#"{"model_type": "granitemoehybrid", "num_hidden_layers": 3,
                "layer_types": ["mamba", "attention", "mamba"],
                "layers_block_type": ["attention", "attention", "mamba"]}"#,
        )
        .unwrap();
        let attention: Vec<bool> = model
            .layers
            .iter()
            .map(|l| matches!(l.mixer, Mixer::Attention(a) if !a.rope))
            .collect();
        assert_eq!(attention, [true, true, false]);
        let defaults = parse(r#"{"model_type": "granitemoehybrid"}"#).unwrap();
        assert!(defaults
            .layers
            .iter()
            .all(|l| matches!(l.mixer, Mixer::Mamba2(m) if m.head_dim == 64)));
    }

    #[test]
    fn no_experts_leaves_the_shared_mlp_as_the_dense_block() {
        let model = parse(
            r#"{"model_type": "granitemoehybrid", "num_local_experts": 0,
                "shared_intermediate_size": 8192}"#,
        )
        .unwrap();
        for layer in &model.layers {
            match layer.ffn {
                FeedForward::Dense(mlp) => assert_eq!(mlp.intermediate_size, 8192),
                ref other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn inconsistent_mamba_widths_name_the_field() {
        let cases = [
            (
                r#"{"model_type": "granitemoehybrid", "mamba_d_head": 32}"#,
                "mamba_d_head",
                "times mamba_n_heads",
            ),
            (
                r#"{"model_type": "granitemoehybrid", "mamba_n_heads": 96}"#,
                "mamba_n_heads",
                "must divide",
            ),
            (
                r#"{"model_type": "granitemoehybrid", "mamba_n_groups": 3}"#,
                "mamba_n_groups",
                "must divide",
            ),
            (
                r#"{"model_type": "granitemoehybrid", "num_hidden_layers": 2,
                    "layer_types": ["mamba", "sliding_attention"]}"#,
                "layer_types",
                "is not a layer kind",
            ),
            (
                r#"{"model_type": "granitemoehybrid", "num_local_experts": null}"#,
                "num_local_experts",
                "cannot be null",
            ),
        ];
        for (json, field, problem) in cases {
            let (got_field, got_problem) = refused(json);
            assert_eq!(got_field, field, "{json}");
            assert!(got_problem.starts_with(problem), "{json}: {got_problem}");
        }
    }
}
