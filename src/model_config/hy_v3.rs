//! Tencent Hy3 (`model_type: "hy_v3"`), as `transformers`' `HYV3Config` and
//! `HYV3ForCausalLM` build it.
//!
//! - Apertus' attention: q/k/v/o all take `attention_bias`; `q_norm` and `k_norm` are
//!   RMSNorms of `head_dim` (a field, 128) shared by the heads.
//! - Dense (`intermediate_size`) or MoE layers from `mlp_layer_types` (default: the first
//!   layer dense, the others sparse); an entry other than `"sparse"` is dense to the class,
//!   refused here. Dense MLPs take `mlp_bias`.
//! - MoE: `num_experts` experts (alias `num_local_experts`, which wins) of
//!   `moe_intermediate_size`, bias-free, top `num_experts_per_tok`; a sigmoid router without
//!   bias and an `e_score_correction_bias` buffer (not counted); one shared MLP
//!   `moe_intermediate_size · num_shared_experts` wide with `mlp_bias` (a product of 0 falls
//!   back to `intermediate_size`: `HYV3MLP` reads `intermediate_size or ...`).
//! - The checkpoint's MTP layer (`model.layers.80`) is ignored on load: no MTP module is built.

use super::hybrid::layer_kinds;
use super::{
    check_top_k, default_seq_len, key_value_heads, layer_count, shared_experts_width, Config,
    ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, MixtureOfExperts, Mlp, Model,
    QkNorm, RouterCorrection, StandardAttention,
};

/// Builds the model `HYV3ForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let layers = layer_count(config, &["num_hidden_layers"], 80)?;
    let heads = config.positive_or(&["num_attention_heads"], 64)?;
    let kv_heads = key_value_heads(config, heads, Some(8), false)?;
    let head_dim = config.positive_or(&["head_dim"], 128)?;
    let vocab = config.positive_or(&["vocab_size"], 120832)?;
    let intermediate = config.positive_or(&["intermediate_size"], 13312)?;
    let attention_bias = config.bool_or(&["attention_bias"], false)?;
    let mlp_bias = config.bool_or(&["mlp_bias"], false)?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let sparse: Vec<bool> =
        match layer_kinds(config, "mlp_layer_types", layers, &["dense", "sparse"])? {
            Some(kinds) => kinds.iter().map(|kind| kind == "sparse").collect(),
            None => (0..layers).map(|i| i >= 1).collect(),
        };
    let dense = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: mlp_bias,
    };
    let moe = moe_block(config, intermediate, mlp_bias)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: attention_bias,
        output_bias: attention_bias,
        qk_norm: QkNorm::PerHead,
    });
    let built = sparse
        .iter()
        .map(|&sparse| {
            let ffn = if sparse {
                FeedForward::MixtureOfExperts(moe)
            } else {
                FeedForward::Dense(dense)
            };
            Layer::new(Mixer::Attention(AttentionLayer::full(attention)), ffn)
        })
        .collect();
    Ok(Model::decoder(
        Family::HyV3,
        d,
        vocab,
        tie,
        built,
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}

/// The MoE block: routed experts, the shared experts fused into one MLP, a sigmoid router
/// with a correction-bias buffer.
fn moe_block(
    config: &Config,
    intermediate: u64,
    mlp_bias: bool,
) -> Result<MixtureOfExperts, ModelConfigError> {
    let experts_keys = &["num_local_experts", "num_experts"];
    let num_experts = config.positive_or(experts_keys, 192)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 8)?;
    check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
    let size = config.positive_or(&["moe_intermediate_size"], 1536)?;
    let shared_width = shared_experts_width(config, "num_shared_experts", 1, size)?;
    Ok(MixtureOfExperts {
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: size,
            bias: false,
        },
        // HYV3MLP(config, intermediate_size=0) takes config.intermediate_size.
        shared: Some(Mlp {
            gated: true,
            intermediate_size: if shared_width == 0 {
                intermediate
            } else {
                shared_width
            },
            bias: mlp_bias,
        }),
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::Buffer,
        router_scales: false,
        latent: None,
        zero_experts: 0,
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::FeedForward;
    use crate::model_config::parse;

    #[test]
    fn first_layer_dense_then_moe_and_zero_shared_experts_take_the_dense_width() {
        let model = parse(r#"{"model_type": "hy_v3", "num_hidden_layers": 3}"#).unwrap();
        assert!(
            matches!(model.layers[0].ffn, FeedForward::Dense(m) if m.intermediate_size == 13312)
        );
        assert!(model.layers[1..].iter().all(|l| matches!(
            l.ffn,
            FeedForward::MixtureOfExperts(m) if m.num_experts == 192 && m.top_k == 8
                && m.shared.map(|s| s.intermediate_size) == Some(1536)
        )));
        let zero = parse(r#"{"model_type": "hy_v3", "num_shared_experts": 0}"#).unwrap();
        assert!(matches!(
            zero.layers[1].ffn,
            FeedForward::MixtureOfExperts(m) if m.shared.map(|s| s.intermediate_size) == Some(13312)
        ));
    }

    #[test]
    fn bad_fields_are_refused_with_the_field() {
        for (extra, field) in [
            (r#""num_experts_per_tok": 193"#, "num_experts_per_tok"),
            (r#""num_experts": null"#, "num_experts"),
            (r#""num_shared_experts": null"#, "num_shared_experts"),
            (r#""head_dim": null"#, "head_dim"),
            (r#""mlp_layer_types": ["sparse"]"#, "mlp_layer_types"),
        ] {
            let config = format!(r#"{{"model_type": "hy_v3", {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
