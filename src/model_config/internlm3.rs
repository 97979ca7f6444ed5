//! InternLM3 (`model_type: "internlm3"`), which `transformers` builds as `LlamaForCausalLM`
//! from an `InternLM3Config`.
//!
//! - Llama's layers with `InternLM3Config`'s defaults (InternLM3-8B: 48 layers, 32 heads of
//!   128, 2 K/V heads, an untied head); `num_key_value_heads` and `head_dim` null mean the
//!   attention heads and `hidden_size // num_attention_heads`.
//! - `attention_bias` (alias `qkv_bias`, which wins) biases q, k, v and o; `mlp_bias` (alias
//!   `bias`, which wins) the MLP. The class refuses the two set apart, and a width its heads
//!   do not divide.

use super::{invalid, llama_like, Config, ModelConfigError};
use crate::accounting::model::{Family, Model};

/// Builds the Llama model `transformers` instantiates from an `InternLM3Config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let heads = config.positive_or(&["num_attention_heads"], 32)?;
    if d % heads != 0 {
        return Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!("does not divide hidden_size = {d}, which InternLM3Config requires"),
            "fix the head count or the width",
        ));
    }
    let attention_bias = config.bool_or(&["qkv_bias", "attention_bias"], false)?;
    let mlp_bias = config.bool_or(&["bias", "mlp_bias"], false)?;
    if attention_bias != mlp_bias {
        return Err(invalid(
            config.field(&["qkv_bias", "attention_bias"]).0,
            &attention_bias.to_string(),
            &format!("differs from mlp_bias = {mlp_bias}, which InternLM3Config refuses (Llama's layers take one bias setting)"),
            "set attention_bias and mlp_bias alike",
        ));
    }
    llama_like(config, Family::InternLm3)
}

#[cfg(test)]
mod tests {
    use crate::model_config::{parse, ModelConfigError};

    #[test]
    fn biases_set_apart_are_refused_and_the_aliases_win() {
        assert!(matches!(
            parse(r#"{"model_type": "internlm3", "qkv_bias": true}"#),
            Err(ModelConfigError::Invalid {
                field: "qkv_bias",
                ..
            })
        ));
        // The aliases win over the fields they name, as InternLM3Config's attribute_map does.
        assert!(parse(
            r#"{"model_type": "internlm3", "qkv_bias": true, "bias": true, "attention_bias": false}"#
        )
        .is_ok());
    }
}
