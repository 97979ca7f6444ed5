//! Databricks DBRX (`model_type: "dbrx"`), as `transformers`' `DbrxConfig` and
//! `DbrxForCausalLM` build it.
//!
//! - Top-level fields `d_model`, `n_heads`, `n_layers`, `max_seq_len` (aliases
//!   `hidden_size`, `num_attention_heads`, `num_hidden_layers`, `max_position_embeddings`,
//!   which win, but a `hidden_size` other than `d_model` is refused: `DbrxConfig` gives the
//!   experts `d_model`'s width); the attention and the experts read the `attn_config` and `ffn_config`
//!   sub-configs (`DbrxAttentionConfig`, `DbrxFFNConfig`), whose defaults apply when they are
//!   absent or null.
//! - Attention: one fused `Wqkv` (`d_model + 2 · kv_n_heads · head_dim` outputs) and
//!   `out_proj`, no biases; `head_dim = d_model / n_heads`; `kv_n_heads` (1 by default);
//!   `clip_qkv` clamps the fused projection (no parameter, no matmul). It reads
//!   `attn_config.rope_theta`, no field of the sub-config: a config without it is refused,
//!   as `transformers` cannot build it.
//! - Every layer is MoE: `moe_num_experts` (4 by default) GLU experts (`w1`, `v1`, `w2`) of
//!   `ffn_hidden_size` (3584), top `moe_top_k` (1), a bias-free router, no shared expert.
//! - LayerNorms without bias (`norm_1`, `norm_2` per layer, `norm_f`); the LM head is never
//!   tied (`DbrxConfig` refuses `tie_word_embeddings`).

use serde_json::{Map, Value};

use super::{default_seq_len, invalid, layer_count, Config, ModelConfigError};
use crate::accounting::model::{
    Attention, AttentionLayer, Family, FeedForward, Layer, Mixer, MixtureOfExperts, Mlp, Model,
    Norm, QkNorm, RouterCorrection, StandardAttention,
};

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

/// A sub-config (`attn_config`, `ffn_config`): its object, or an empty one (the class's
/// defaults) when it is absent or null.
fn sub_config<'a>(config: &Config<'a>, key: &'static str) -> Result<Config<'a>, ModelConfigError> {
    match config.object.get(key) {
        None | Some(Value::Null) => Ok(Config {
            object: EMPTY.get_or_init(Map::new),
        }),
        Some(Value::Object(object)) => Ok(Config { object }),
        Some(other) => Err(invalid(
            key,
            &other.to_string(),
            "must be an object (a DBRX sub-config)",
            "give the sub-config's fields as an object, or remove it to take its defaults",
        )),
    }
}

