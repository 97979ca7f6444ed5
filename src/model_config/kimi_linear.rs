//! Moonshot Kimi Linear (`model_type: "kimi_linear"`), as `transformers`' `KimiLinearConfig`
//! and `KimiLinearForCausalLM` build it.
//!
//! - Layers are Kimi Delta Attention (`linear_attention`: a Gated DeltaNet with a per-channel
//!   decay, [`DeltaDecay::PerChannel`]) or DeepSeek-V3's latent attention without rotary
//!   embeddings (`full_attention`), from `layer_types`; without it, from the 1-indexed
//!   `full_attn_layers` and `kda_layers` of `linear_attn_config` when it has both; without
//!   those, every fourth layer from layer 4 (indices 4, 8, …) is `full_attention`.
//! - The KDA's heads, head width and convolution come from `linear_attn_config`'s
//!   `num_heads`, `head_dim` and `short_conv_kernel_size`, which win over `linear_num_heads`,
//!   `linear_head_dim` and `linear_conv_kernel_dim` (defaults 32, 128, 4).
//! - Feed-forward blocks are DeepSeek-V3's MoE (a shared MLP `n_shared_experts` times the
//!   expert width, a router with a score-correction buffer) on the `sparse` layers of
//!   `mlp_layer_types`, a gated MLP `intermediate_size` wide on the `dense` ones; without it,
//!   the first `first_k_dense_replace` layers (default 1) are dense.
//! - The `attribute_map` names (`num_experts`, `num_experts_per_token`,
//!   `num_shared_experts`, `model_max_length`) win over the field names they alias;
//!   `n_routed_experts`, `moe_layer_freq` and `num_nextn_predict_layers` are read by nothing,
//!   and no MTP module is built. `q_lora_rank` defaults to null (a plain `q_proj`).
//! - `KimiLinearForCausalLM` declares no tied weights: its head is never tied to the
//!   embedding, whatever `tie_word_embeddings` says.

use serde_json::{Map, Value};

use super::hybrid::layer_kinds;
use super::{deepseek, invalid, layer_count, Config, ModelConfigError};
use crate::accounting::model::{DeltaDecay, Family, FeedForward, GatedDeltaNet, Mixer, Mlp, Model};

/// `KimiLinearConfig`'s defaults for the keys DeepSeek-V3's builder reads.
const DEFAULTS: [(&str, u64); 14] = [
    ("hidden_size", 2304),
    ("num_hidden_layers", 27),
    ("num_attention_heads", 32),
    ("vocab_size", 163840),
    ("intermediate_size", 9216),
    ("moe_intermediate_size", 1024),
    ("num_local_experts", 256),
    ("num_experts_per_tok", 8),
    ("n_shared_experts", 1),
    ("kv_lora_rank", 512),
    ("qk_rope_head_dim", 64),
    ("qk_nope_head_dim", 128),
    ("v_head_dim", 128),
    ("max_position_embeddings", 1048576),
];

/// `attribute_map`: (the name `transformers` stores, the field name it aliases).
const ALIASES: [(&str, &str); 4] = [
    ("num_experts", "num_local_experts"),
    ("num_experts_per_token", "num_experts_per_tok"),
    ("num_shared_experts", "n_shared_experts"),
    ("model_max_length", "max_position_embeddings"),
];

