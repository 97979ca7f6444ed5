//! TII Falcon-H1 (`model_type: "falcon_h1"`), as `transformers`' `FalconH1Config` and
//! `FalconH1ForCausalLM` build it.
//!
//! - Every layer runs attention and a Mamba-2 mixer side by side on the same normed input
//!   (their outputs summed), then a gated MLP (`intermediate_size`, `mlp_bias`); two RMSNorms
//!   a layer and a final one; the head ties with `tie_word_embeddings` (default false).
//! - The mixer's inner width is `mamba_d_ssm` (default 1024; null: `mamba_expand ·
//!   hidden_size`), filled by `mamba_n_heads` heads of `mamba_d_head` (`"auto"`: the width over
//!   the heads); the other `mamba_*` keys and defaults are Bamba's. `in_proj` takes
//!   `mamba_proj_bias`, `out_proj` `projectors_bias`; the gated RMSNorm exists only with
//!   `mamba_rms_norm` (default false: the gate is a plain `silu(z)` product).
//! - Attention: q/k/v/o with `attention_bias`, `head_dim` where the file gives one, else
//!   `hidden_size / num_attention_heads`, rotary on every layer.
//! - `layers_block_type` is a property (every layer `hybrid`): a file that sets it (or its alias
//!   `layer_types`) is refused, as `FalconH1Config` refuses it.
//! - The µP multipliers (`mlp_multipliers`, `ssm_multipliers` through the non-persistent
//!   `mup_vector` buffer, `key_multiplier`, the attention and SSM in/out multipliers,
//!   `embedding_multiplier`, `lm_head_multiplier`) are elementwise: no parameter, no matmul.

use super::granitemoehybrid::attention_head_dim;
use super::hybrid::{mamba_expanded_width, mamba_keys};
use super::{
    default_seq_len, invalid, key_value_heads, layer_count, Config, Field, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, Mlp, Model, ParallelMixer,
    QkNorm, StandardAttention,
};

