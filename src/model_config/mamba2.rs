//! Mamba-2 (`model_type: "mamba2"`), as `transformers`' `Mamba2Config` and
//! `Mamba2ForCausalLM` build it: every layer a Mamba-2 mixer (`Mamba2Mixer`, the same
//! `in_proj`, depthwise convolution, SSD scan and gated norm as Nemotron-H's) behind one
//! RMSNorm, no feed-forward block, a final RMSNorm (`norm_f`); the head ties with
//! `tie_word_embeddings` (default false).
//!
//! The defaults are Mamba-Codestral's shape: 64 layers of 4096, 128 heads of 64, state 128, 8
//! groups, a convolution of 4 with a bias, chunks of 256, vocabulary 32,768. The heads must
//! fill `expand · hidden_size` exactly (the class's `validate_architecture`).
//! `time_step_rank` names no module in this mixer: it costs nothing.

use super::{default_seq_len, invalid, layer_count, Config, ModelConfigError};
use crate::accounting::model::{Family, FeedForward, Layer, Mamba2, Mixer, Model};

/// Builds the model `Mamba2ForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 64)?;
    let vocab = config.positive_or(&["vocab_size"], 32768)?;
    let mamba = Mamba2 {
        num_heads: config.positive_or(&["num_heads"], 128)?,
        head_dim: config.positive_or(&["head_dim"], 64)?,
        state_size: config.positive_or(&["state_size"], 128)?,
        num_groups: config.positive_or(&["n_groups"], 8)?,
        conv_kernel: config.positive_or(&["conv_kernel"], 4)?,
        chunk_size: config.positive_or(&["chunk_size"], 256)?,
        conv_bias: config.bool_or(&["use_conv_bias"], true)?,
        in_proj_bias: config.bool_or(&["use_bias"], false)?,
        out_proj_bias: config.bool_or(&["use_bias"], false)?,
        gated_norm: true,
    };
    let expand = config.positive_or(&["expand"], 2)?;
    if d.checked_mul(expand) != mamba.num_heads.checked_mul(mamba.head_dim) {
        return Err(invalid(
            "num_heads",
            &mamba.num_heads.to_string(),
            &format!(
                "times head_dim = {} must equal hidden_size * expand = {d} * {expand}",
                mamba.head_dim
            ),
            "make num_heads * head_dim the mixer's inner width",
        ));
    }
    if mamba.num_heads % mamba.num_groups != 0 {
        return Err(invalid(
            "n_groups",
            &mamba.num_groups.to_string(),
            &format!("must divide num_heads = {}", mamba.num_heads),
            "use a divisor of the head count",
        ));
    }
    let layer = Layer {
        mixer: Mixer::Mamba2(mamba),
        ffn: FeedForward::None,
        norms: 1,
    };
    // Mamba2Config has no max_position_embeddings: a recurrent model has no trained context,
    // so the default sequence length is the one the calculator uses for unknown contexts.
    Ok(Model::decoder(
        Family::Mamba2,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        vec![layer; layers as usize],
        default_seq_len(config, &["max_position_embeddings"], 4096)?,
    ))
}

#[cfg(test)]
mod tests {
    use crate::model_config::{parse, ModelConfigError};

    fn refused(json: &str) -> (&'static str, String) {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, problem, .. }) => (field, problem),
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_heads_must_fill_the_inner_width() {
        let (field, problem) = refused(r#"{"model_type": "mamba2", "head_dim": 32}"#);
        assert_eq!(field, "num_heads");
        assert!(problem.starts_with("times head_dim"), "{problem}");
        let (field, _) = refused(r#"{"model_type": "mamba2", "n_groups": 3}"#);
        assert_eq!(field, "n_groups");
        let model = parse(r#"{"model_type": "mamba2", "num_hidden_layers": 2}"#).unwrap();
        assert_eq!(model.layers.len(), 2);
    }

    /// `Mamba2Config`'s defaults are Mamba-Codestral-7B's shape: the count is the one Mistral
    /// publishes for it, "exactly 7,285,403,648 parameters"
    /// (https://ai-tldr.dev/models/codestral-mamba/), and the one `transformers` builds
    /// (`tests/fixtures/reference/transformers_default_params.json`).
    #[test]
    fn the_defaults_count_mamba_codestral_7b() {
        let model = parse(r#"{"model_type": "mamba2"}"#).unwrap();
        assert_eq!(
            crate::accounting::params::count(&model).total,
            7_285_403_648
        );
    }
}
