//! OpenBMB MiniCPM3 (`model_type: "minicpm3"`), as `transformers`' `MiniCPM3Config` and
//! `MiniCPM3ForCausalLM` build it.
//!
//! - DeepSeek-V2's multi-head latent attention on every layer (`q_a_proj`, or `q_proj` with a
//!   null `q_lora_rank`; `kv_a_proj_with_mqa`; their RMSNorms; `kv_b_proj`); `attention_bias`
//!   biases `q_a_proj`, `kv_a_proj_with_mqa` and `o_proj`. `v_head_dim` null or absent means
//!   `hidden_size / num_attention_heads`; `head_dim` is not read (the class sets it to
//!   `qk_rope_head_dim`). A width the heads do not divide is refused, as the class refuses it.
//! - Llama's MLP (`mlp_bias`) and two RMSNorms per layer; the residual branches are scaled
//!   by `scale_depth / sqrt(num_hidden_layers)`, the embeddings by `scale_emb` (a buffer) and
//!   the logits by `hidden_size / dim_model_base`: no parameter and no matmul. Tied by
//!   default.

use super::{
    check_latent_width, default_seq_len, invalid, layer_count, q_lora_rank, Config,
    ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, LatentAttention, Layer, Mixer, Mlp, Model,
};

/// Builds the model `MiniCPM3ForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2560)?;
    let layers = layer_count(config, &["num_hidden_layers"], 62)?;
    let heads = config.positive_or(&["num_attention_heads"], 40)?;
    if d % heads != 0 {
        return Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!("does not divide hidden_size = {d}, which MiniCPM3Config requires"),
            "fix the head count or the width",
        ));
    }
    let vocab = config.positive_or(&["vocab_size"], 73448)?;
    let intermediate = config.positive_or(&["intermediate_size"], 6400)?;
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    let v_head_dim = match config.optional_u64(&["v_head_dim"])? {
        Some(0) => {
            return Err(invalid(
                "v_head_dim",
                "0",
                "must be at least 1",
                "remove it to take hidden_size / num_attention_heads",
            ))
        }
        Some(width) => width,
        None => d / heads,
    };
    let attention = LatentAttention {
        num_heads: heads,
        q_lora_rank: q_lora_rank(config, 768)?,
        kv_lora_rank: config.positive_or(&["kv_lora_rank"], 256)?,
        qk_nope_head_dim: config.u64_or(&["qk_nope_head_dim"], 64)?,
        qk_rope_head_dim: config.u64_or(&["qk_rope_head_dim"], 32)?,
        v_head_dim,
        bias: config.bool_or(&["attention_bias"], false)?,
    };
    check_latent_width(attention.qk_nope_head_dim, attention.qk_rope_head_dim)?;
    let layer = Layer::new(
        Mixer::Attention(AttentionLayer::full(Attention::Latent(attention))),
        FeedForward::Dense(Mlp {
            gated: true,
            intermediate_size: intermediate,
            bias: config.bool_or(&["mlp_bias"], false)?,
        }),
    );
    Ok(Model::decoder(
        Family::Minicpm3,
        d,
        vocab,
        tie,
        vec![layer; layers as usize],
        default_seq_len(config, &["max_position_embeddings"], 32768)?,
    ))
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Attention, FeedForward};
    use crate::model_config::parse;

    #[test]
    fn value_width_defaults_to_the_head_width_and_an_uneven_width_is_refused() {
        let model = parse(r#"{"model_type": "minicpm3", "head_dim": 999}"#).unwrap();
        assert!(model.tie_word_embeddings);
        assert_eq!(model.layers.len(), 62);
        let attention = model.first_attention().unwrap();
        assert!(matches!(
            attention.attention,
            Attention::Latent(a) if a.v_head_dim == 64 && a.q_lora_rank == Some(768)
                && a.kv_lora_rank == 256 && a.qk_nope_head_dim == 64 && a.qk_rope_head_dim == 32
        ));
        assert!(
            matches!(model.layers[0].ffn, FeedForward::Dense(m) if m.intermediate_size == 6400)
        );
        for (extra, field) in [
            (r#""num_attention_heads": 7"#, "num_attention_heads"),
            (r#""v_head_dim": 0"#, "v_head_dim"),
            (r#""q_lora_rank": 0"#, "q_lora_rank"),
        ] {
            let config = format!(r#"{{"model_type": "minicpm3", {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