/// Builds the model `FalconH1ForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    for key in ["layers_block_type", "layer_types"] {
        if config.object.contains_key(key) {
            return Err(invalid(
                key,
                "a layer list",
                "cannot be set for falcon_h1: every FalconH1Config layer is hybrid",
                "remove it (each layer has both attention and a Mamba-2 mixer)",
            ));
        }
    }
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let vocab = config.positive_or(&["vocab_size"], 128000)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    let kv_heads = key_value_heads(config, heads, Some(8), true)?;
    let head_dim = attention_head_dim(config, d, heads)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let attention = AttentionLayer::full(Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm: QkNorm::None,
    }));
    let (inner, inner_name) = match config.field(&["mamba_d_ssm"]) {
        (_, Field::Absent) => (1024, "mamba_d_ssm"),
        (_, Field::Null) => (
            mamba_expanded_width(config, d)?,
            "mamba_expand * hidden_size",
        ),
        (_, Field::Present(_)) => (config.positive_or(&["mamba_d_ssm"], 1024)?, "mamba_d_ssm"),
    };
    let mut mamba = mamba_keys(config, inner, inner_name)?;
    mamba.out_proj_bias = config.bool_or(&["projectors_bias"], false)?;
    mamba.gated_norm = config.bool_or(&["mamba_rms_norm"], false)?;
    let mlp = FeedForward::Dense(Mlp {
        gated: true,
        intermediate_size: config.positive_or(&["intermediate_size"], 14336)?,
        bias: config.bool_or(&["mlp_bias"], false)?,
    });
    let layer = Layer::new(Mixer::Parallel(ParallelMixer { attention, mamba }), mlp);
    Ok(Model::decoder(
        Family::FalconH1,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        vec![layer; layers as usize],
        default_seq_len(config, &["max_position_embeddings"], 8192)?,
    ))
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::Mixer;
    use crate::model_config::{parse, ModelConfigError};

    fn refused(json: &str) -> (&'static str, String) {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, problem, .. }) => (field, problem),
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_mixer_width_is_mamba_d_ssm_or_the_expanded_width() {
        let inner = |json: &str| match parse(json).unwrap().layers[0].mixer {
            Mixer::Parallel(p) => (p.mamba.inner_dim(), p.mamba.head_dim, p.mamba.gated_norm),
            ref other => panic!("{other:?}"),
        };
        assert_eq!(inner(r#"{"model_type": "falcon_h1"}"#), (1024, 8, false));
        assert_eq!(
            inner(r#"{"model_type": "falcon_h1", "mamba_d_ssm": null, "mamba_rms_norm": true}"#),
            (8192, 64, true)
        );
        let cases = [
            (
                r#"{"model_type": "falcon_h1", "mamba_d_head": 16}"#,
                "mamba_d_head",
                "times mamba_n_heads",
            ),
            (
                r#"{"model_type": "falcon_h1", "layer_types": ["hybrid"]}"#,
                "layer_types",
                "cannot be set for falcon_h1",
            ),
        ];
        for (json, field, problem) in cases {
            let (got_field, got_problem) = refused(json);
            assert_eq!(got_field, field, "{json}");
            assert!(got_problem.starts_with(problem), "{json}: {got_problem}");
        }
    }

    /// A parallel layer costs what its attention layer and its Mamba-2 layer cost apart, in the
    /// detailed count and under Megatron's convention; MaxText counts its attention alone.
    #[test]
    fn a_parallel_layer_costs_its_attention_and_its_mamba_layer() {
        use crate::accounting::conventions::{training_flops_per_token, Convention};
        use crate::accounting::flops::{detailed, AttentionCounting, FlopOptions, Recompute};
        use crate::accounting::model::{FeedForward, Layer, Model};
        use crate::accounting::params;
        let model = parse(r#"{"model_type": "falcon_h1", "num_hidden_layers": 2}"#).unwrap();
        let Mixer::Parallel(parallel) = model.layers[0].mixer else {
            panic!("{:?}", model.layers[0].mixer)
        };
        let apart = |mixer: Mixer| Model {
            layers: vec![
                Layer {
                    mixer,
                    ffn: FeedForward::None,
                    norms: 2,
                };
                2
            ],
            ..model.clone()
        };
        let attention = apart(Mixer::Attention(parallel.attention));
        let mamba = apart(Mixer::Mamba2(parallel.mamba));
        let no_mixer = apart(Mixer::None);
        let with_ffn_only = Model {
            layers: model
                .layers
                .iter()
                .map(|l| Layer {
                    mixer: Mixer::None,
                    ..*l
                })
                .collect(),
            ..model.clone()
        };
        let options = FlopOptions {
            seq_len: 4096,
            attention: AttentionCounting::Causal,
            include_mtp: false,
            recompute: Recompute::None,
        };
        let forward = |m: &Model| detailed(m, &options).totals.forward;
        let megatron = |m: &Model| {
            training_flops_per_token(Convention::Megatron, m, &params::count(m), &options)
        };
        let maxtext = |m: &Model| {
            training_flops_per_token(Convention::Maxtext, m, &params::count(m), &options)
        };
        let close = |a: f64, b: f64| (a / b - 1.0).abs() < 1e-12;
        // Each "apart" model carries the shared embedding and head once: subtract one copy.
        for (count, name) in [
            (&forward as &dyn Fn(&Model) -> f64, "detailed"),
            (&megatron, "megatron"),
        ] {
            let sum = count(&attention) + count(&mamba) - count(&no_mixer) + count(&with_ffn_only)
                - count(&no_mixer);
            assert!(
                close(count(&model), sum),
                "{name}: {} vs {sum}",
                count(&model)
            );
        }
        let attention_only = maxtext(&attention) + maxtext(&with_ffn_only) - maxtext(&no_mixer);
        assert!(close(maxtext(&model), attention_only));
    }
}
