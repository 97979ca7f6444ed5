//! Tencent Youtu-LLM (`model_type: "youtu"`), as `transformers`' `YoutuConfig` and
//! `YoutuForCausalLM` build it.
//!
//! - DeepSeek-V3's multi-head latent attention on every layer: `q_a_proj` (or `q_proj` with a
//!   null `q_lora_rank`), `kv_a_proj_with_mqa`, their RMSNorms, `kv_b_proj`; `attention_bias`
//!   biases `q_a_proj`, `kv_a_proj_with_mqa` and `o_proj`.
//! - Llama's decoder layer with a bias-free SwiGLU MLP of `intermediate_size` on every layer
//!   (no experts: `YoutuConfig` removes DeepSeek-V3's MoE fields); tied embeddings by default.

use super::{
    check_latent_width, default_seq_len, layer_count, q_lora_rank, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, LatentAttention, Layer, Mixer, Mlp, Model,
};

/// Builds the model `YoutuForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 2048)?;
    let layers = layer_count(config, &["num_hidden_layers"], 32)?;
    let heads = config.positive_or(&["num_attention_heads"], 16)?;
    let vocab = config.positive_or(&["vocab_size"], 128256)?;
    let intermediate = config.positive_or(&["intermediate_size"], 6144)?;
    let tie = config.bool_or(&["tie_word_embeddings"], true)?;
    let q_lora_rank = q_lora_rank(config, 1536)?;
    let attention = LatentAttention {
        num_heads: heads,
        q_lora_rank,
        kv_lora_rank: config.positive_or(&["kv_lora_rank"], 512)?,
        qk_nope_head_dim: config.u64_or(&["qk_nope_head_dim"], 128)?,
        qk_rope_head_dim: config.u64_or(&["qk_rope_head_dim"], 64)?,
        v_head_dim: config.positive_or(&["v_head_dim"], 128)?,
        bias: config.bool_or(&["attention_bias"], false)?,
    };
    check_latent_width(attention.qk_nope_head_dim, attention.qk_rope_head_dim)?;
    let layer = Layer::new(
        Mixer::Attention(AttentionLayer::full(Attention::Latent(attention))),
        FeedForward::Dense(Mlp {
            gated: true,
            intermediate_size: intermediate,
            bias: false,
        }),
    );
    Ok(Model::decoder(
        Family::Youtu,
        d,
        vocab,
        tie,
        vec![layer; layers as usize],
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Attention, FeedForward};
    use crate::model_config::parse;

    #[test]
    fn latent_attention_dense_mlp_tied_and_moe_fields_not_read() {
        let model =
            parse(r#"{"model_type": "youtu", "n_routed_experts": 64, "first_k_dense_replace": 1}"#)
                .unwrap();
        assert!(model.tie_word_embeddings);
        assert_eq!(model.layers.len(), 32);
        assert!(model
            .layers
            .iter()
            .all(|l| matches!(l.ffn, FeedForward::Dense(m) if m.intermediate_size == 6144)));
        let attention = model.first_attention().unwrap();
        assert!(matches!(attention.attention, Attention::Latent(a) if a.q_lora_rank == Some(1536)));
        let direct = parse(r#"{"model_type": "youtu", "q_lora_rank": null}"#).unwrap();
        let attention = direct.first_attention().unwrap();
        assert!(matches!(attention.attention, Attention::Latent(a) if a.q_lora_rank.is_none()));
        for (extra, field) in [
            (r#""q_lora_rank": 0"#, "q_lora_rank"),
            (r#""v_head_dim": null"#, "v_head_dim"),
            (r#""kv_lora_rank": 0"#, "kv_lora_rank"),
        ] {
            let config = format!(r#"{{"model_type": "youtu", {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
