//! Meituan LongCat-Flash (`model_type: "longcat_flash"`), as `transformers`'
//! `LongcatFlashConfig` and `LongcatFlashForCausalLM` build it.
//!
//! - `num_layers` decoder layers (default 28; a file's `num_hidden_layers`, which wins, is
//!   twice that: `transformers` sets `num_layers = num_hidden_layers // 2`). Each has two
//!   sublayers, each an MLA (DeepSeek-V3's latent attention, always with a query latent
//!   `q_lora_rank`, `attention_bias` on `q_a_proj`, `kv_a_proj_with_mqa` and `o_proj`) and a
//!   dense gated MLP of `ffn_hidden_size` (alias `intermediate_size`, which wins), with two
//!   RMSNorms; and one shortcut-connected MoE that reads the first sublayer's normed input and
//!   adds to the second's output. It is modelled as three [`Layer`]s: the two sublayers, and
//!   between them the MoE alone (no mixer, no norm of its own).
//! - The MoE: `n_routed_experts` (alias `num_local_experts`) gated experts of
//!   `expert_ffn_hidden_size` (alias `moe_intermediate_size`) and `zero_expert_num`
//!   zero-computation (identity) experts, `moe_topk` (alias `num_experts_per_tok`) picks per
//!   token among both, a softmax router `classifier` over both (bias `router_bias`, default
//!   false) with a score-correction buffer, no shared expert. The zero experts cost no FLOPs;
//!   the count takes the real experts a token runs as `top_k · E / (E + Z)`
//!   ([`MixtureOfExperts::real_experts_per_token`]). `transformers` allocates the zero
//!   experts a `gate_up_proj` slice each, counted as the parameters it builds.
//! - No MTP module is built (`model.mtp.*` is ignored on load). The head ties with
//!   `tie_word_embeddings` (default false).

use super::{check_latent_width, default_seq_len, invalid, Config, ModelConfigError, MAX_LAYERS};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, LatentAttention, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, RouterCorrection,
};

/// Builds the model `LongcatFlashForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 6144)?;
    let layers = match config.optional_u64(&["num_hidden_layers"])? {
        Some(sublayers) => sublayers / 2,
        None => config.u64_or(&["num_layers"], 28)?,
    };
    if layers == 0 || layers > MAX_LAYERS {
        return Err(invalid(
            "num_layers",
            &layers.to_string(),
            &format!("must be from 1 to {MAX_LAYERS} (num_hidden_layers is twice it)"),
            "give the decoder layer count as num_layers",
        ));
    }
    let vocab = config.positive_or(&["vocab_size"], 131072)?;
    let nope = config.u64_or(&["qk_nope_head_dim"], 128)?;
    let rope = config.u64_or(&["qk_rope_head_dim"], 64)?;
    if let Some(qk) = config.optional_u64(&["qk_head_dim"])? {
        if qk != nope + rope {
            return Err(invalid(
                "qk_head_dim",
                &qk.to_string(),
                &format!(
                    "must be qk_nope_head_dim + qk_rope_head_dim = {}",
                    nope + rope
                ),
                "remove it to take the sum",
            ));
        }
    }
    check_latent_width(nope, rope)?;
    let attention = Attention::Latent(LatentAttention {
        num_heads: config.positive_or(&["num_attention_heads"], 64)?,
        q_lora_rank: Some(config.positive_or(&["q_lora_rank"], 1536)?),
        kv_lora_rank: config.positive_or(&["kv_lora_rank"], 512)?,
        qk_nope_head_dim: nope,
        qk_rope_head_dim: rope,
        v_head_dim: config.positive_or(&["v_head_dim"], 128)?,
        bias: config.bool_or(&["attention_bias"], false)?,
    });
    let dense = Mlp {
        gated: true,
        intermediate_size: config.positive_or(&["intermediate_size", "ffn_hidden_size"], 12288)?,
        bias: false,
    };
    let num_experts = config.u64_or(&["num_local_experts", "n_routed_experts"], 512)?;
    let zero_experts = config.u64_or(&["zero_expert_num"], 256)?;
    let top_k = config.positive_or(&["num_experts_per_tok", "moe_topk"], 12)?;
    if top_k > num_experts + zero_experts {
        return Err(invalid(
            "moe_topk",
            &top_k.to_string(),
            &format!(
                "is more than the router's experts (n_routed_experts + zero_expert_num = {})",
                num_experts + zero_experts
            ),
            "route each token to at most as many experts as there are",
        ));
    }
    if num_experts == 0 {
        return Err(invalid(
            "n_routed_experts",
            "0",
            "leaves only zero-computation experts",
            "set the routed expert count (512 for LongCat-Flash)",
        ));
    }
    let moe = MixtureOfExperts {
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: config
                .positive_or(&["moe_intermediate_size", "expert_ffn_hidden_size"], 2048)?,
            bias: false,
        },
        shared: None,
        shared_expert_gate: false,
        router_bias: config.bool_or(&["router_bias"], false)?,
        router_correction: RouterCorrection::Buffer,
        router_scales: false,
        latent: None,
        zero_experts,
    };
    let sublayer = Layer::new(
        Mixer::Attention(AttentionLayer::full(attention)),
        FeedForward::Dense(dense),
    );
    let shortcut = Layer {
        mixer: Mixer::None,
        ffn: FeedForward::MixtureOfExperts(moe),
        norms: 0,
    };
    let layers = (0..layers)
        .flat_map(|_| [sublayer, shortcut, sublayer])
        .collect();
    Ok(Model::decoder(
        Family::LongcatFlash,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}
