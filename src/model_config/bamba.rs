//! Bamba (`model_type: "bamba"`), as `transformers`' `BambaConfig` and `BambaForCausalLM`
//! build it.
//!
//! - Layers are Bamba's Mamba-2 mixer except those listed in `attn_layer_indices` (default:
//!   none), which are attention: q/k/v/o with `attention_bias`, `head_dim` where the file gives
//!   one, else `hidden_size / num_attention_heads`; rotary (partial, free) on every one.
//! - `layers_block_type` is a property of the class, derived from `attn_layer_indices`: a file
//!   that sets it (or its alias `layer_types`) is refused by `transformers`, and here.
//! - Every layer has a gated MLP (`intermediate_size`, biases with `mlp_bias`) and two
//!   RMSNorms; a final RMSNorm; the head ties with `tie_word_embeddings` (default false).
//! - `z_loss_coefficient`'s auxiliary loss is elementwise over the logits: no matmul.

use super::granitemoehybrid::attention_head_dim;
use super::hybrid::bamba_mamba;
use super::{default_seq_len, invalid, key_value_heads, layer_count, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, Mlp, Model, QkNorm,
    StandardAttention,
};

/// Builds the model `BambaForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    for key in ["layers_block_type", "layer_types"] {
        if config.object.contains_key(key) {
            return Err(invalid(
                key,
                "a layer list",
                "cannot be set for bamba: BambaConfig derives its layer kinds from attn_layer_indices",
                "remove it and list the attention layers in attn_layer_indices",
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
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm: QkNorm::None,
    });
    let attention_layers = config.u64_list("attn_layer_indices")?;
    if let Some(bad) = attention_layers.iter().find(|i| **i >= layers) {
        return Err(invalid(
            "attn_layer_indices",
            &bad.to_string(),
            &format!("names a layer past the last one (num_hidden_layers = {layers})"),
            "list layer indices from 0 to num_hidden_layers - 1",
        ));
    }
    let mamba = bamba_mamba(config, d)?;
    let mlp = FeedForward::Dense(Mlp {
        gated: true,
        intermediate_size: config.positive_or(&["intermediate_size"], 14336)?,
        bias: config.bool_or(&["mlp_bias"], false)?,
    });
    let layers = (0..layers)
        .map(|i| {
            let mixer = if attention_layers.contains(&i) {
                Mixer::Attention(AttentionLayer::full(attention))
            } else {
                Mixer::Mamba2(mamba)
            };
            Layer::new(mixer, mlp)
        })
        .collect();
    Ok(Model::decoder(
        Family::Bamba,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 262144)?,
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
    fn attention_layers_come_from_attn_layer_indices_only() {
        let model = parse(
            r#"{"model_type": "bamba", "num_hidden_layers": 4, "attn_layer_indices": [1, 3]}"#,
        )
        .unwrap();
        let attention: Vec<bool> = model
            .layers
            .iter()
            .map(|l| matches!(l.mixer, Mixer::Attention(_)))
            .collect();
        assert_eq!(attention, [false, true, false, true]);
        let cases = [
            (
                r#"{"model_type": "bamba", "layer_types": ["mamba", "attention"]}"#,
                "layer_types",
                "cannot be set for bamba",
            ),
            (
                r#"{"model_type": "bamba", "layers_block_type": ["mamba"]}"#,
                "layers_block_type",
                "cannot be set for bamba",
            ),
            (
                r#"{"model_type": "bamba", "num_hidden_layers": 2, "attn_layer_indices": [2]}"#,
                "attn_layer_indices",
                "names a layer past the last one",
            ),
        ];
        for (json, field, problem) in cases {
            let (got_field, got_problem) = refused(json);
            assert_eq!(got_field, field, "{json}");
            assert!(got_problem.starts_with(problem), "{json}: {got_problem}");
        }
    }
}
