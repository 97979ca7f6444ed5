//! Kyutai Helium (`model_type: "helium"`), as `transformers`' `HeliumConfig` and
//! `HeliumForCausalLM` build it: Llama's layers read by [`super::llama_like`], with
//! `attention_bias` on q, k and v only (`HeliumAttention` replaces Granite's `o_proj` with a
//! bias-free `Linear(hidden_size, hidden_size)`), `mlp_bias` on the MLP, `head_dim` 128 and
//! `num_key_value_heads` 20 plain fields (null refused), untied by default.
//!
//! That output projection reads `hidden_size` features whatever `num_attention_heads ·
//! head_dim` is: a config where the two differ builds a model whose forward cannot run,
//! and is refused.

use super::{invalid, llama_like, Config, ModelConfigError};
use crate::accounting::model::{Family, Model};

/// Builds the model `HeliumForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2560)?;
    let heads = config.positive_or(&["num_attention_heads"], 20)?;
    let head_dim = config.positive_or(&["head_dim"], 128)?;
    if heads.checked_mul(head_dim) != Some(d) {
        return Err(invalid(
            "head_dim",
            &head_dim.to_string(),
            &format!(
                "times num_attention_heads = {heads} is not hidden_size = {d}, which HeliumAttention's o_proj (hidden_size to hidden_size) needs"
            ),
            "give head_dim = hidden_size / num_attention_heads",
        ));
    }
    llama_like(config, Family::Helium)
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::Attention;
    use crate::model_config::parse;

    #[test]
    fn biases_on_q_k_v_only_and_a_mismatched_width_is_refused() {
        let model = parse(r#"{"model_type": "helium", "attention_bias": true}"#).unwrap();
        assert!(!model.tie_word_embeddings);
        let attention = model.first_attention().unwrap();
        assert!(matches!(
            attention.attention,
            Attention::Standard(a) if a.qkv_bias && !a.output_bias && a.head_dim == 128
                && a.num_kv_heads == 20
        ));
        for (extra, field) in [
            (r#""head_dim": 64"#, "head_dim"),
            (r#""head_dim": null"#, "head_dim"),
            (r#""num_key_value_heads": null"#, "num_key_value_heads"),
        ] {
            let config = format!(r#"{{"model_type": "helium", {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