/// Builds the model `DbrxForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size", "d_model"], 2048)?;
    // DbrxConfig copies d_model into ffn_config before the hidden_size alias is applied: the
    // experts stay d_model wide (2048 by default) while the attention is hidden_size wide, a
    // model that cannot run. Such a config is refused.
    let field_width = config.positive_or(&["d_model"], 2048)?;
    if d != field_width {
        return Err(invalid(
            "hidden_size",
            &d.to_string(),
            &format!("differs from d_model = {field_width}, which DbrxConfig gives the experts (the attention takes hidden_size)"),
            "give the width as d_model alone",
        ));
    }
    let layers = layer_count(config, &["num_hidden_layers", "n_layers"], 24)?;
    let heads = config.positive_or(&["num_attention_heads", "n_heads"], 16)?;
    if d % heads != 0 {
        return Err(invalid(
            config.field(&["num_attention_heads", "n_heads"]).0,
            &heads.to_string(),
            &format!(
                "does not divide d_model = {d}: DbrxAttention's head width is d_model / n_heads"
            ),
            "fix the head count or the width",
        ));
    }
    let head_dim = d / heads;
    let vocab = config.positive_or(&["vocab_size"], 32000)?;
    if config.bool_or(&["tie_word_embeddings"], false)? {
        return Err(invalid(
            "tie_word_embeddings",
            "true",
            "is not supported for DBRX (DbrxConfig refuses it)",
            "remove it or set it to false",
        ));
    }
    let attn = sub_config(config, "attn_config")?;
    // DbrxAttention reads attn_config.rope_theta, no field of DbrxAttentionConfig: without
    // it transformers cannot build the model (every released config gives it).
    if matches!(attn.object.get("rope_theta"), None | Some(Value::Null)) {
        return Err(ModelConfigError::Missing {
            field: "attn_config.rope_theta",
            fix: "give attn_config.rope_theta (500000 in DBRX's configs): DbrxAttention reads it"
                .into(),
        });
    }
    let kv_heads = attn.positive_or(&["kv_n_heads"], 1)?;
    if kv_heads > heads || heads % kv_heads != 0 {
        return Err(invalid(
            "kv_n_heads",
            &kv_heads.to_string(),
            &format!("must divide n_heads = {heads}"),
            "use a divisor of the attention head count (equal for MHA, 1 for MQA)",
        ));
    }
    let ffn = sub_config(config, "ffn_config")?;
    let num_experts = ffn.positive_or(&["moe_num_experts"], 4)?;
    let top_k = ffn.positive_or(&["moe_top_k"], 1)?;
    if top_k > num_experts {
        return Err(invalid(
            "moe_top_k",
            &top_k.to_string(),
            &format!("is larger than the expert count (moe_num_experts = {num_experts})"),
            "route each token to at most as many experts as there are",
        ));
    }
    let expert_size = ffn.positive_or(&["ffn_hidden_size"], 3584)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: false,
        output_bias: false,
        qk_norm: QkNorm::None,
    });
    let moe = MixtureOfExperts {
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: expert_size,
            bias: false,
        },
        shared: None,
        shared_expert_gate: false,
        router_bias: false,
        router_correction: RouterCorrection::None,
        router_scales: false,
        latent: None,
        zero_experts: 0,
    };
    let layer = Layer::new(
        Mixer::Attention(AttentionLayer::full(attention)),
        FeedForward::MixtureOfExperts(moe),
    );
    Ok(Model {
        norm: Norm::LayerNorm { bias: false },
        ..Model::decoder(
            Family::Dbrx,
            d,
            vocab,
            false,
            vec![layer; layers as usize],
            default_seq_len(config, &["max_position_embeddings", "max_seq_len"], 2048)?,
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::accounting::model::{Attention, FeedForward, Norm};
    use crate::model_config::parse;

    #[test]
    fn sub_configs_give_the_attention_and_the_experts() {
        let model = parse(
            r#"{"model_type": "dbrx", "d_model": 6144, "n_heads": 48, "n_layers": 40,
                "attn_config": {"kv_n_heads": 8, "clip_qkv": 8, "rope_theta": 500000},
                "ffn_config": {"ffn_hidden_size": 10752, "moe_num_experts": 16, "moe_top_k": 4}}"#,
        )
        .unwrap();
        assert_eq!(model.norm, Norm::LayerNorm { bias: false });
        assert_eq!(model.layers.len(), 40);
        assert!(matches!(
            model.layers[0].ffn,
            FeedForward::MixtureOfExperts(m) if m.num_experts == 16 && m.top_k == 4
                && m.expert.intermediate_size == 10752 && m.shared.is_none()
        ));
        let attention = model.first_attention().unwrap();
        assert!(
            matches!(attention.attention, Attention::Standard(a) if a.num_kv_heads == 8 && a.head_dim == 128)
        );
        let defaults =
            parse(r#"{"model_type": "dbrx", "attn_config": {"rope_theta": 10000}}"#).unwrap();
        assert!(matches!(
            defaults.layers[0].ffn,
            FeedForward::MixtureOfExperts(m) if m.num_experts == 4 && m.top_k == 1
        ));
        for (extra, field) in [
            (r#""tie_word_embeddings": true"#, "tie_word_embeddings"),
            (
                r#""attn_config": {"kv_n_heads": 3, "rope_theta": 1}"#,
                "kv_n_heads",
            ),
            (r#""attn_config": null"#, "rope_theta"),
            (
                r#""ffn_config": {"moe_top_k": 5}, "attn_config": {"rope_theta": 1}"#,
                "moe_top_k",
            ),
            (
                r#""ffn_config": 3, "attn_config": {"rope_theta": 1}"#,
                "ffn_config",
            ),
            (r#""n_heads": 7"#, "n_heads"),
            (r#""hidden_size": 64"#, "hidden_size"),
        ] {
            let config = format!(r#"{{"model_type": "dbrx", {extra}}}"#);
            let error = parse(&config).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
