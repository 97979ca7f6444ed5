//! Upstage Solar Open (`model_type: "solar_open"`), as `transformers`' `SolarOpenConfig` and
//! `SolarOpenForCausalLM` build it.
//!
//! - Full attention on every layer; q/k/v take `attention_bias`, the output projection never
//!   has a bias; no q/k norms; `head_dim` a field (128).
//! - Every layer is MoE (the class has no dense layers and reads no
//!   `first_k_dense_replace`): `n_routed_experts` experts (alias `num_local_experts`, which
//!   wins) of `moe_intermediate_size`, top `num_experts_per_tok`, one shared MLP
//!   `n_shared_experts` times as wide, DeepSeek-V3's group-limited sigmoid router with an
//!   `e_score_correction_bias` buffer (not counted).

use super::{
    check_top_k, default_seq_len, fused_shared_moe, key_value_heads, layer_count,
    shared_experts_width, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, MixtureOfExperts, Model, QkNorm,
    RouterCorrection, StandardAttention,
};

/// Builds the model `SolarOpenForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 48)?;
    let heads = config.positive_or(&["num_attention_heads"], 64)?;
    let kv_heads = key_value_heads(config, heads, Some(8), false)?;
    let head_dim = config.positive_or(&["head_dim"], 128)?;
    let vocab = config.positive_or(&["vocab_size"], 196608)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let moe = moe_block(config)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: bias,
        output_bias: false,
        qk_norm: QkNorm::None,
    });
    let layer = Layer::new(
        Mixer::Attention(AttentionLayer::full(attention)),
        FeedForward::MixtureOfExperts(moe),
    );
    Ok(Model::decoder(
        Family::SolarOpen,
        d,
        vocab,
        tie,
        vec![layer; layers as usize],
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}

/// The MoE block: routed experts, the shared experts fused into one MLP, DeepSeek-V3's
/// router with a correction-bias buffer.
fn moe_block(config: &Config) -> Result<MixtureOfExperts, ModelConfigError> {
    let experts_keys = &["num_local_experts", "n_routed_experts"];
    let num_experts = config.positive_or(experts_keys, 128)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 8)?;
    check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
    let size = config.positive_or(&["moe_intermediate_size"], 1280)?;
    let shared_width = shared_experts_width(config, "n_shared_experts", 1, size)?;
    Ok(fused_shared_moe(
        num_experts,
        top_k,
        size,
        shared_width,
        RouterCorrection::Buffer,
    ))
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::FeedForward;
    use crate::model_config::parse;

    #[test]
    fn every_layer_is_moe_whatever_first_k_dense_replace_says() {
        let model = parse(r#"{"model_type": "solar_open", "first_k_dense_replace": 3}"#).unwrap();
        assert_eq!(model.layers.len(), 48);
        assert!(model.layers.iter().all(|l| matches!(
            l.ffn,
            FeedForward::MixtureOfExperts(m) if m.num_experts == 128 && m.top_k == 8
        )));
    }

    #[test]
    fn the_alias_wins_and_bad_counts_are_refused_with_the_field() {
        let model = parse(
            r#"{"model_type": "solar_open", "n_routed_experts": 64, "num_local_experts": 16}"#,
        )
        .unwrap();
        assert!(matches!(
            model.layers[0].ffn,
            FeedForward::MixtureOfExperts(m) if m.num_experts == 16
        ));
        for (extra, field) in [
            (r#""num_experts_per_tok": 129"#, "num_experts_per_tok"),
            (r#""n_routed_experts": 0"#, "n_routed_experts"),
            (r#""num_key_value_heads": null"#, "num_key_value_heads"),
        ] {
            let config = format!(r#"{{"model_type": "solar_open", {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