/// Builds the model `KimiLinearForCausalLM` instantiates from `config`.
pub(super) fn build(config: &Config) -> Result<Model, ModelConfigError> {
    let mut filled = config.object.clone();
    for (stored, field) in ALIASES {
        if let Some(value) = filled.remove(stored) {
            filled.insert(field.into(), value);
        }
    }
    for ignored in [
        "n_routed_experts",
        "moe_layer_freq",
        "num_nextn_predict_layers",
        "first_k_dense_replace",
    ] {
        filled.remove(ignored);
    }
    for (key, value) in DEFAULTS {
        filled.entry(key).or_insert(Value::from(value));
    }
    filled.entry("q_lora_rank").or_insert(Value::Null);
    let filled_config = Config { object: &filled };
    let layers = layer_count(&filled_config, &["num_hidden_layers"], 27)?;
    if filled_config.u64_or(&["num_local_experts"], 256)? == 0 {
        return Err(invalid(
            "num_experts",
            "0",
            "leaves the MoE layers without experts",
            "set the routed expert count (256 for Kimi Linear 48B-A3B)",
        ));
    }
    // Every layer MoE first; the dense ones are put back below.
    filled.insert("first_k_dense_replace".into(), Value::from(0));
    let filled_config = Config { object: &filled };
    let mut model = deepseek(&filled_config, Family::DeepseekV3)?;
    model.family = Family::KimiLinear;
    model.mtp_modules = 0;
    // `_tied_weights_keys = {}`: the head is never tied, whatever tie_word_embeddings says.
    model.tie_word_embeddings = false;

    let sparse: Vec<bool> =
        match layer_kinds(config, "mlp_layer_types", layers, &["dense", "sparse"])? {
            Some(kinds) => kinds.iter().map(|kind| kind == "sparse").collect(),
            None => {
                let first = config.u64_or(&["first_k_dense_replace"], 1)?;
                (0..layers).map(|index| index >= first).collect()
            }
        };
    let dense = Mlp {
        gated: true,
        intermediate_size: filled_config.positive_or(&["intermediate_size"], 9216)?,
        bias: false,
    };

    let empty = Map::new();
    let linear = match config.object.get("linear_attn_config") {
        None | Some(Value::Null) => Config { object: &empty },
        Some(Value::Object(object)) => Config { object },
        Some(other) => {
            return Err(invalid(
                "linear_attn_config",
                &other.to_string(),
                "must be an object",
                "give the KDA settings as an object, or remove it",
            ))
        }
    };
    let pick =
        |sub: &'static str, top: &'static str, default: u64| -> Result<u64, ModelConfigError> {
            if linear.object.contains_key(sub) {
                linear.positive_or(&[sub], default)
            } else {
                config.positive_or(&[top], default)
            }
        };
    let head_dim = pick("head_dim", "linear_head_dim", 128)?;
    let heads = pick("num_heads", "linear_num_heads", 32)?;
    let kda = GatedDeltaNet {
        num_key_heads: heads,
        num_value_heads: heads,
        key_head_dim: head_dim,
        value_head_dim: head_dim,
        conv_kernel: pick("short_conv_kernel_size", "linear_conv_kernel_dim", 4)?,
        decay: DeltaDecay::PerChannel,
    };

    let linear_layers = linear_layer_kinds(config, &linear, layers)?;
    for ((layer, is_linear), is_sparse) in model.layers.iter_mut().zip(linear_layers).zip(sparse) {
        if is_linear {
            layer.mixer = Mixer::GatedDeltaNet(kda);
        } else if let Mixer::Attention(attention) = &mut layer.mixer {
            // KimiLinearModel deletes its rotary embedding: MLA without RoPE.
            attention.rope = false;
        }
        if !is_sparse {
            layer.ffn = FeedForward::Dense(dense);
        }
    }
    Ok(model)
}

/// Whether each layer is a KDA (`linear_attention`) layer: `layer_types`, else
/// `linear_attn_config`'s 1-indexed `full_attn_layers` and `kda_layers` (when it has both),
/// else `full_attention` at the nonzero multiples of 4.
fn linear_layer_kinds(
    config: &Config,
    linear: &Config,
    layers: u64,
) -> Result<Vec<bool>, ModelConfigError> {
    if let Some(kinds) = layer_kinds(
        config,
        "layer_types",
        layers,
        &["linear_attention", "full_attention"],
    )? {
        return Ok(kinds
            .iter()
            .map(|kind| kind == "linear_attention")
            .collect());
    }
    let full = one_indexed(linear, "full_attn_layers", layers)?;
    let kda = one_indexed(linear, "kda_layers", layers)?;
    let (Some(full), Some(kda)) = (full, kda) else {
        return Ok((0..layers).map(|i| !(i > 0 && i % 4 == 0)).collect());
    };
    let mut kinds: Vec<Option<bool>> = vec![None; layers as usize];
    // As KimiLinearConfig assigns them: the full layers first, then the KDA layers.
    for index in full {
        if let Some(kind) = kinds.get_mut(index) {
            *kind = Some(false);
        }
    }
    for index in kda {
        if let Some(kind) = kinds.get_mut(index) {
            *kind = Some(true);
        }
    }
    kinds
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            kind.ok_or_else(|| {
                invalid(
                    "linear_attn_config",
                    &format!("no entry for layer {}", index + 1),
                    "must list every layer (1-indexed) in full_attn_layers or kda_layers",
                    "list each layer from 1 to num_hidden_layers in one of the two",
                )
            })
        })
        .collect()
}

/// A list of 1-indexed layer numbers in `linear_attn_config`, as 0-based indices.
fn one_indexed(
    linear: &Config,
    key: &'static str,
    layers: u64,
) -> Result<Option<Vec<usize>>, ModelConfigError> {
    if !linear.object.contains_key(key) {
        return Ok(None);
    }
    let numbers = linear.u64_list(key)?;
    numbers
        .iter()
        .map(|&number| {
            if number == 0 || number > layers {
                Err(invalid(
                    "linear_attn_config",
                    &format!("{key} entry {number}"),
                    &format!("is not a layer number from 1 to num_hidden_layers = {layers}"),
                    "number the layers from 1 (as the checkpoint's config does)",
                ))
            } else {
                Ok(number as usize - 1)
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
