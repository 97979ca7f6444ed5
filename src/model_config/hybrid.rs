//! The hybrid and sparse `model_type`s: Llama 4, Qwen3-Next and Qwen3.5-MoE (Gated
//! DeltaNet), DeepSeek-V3.2 and GLM-5 (DeepSeek Sparse Attention), Nemotron-H (Mamba-2).
//!
//! Each takes the defaults of its `transformers` 5.24 configuration class and builds the
//! layers its modelling code builds, layer by layer. A multimodal config (`llama4`,
//! `qwen3_5_moe`) with a `text_config` is unwrapped by `multimodal.rs`; one without is
//! read here with the text class's defaults. The language model is what MFU is about;
//! their vision towers (`multimodal.rs`) are counted apart.

use serde_json::{Map, Value};

use super::{
    check_top_k, deepseek, default_seq_len, divide_heads, invalid, key_value_heads, layer_count,
    null_refused, Config, ModelConfigError,
};
use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, DeltaDecay, DsaIndexer, Family, FeedForward,
    GatedDeltaNet, LatentProjection, Layer, Mamba2, Mixer, MixtureOfExperts, Mlp, Model, QkNorm,
    RouterCorrection, StandardAttention,
};

/// Multimodal `model_type`s whose language model is one of these families.
pub(super) const MULTIMODAL: &[(&str, Family)] = &[
    ("llama4", Family::Llama4),
    ("qwen3_5_moe", Family::Qwen35Moe),
    ("qwen3_5", Family::Qwen35),
];

/// The family of a multimodal `model_type`, if it is one of [`MULTIMODAL`].
pub(super) fn multimodal_family(model_type: &str) -> Option<Family> {
    MULTIMODAL
        .iter()
        .find(|(name, _)| *name == model_type)
        .map(|(_, family)| *family)
}

/// Whether `family` is built here.
pub(super) fn handles(family: Family) -> bool {
    matches!(
        family,
        Family::Llama4
            | Family::Qwen3Next
            | Family::Qwen35Moe
            | Family::Qwen35
            | Family::DeepseekV32
            | Family::GlmMoeDsa
            | Family::NemotronH
    )
}

pub(super) fn build(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let empty = Map::new();
    let multimodal = matches!(
        config.object.get("model_type"),
        Some(Value::String(t)) if multimodal_family(t).is_some()
    );
    let text = if multimodal {
        match config.object.get("text_config") {
            Some(Value::Object(text)) => Config { object: text },
            None | Some(Value::Null) => Config { object: &empty },
            Some(other) => {
                return Err(invalid(
                    "text_config",
                    &other.to_string(),
                    "must be an object",
                    "give the language model's config as an object",
                ))
            }
        }
    } else {
        Config {
            object: config.object,
        }
    };
    let mut model = match family {
        Family::Llama4 => llama4(&text),
        Family::Qwen3Next | Family::Qwen35Moe | Family::Qwen35 => qwen3_next(&text, family),
        Family::DeepseekV32 | Family::GlmMoeDsa => dsa(&text, family),
        _ => nemotron_h(&text),
    }?;
    if multimodal {
        // A composite without text_config still has its (default) vision tower.
        model.vision = Some(super::multimodal::hybrid_vision_tower(
            family,
            config.object,
            model.hidden_size,
        )?);
    }
    Ok(model)
}

/// Attention head counts: (heads, key/value heads, head width).
struct Heads {
    heads: u64,
    kv_heads: u64,
    head_dim: u64,
}

/// `num_attention_heads`, `num_key_value_heads` (absent: `default_kv`, or the head count
/// where `None`; null: the head count where `kv_nullable`) and `head_dim` (null: hidden
/// size over heads where `head_dim_nullable`).
fn heads(
    config: &Config,
    d: u64,
    default_heads: u64,
    default_kv: Option<u64>,
    kv_nullable: bool,
    default_head_dim: u64,
    head_dim_nullable: bool,
) -> Result<Heads, ModelConfigError> {
    let heads = config.positive_or(&["num_attention_heads"], default_heads)?;
    let kv_heads = key_value_heads(config, heads, default_kv, kv_nullable)?;
    let head_dim = match config.optional_u64(&["head_dim"])? {
        Some(0) => {
            return Err(invalid(
                "head_dim",
                "0",
                "must be at least 1",
                "remove it to take the default",
            ))
        }
        Some(head_dim) => head_dim,
        None if config.is_null("head_dim") => {
            if !head_dim_nullable {
                return Err(null_refused("head_dim"));
            }
            divide_heads(d, heads, "hidden_size", "num_attention_heads")?
        }
        None => default_head_dim,
    };
    Ok(Heads {
        heads,
        kv_heads,
        head_dim,
    })
}

fn standard(heads: &Heads, bias: bool, qk_norm: QkNorm) -> Attention {
    Attention::Standard(StandardAttention {
        num_heads: heads.heads,
        num_kv_heads: heads.kv_heads,
        head_dim: heads.head_dim,
        v_head_dim: heads.head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm,
    })
}

fn gated(size: u64) -> Mlp {
    Mlp {
        gated: true,
        intermediate_size: size,
        bias: false,
    }
}

/// `kind` as `transformers` reads it from the list `key`.
fn renamed<'a>(key: &str, kind: &'a str) -> &'a str {
    if key != "layer_types" && key != "layers_block_type" {
        return kind;
    }
    LEGACY_LAYER_KINDS
        .iter()
        .find(|(legacy, _)| *legacy == kind)
        .map_or(kind, |(_, current)| current)
}

/// The legacy names of layer kinds that `transformers` renames when it reads `layer_types`
/// (`remap_legacy_layer_types`, applied to every config's `layer_types`, which Nemotron-H
/// aliases to `layers_block_type`): NVIDIA's native Nemotron-H files list `mamba` and
/// `attention` blocks.
const LEGACY_LAYER_KINDS: [(&str, &str); 4] = [
    ("mamba", "linear_attention"),
    ("attention", "full_attention"),
    ("deepseek_sparse_attention", "indexed_attention"),
    ("qwen_sparse_attention", "indexed_attention"),
];

/// A list of layer kinds (`layer_types` and the like): its length must be the layer count
/// and each entry one of `kinds` (in `layer_types` and `layers_block_type`, after the
/// renaming of [`LEGACY_LAYER_KINDS`]).
pub(super) fn layer_kinds(
    config: &Config,
    key: &'static str,
    layers: u64,
    kinds: &[&str],
) -> Result<Option<Vec<String>>, ModelConfigError> {
    let fix = format!("list one of {} per layer", kinds.join(", "));
    let Some(items) = config.list(key, "must be a list of layer kinds", &fix)? else {
        return Ok(None);
    };
    if items.len() as u64 != layers {
        return Err(invalid(
            key,
            &format!("a list of {}", items.len()),
            &format!("must have one entry per layer (num_hidden_layers = {layers})"),
            "give one kind per layer, or remove the key to take the default pattern",
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(kind) if kinds.contains(&renamed(key, kind)) => {
                Ok(renamed(key, kind).to_string())
            }
            other => Err(invalid(
                key,
                &other.to_string(),
                "is not a layer kind of this model_type",
                &format!("use one of {}", kinds.join(", ")),
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn check_indices(key: &'static str, indices: &[u64], layers: u64) -> Result<(), ModelConfigError> {
    if let Some(bad) = indices.iter().find(|i| **i >= layers) {
        return Err(invalid(
            key,
            &bad.to_string(),
            &format!("names a layer past the last one (num_hidden_layers = {layers})"),
            "list layer indices from 0 to num_hidden_layers - 1",
        ));
    }
    Ok(())
}

/// Llama 4: MoE layers (top-k routed experts plus a shared expert of the same width)
/// every `interleave_moe_layer_step` layers or at `moe_layers`, dense layers
/// `intermediate_size_mlp` wide, RoPE layers with chunked attention and NoPE layers with
/// full attention (`no_rope_layers`, `layer_types`).
fn llama4(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 5120)?;
    let layer_count = layer_count(config, &["num_hidden_layers"], 48)?;
    let vocab = config.positive_or(&["vocab_size"], 202048)?;
    let heads = heads(config, d, 40, Some(8), true, 128, true)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    // The L2 qk norm has no weights.
    let attention = standard(&heads, bias, QkNorm::None);
    let expert_size = config.positive_or(&["intermediate_size"], 8192)?;
    let dense = gated(config.positive_or(&["intermediate_size_mlp"], 16384)?);
    let num_experts = config.positive_or(&["num_local_experts"], 16)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 1)?;
    check_top_k(top_k, num_experts, "num_local_experts")?;
    let moe = MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: gated(expert_size),
        shared: Some(gated(expert_size)),
        shared_expert_gate: false,
        router_scales: false,
        latent: None,
        router_bias: false,
        router_correction: RouterCorrection::None,
    };
    let moe_layers = match config.object.get("moe_layers") {
        None | Some(Value::Null) => {
            let step = config.positive_or(&["interleave_moe_layer_step"], 1)?;
            (0..layer_count).filter(|i| (i + 1) % step == 0).collect()
        }
        Some(_) => config.u64_list("moe_layers")?,
    };
    check_indices("moe_layers", &moe_layers, layer_count)?;
    // no_rope_layers[i] is 1 where layer i uses RoPE; empty or absent takes the default,
    // every no_rope_layer_interval-th layer without.
    let mut rope = config.u64_list("no_rope_layers")?;
    if rope.is_empty() {
        let interval = config.positive_or(&["no_rope_layer_interval"], 4)?;
        rope = (0..layer_count)
            .map(|i| u64::from((i + 1) % interval != 0))
            .collect();
    }
    if rope.len() as u64 != layer_count {
        return Err(invalid(
            "no_rope_layers",
            &format!("a list of {}", rope.len()),
            &format!("must have one entry per layer (num_hidden_layers = {layer_count})"),
            "give 1 (RoPE) or 0 (NoPE) per layer, or remove the key",
        ));
    }
    let chunk = match config.field(&["attention_chunk_size"]) {
        (_, super::Field::Absent) => Some(8192),
        (_, super::Field::Null) => None,
        (key, super::Field::Present(value)) => Some(super::as_u64(key, value)?),
    };
    let kinds = layer_kinds(
        config,
        "layer_types",
        layer_count,
        &["chunked_attention", "full_attention"],
    )?;
    let kinds: Vec<bool> = match kinds {
        Some(kinds) => kinds.iter().map(|k| k == "chunked_attention").collect(),
        None => rope.iter().map(|r| *r != 0 && chunk.is_some()).collect(),
    };
    let mut layers = Vec::with_capacity(layer_count as usize);
    for index in 0..layer_count {
        let i = index as usize;
        let window = match (kinds.get(i).copied().unwrap_or(false), chunk) {
            (true, Some(0)) | (true, None) => {
                return Err(invalid(
                    "attention_chunk_size",
                    &format!("{chunk:?}"),
                    "leaves the chunked_attention layers without a chunk",
                    "set the chunk size (8192 for Llama 4)",
                ))
            }
            (true, Some(c)) => AttentionWindow::Chunked(c),
            (false, _) => AttentionWindow::Full,
        };
        let mut mixer = AttentionLayer::full(attention).with_window(window);
        mixer.rope = rope.get(i).is_some_and(|r| *r != 0);
        let ffn = if moe_layers.contains(&index) {
            FeedForward::MixtureOfExperts(moe)
        } else {
            FeedForward::Dense(dense)
        };
        layers.push(Layer::new(Mixer::Attention(mixer), ffn));
    }
    Ok(Model::decoder(
        Family::Llama4,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 131072)?,
    ))
}

/// Qwen3-Next, Qwen3.5-MoE and Qwen3.5: Gated DeltaNet on the `linear_attention` layers,
/// gated attention (a q_proj twice as wide, q/k norms) on the others, MoE with a gated
/// shared expert (Qwen3-Next: except `mlp_only_layers` and off the `decoder_sparse_step`;
/// Qwen3.5: a dense gated MLP on every layer, no experts).
fn qwen3_next(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let next = family == Family::Qwen3Next;
    let dense_only = family == Family::Qwen35;
    // Qwen3_5TextConfig's defaults (Qwen3.5-9B) differ from the MoE classes'.
    let d = config.positive_or(&["hidden_size"], if dense_only { 4096 } else { 2048 })?;
    let default_layers = match family {
        Family::Qwen3Next => 48,
        Family::Qwen35 => 32,
        _ => 40,
    };
    let layer_count = layer_count(config, &["num_hidden_layers"], default_layers)?;
    let vocab = config.positive_or(&["vocab_size"], if next { 151936 } else { 248320 })?;
    let default_kv = if dense_only { 4 } else { 2 };
    let heads = heads(config, d, 16, Some(default_kv), false, 256, false)?;
    let bias = config.bool_or(&["attention_bias"], false)?;
    let attention = standard(&heads, bias, QkNorm::PerHead);
    let gdn = GatedDeltaNet {
        num_key_heads: config.positive_or(&["linear_num_key_heads"], 16)?,
        num_value_heads: config.positive_or(&["linear_num_value_heads"], 32)?,
        key_head_dim: config.positive_or(&["linear_key_head_dim"], 128)?,
        value_head_dim: config.positive_or(&["linear_value_head_dim"], 128)?,
        conv_kernel: config.positive_or(&["linear_conv_kernel_dim"], 4)?,
        decay: DeltaDecay::PerHead,
    };
    if gdn.num_value_heads % gdn.num_key_heads != 0 {
        return Err(invalid(
            "linear_num_value_heads",
            &gdn.num_value_heads.to_string(),
            &format!(
                "must be a multiple of linear_num_key_heads = {}",
                gdn.num_key_heads
            ),
            "each key head serves a whole number of value heads",
        ));
    }
    let kinds = match layer_kinds(
        config,
        "layer_types",
        layer_count,
        &["linear_attention", "full_attention"],
    )? {
        Some(kinds) => kinds.iter().map(|k| k == "linear_attention").collect(),
        None => {
            let interval = config.positive_or(&["full_attention_interval"], 4)?;
            (0..layer_count)
                .map(|i| (i + 1) % interval != 0)
                .collect::<Vec<bool>>()
        }
    };
    // Qwen3.5 has no experts; its configuration class reads no expert keys.
    let num_experts = if dense_only {
        0
    } else {
        config.u64_or(&["num_experts"], if next { 512 } else { 256 })?
    };
    let top_k = config.positive_or(&["num_experts_per_tok"], if next { 10 } else { 8 })?;
    let moe = if num_experts == 0 {
        None
    } else {
        check_top_k(top_k, num_experts, "num_experts")?;
        let shared = config.u64_or(&["shared_expert_intermediate_size"], 512)?;
        Some(MixtureOfExperts {
            zero_experts: 0,
            num_experts,
            top_k,
            expert: gated(config.positive_or(&["moe_intermediate_size"], 512)?),
            shared: (shared > 0).then_some(gated(shared)),
            // The shared expert's sigmoid gate is built whatever its width.
            shared_expert_gate: true,
            router_scales: false,
            latent: None,
            router_bias: false,
            router_correction: RouterCorrection::None,
        })
    };
    let (step, dense_layers, dense) = if dense_only {
        (
            1,
            Vec::new(),
            Some(gated(config.positive_or(&["intermediate_size"], 12288)?)),
        )
    } else if next {
        let dense_layers = config.u64_list("mlp_only_layers")?;
        check_indices("mlp_only_layers", &dense_layers, layer_count)?;
        (
            config.positive_or(&["decoder_sparse_step"], 1)?,
            dense_layers,
            Some(gated(config.positive_or(&["intermediate_size"], 5632)?)),
        )
    } else {
        (1, Vec::new(), None)
    };
    let mut layers = Vec::with_capacity(layer_count as usize);
    for index in 0..layer_count {
        let linear = kinds.get(index as usize).copied().unwrap_or(false);
        let mixer = if linear {
            Mixer::GatedDeltaNet(gdn)
        } else {
            let mut layer = AttentionLayer::full(attention);
            layer.output_gate = true;
            Mixer::Attention(layer)
        };
        let sparse = !dense_layers.contains(&index) && (index + 1) % step == 0;
        let ffn = match (moe, dense) {
            (Some(moe), _) if sparse => FeedForward::MixtureOfExperts(moe),
            (_, Some(mlp)) => FeedForward::Dense(mlp),
            // Qwen3.5-MoE has no dense layers: without experts it has no feed-forward
            // block to build, which its reference refuses.
            (_, None) => {
                return Err(invalid(
                    "num_experts",
                    "0",
                    "leaves Qwen3.5-MoE without feed-forward blocks",
                    "set the expert count (256 for Qwen3.5-35B-A3B)",
                ))
            }
        };
        layers.push(Layer::new(mixer, ffn));
    }
    Ok(Model::decoder(
        family,
        d,
        vocab,
        config.bool_or(&["tie_word_embeddings"], false)?,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 32768)?,
    ))
}

/// The `transformers` defaults of the DSA classes that DeepSeek-V3's parsing reads.
fn dsa_defaults(family: Family) -> [(&'static str, u64); 19] {
    let glm = family == Family::GlmMoeDsa;
    [
        ("vocab_size", if glm { 154880 } else { 129280 }),
        ("hidden_size", if glm { 6144 } else { 7168 }),
        ("intermediate_size", if glm { 12288 } else { 18432 }),
        ("moe_intermediate_size", 2048),
        ("num_hidden_layers", if glm { 78 } else { 61 }),
        ("num_attention_heads", if glm { 64 } else { 128 }),
        ("num_key_value_heads", if glm { 64 } else { 128 }),
        ("n_shared_experts", 1),
        ("n_routed_experts", 256),
        ("kv_lora_rank", 512),
        ("q_lora_rank", if glm { 2048 } else { 1536 }),
        ("qk_rope_head_dim", 64),
        ("v_head_dim", if glm { 256 } else { 128 }),
        ("qk_nope_head_dim", if glm { 192 } else { 128 }),
        ("n_group", if glm { 1 } else { 8 }),
        ("topk_group", if glm { 1 } else { 4 }),
        ("num_experts_per_tok", 8),
        ("first_k_dense_replace", 3),
        ("max_position_embeddings", if glm { 202752 } else { 163840 }),
    ]
}

/// DeepSeek-V3.2 and GLM-5: DeepSeek-V3's MLA and MoE with an indexer per layer (GLM-5:
/// on its `full` indexer layers; `shared` layers reuse the previous selection), each
/// query attending to the `index_topk` keys the indexer picks.
fn dsa(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    if config.is_null("q_lora_rank") {
        return Err(invalid(
            "q_lora_rank",
            "null",
            "is required: the DSA indexer reads the query latent",
            "set the query compression rank (1536 for DeepSeek-V3.2, 2048 for GLM-5)",
        ));
    }
    // DeepSeek-V3's parsing, with this class's defaults for what the config leaves out.
    let mut filled = config.object.clone();
    for (key, value) in dsa_defaults(family) {
        filled.entry(key).or_insert(Value::from(value));
    }
    let layers = super::layer_count(&Config { object: &filled }, &["num_hidden_layers"], 61)?;
    // These classes take min(first_k_dense_replace, num_hidden_layers) dense layers.
    let first_dense = Config { object: &filled }.u64_or(&["first_k_dense_replace"], 3)?;
    filled.insert(
        "first_k_dense_replace".into(),
        Value::from(first_dense.min(layers)),
    );
    let kinds = layer_kinds(config, "mlp_layer_types", layers, &["dense", "sparse"])?;
    if kinds.is_some() {
        // Every layer MoE first; the dense ones are put back below.
        filled.insert("first_k_dense_replace".into(), Value::from(0));
    }
    filled.remove("num_nextn_predict_layers");
    let filled_config = Config { object: &filled };
    let mut model = deepseek(&filled_config, Family::DeepseekV3)?;
    model.family = family;
    model.mtp_modules = config.u64_or(&["num_nextn_predict_layers"], 0)?;
    if let Some(kinds) = kinds {
        let dense = gated(filled_config.positive_or(&["intermediate_size"], 18432)?);
        for (layer, kind) in model.layers.iter_mut().zip(&kinds) {
            if kind == "dense" {
                layer.ffn = FeedForward::Dense(dense);
            }
        }
    }
    let layer_total = model.layers.len() as u64;
    let topk = filled_config.positive_or(&["index_topk"], 2048)?;
    let rope = filled_config.u64_or(&["qk_rope_head_dim"], 64)?;
    let indexer = DsaIndexer {
        num_heads: filled_config.positive_or(
            &["index_n_heads"],
            if family == Family::GlmMoeDsa { 32 } else { 64 },
        )?,
        head_dim: filled_config.positive_or(&["index_head_dim"], 128)?,
        query_rank: filled_config.positive_or(&["q_lora_rank"], 1536)?,
    };
    if indexer.head_dim < rope {
        return Err(invalid(
            "index_head_dim",
            &indexer.head_dim.to_string(),
            &format!("is narrower than qk_rope_head_dim = {rope}, which it splits off"),
            "set the indexer head width (128 for DeepSeek-V3.2 and GLM-5)",
        ));
    }
    let own_indexer = if family == Family::GlmMoeDsa {
        glm_indexer_layers(config, layer_total)?
    } else {
        vec![true; layer_total as usize]
    };
    for (layer, own) in model.layers.iter_mut().zip(own_indexer) {
        if let Mixer::Attention(attention) = &mut layer.mixer {
            attention.window = AttentionWindow::TopK(topk);
            attention.indexer = own.then_some(indexer);
        }
    }
    Ok(model)
}

/// GLM-5's indexer layers: `indexer_types` (`full` / `shared`), else
/// `index_topk_pattern` (`F` / `S`), else `index_topk_freq` and `index_skip_topk_offset`.
fn glm_indexer_layers(config: &Config, layers: u64) -> Result<Vec<bool>, ModelConfigError> {
    let own: Vec<bool> =
        if let Some(kinds) = layer_kinds(config, "indexer_types", layers, &["full", "shared"])? {
            kinds.iter().map(|k| k == "full").collect()
        } else if let Some(Value::String(pattern)) = config.object.get("index_topk_pattern") {
            if pattern.len() as u64 != layers || pattern.chars().any(|c| c != 'F' && c != 'S') {
                return Err(invalid(
                    "index_topk_pattern",
                    &format!("{pattern:?}"),
                    &format!("must be one F (full) or S (shared) per layer ({layers} layers)"),
                    "write e.g. \"FFSF\"",
                ));
            }
            pattern.chars().map(|c| c == 'F').collect()
        } else if let Some(pattern) = config.object.get("index_topk_pattern") {
            let items = match pattern {
                Value::Array(items) => items,
                other => {
                    return Err(invalid(
                        "index_topk_pattern",
                        &other.to_string(),
                        "must be a string of F and S or a list of full / shared",
                        "write e.g. \"FFSF\"",
                    ))
                }
            };
            let mut own = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some("full") => own.push(true),
                    Some("shared") => own.push(false),
                    _ => {
                        return Err(invalid(
                            "index_topk_pattern",
                            &item.to_string(),
                            "is not an indexer kind",
                            "use full or shared",
                        ))
                    }
                }
            }
            if own.len() as u64 != layers {
                return Err(invalid(
                    "index_topk_pattern",
                    &format!("a list of {}", own.len()),
                    &format!("must have one entry per layer ({layers} layers)"),
                    "give one kind per layer",
                ));
            }
            own
        } else {
            let freq = config.u64_or(&["index_topk_freq"], 1)?.max(1);
            let offset = config.u64_or(&["index_skip_topk_offset"], 2)?;
            (0..layers)
                .map(|i| (i + 1).saturating_sub(offset) % freq == 0)
                .collect()
        };
    if own.first() == Some(&false) {
        return Err(invalid(
            "indexer_types",
            "shared first",
            "the first layer has no earlier indexer to share",
            "make the first layer a full indexer layer",
        ));
    }
    Ok(own)
}

/// Nemotron-H: one mixer per block, from `hybrid_override_pattern` (`M` Mamba-2, `*`
/// attention, `-` MLP, `E` MoE) or `layers_block_type`, with one RMSNorm per block.
fn nemotron_h(config: &Config) -> Result<Model, ModelConfigError> {
    const KINDS: [&str; 4] = ["linear_attention", "full_attention", "mlp", "moe"];
    let kinds: Vec<String> = match config.object.get("hybrid_override_pattern") {
        Some(Value::String(pattern)) => pattern
            .chars()
            .map(|c| match c {
                'M' => Ok("linear_attention".to_string()),
                '*' => Ok("full_attention".to_string()),
                '-' => Ok("mlp".to_string()),
                'E' => Ok("moe".to_string()),
                other => Err(invalid(
                    "hybrid_override_pattern",
                    &format!("{pattern:?}"),
                    &format!("has {other:?}, not a block kind"),
                    "use M (Mamba-2), * (attention), - (MLP) and E (MoE)",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Null) | None => {
            let key = if config.object.contains_key("layers_block_type") {
                "layers_block_type"
            } else {
                "layer_types"
            };
            let count = config
                .object
                .get(key)
                .and_then(Value::as_array)
                .map_or(0, |a| a.len() as u64);
            layer_kinds(config, key, count, &KINDS)?.unwrap_or_else(|| {
                ["linear_attention", "moe", "full_attention", "mlp"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            })
        }
        Some(other) => {
            return Err(invalid(
                "hybrid_override_pattern",
                &other.to_string(),
                "must be a string",
                "write e.g. \"M-M*-\"",
            ))
        }
    };
    if kinds.is_empty() || kinds.len() as u64 > super::MAX_LAYERS {
        return Err(invalid(
            "hybrid_override_pattern",
            &format!("{} blocks", kinds.len()),
            "must name at least one block",
            "give one character per block",
        ));
    }
    if let Some(layers) = config.optional_u64(&["num_hidden_layers"])? {
        if layers != kinds.len() as u64 {
            return Err(invalid(
                "num_hidden_layers",
                &layers.to_string(),
                &format!(
                    "differs from the {} blocks of hybrid_override_pattern",
                    kinds.len()
                ),
                "make hybrid_override_pattern one character per layer (transformers builds its blocks)",
            ));
        }
    }
    let d = config.positive_or(&["hidden_size"], 4096)?;
    let vocab = config.positive_or(&["vocab_size"], 131072)?;
    let heads = heads(config, d, 32, Some(8), true, 128, false)?;
    let attention = standard(&heads, false, QkNorm::None);
    let mlp_bias = config.bool_or(&["mlp_bias"], false)?;
    let mlp = |size| Mlp {
        gated: false,
        intermediate_size: size,
        bias: mlp_bias,
    };
    let mamba = Mamba2 {
        num_heads: config.positive_or(&["mamba_num_heads"], 128)?,
        head_dim: config.positive_or(&["mamba_head_dim"], 64)?,
        state_size: config.positive_or(&["ssm_state_size"], 128)?,
        num_groups: config.positive_or(&["n_groups", "mamba_n_groups"], 8)?,
        conv_kernel: config.positive_or(&["conv_kernel", "mamba_d_conv"], 4)?,
        chunk_size: config.positive_or(&["chunk_size", "mamba_chunk_size"], 128)?,
        conv_bias: config.bool_or(&["use_conv_bias", "mamba_conv_bias"], true)?,
        in_proj_bias: config.bool_or(&["use_bias"], false)?,
        out_proj_bias: config.bool_or(&["use_bias"], false)?,
        gated_norm: true,
    };
    if mamba.num_heads % mamba.num_groups != 0 {
        return Err(invalid(
            "n_groups",
            &mamba.num_groups.to_string(),
            &format!("must divide mamba_num_heads = {}", mamba.num_heads),
            "use a divisor of the Mamba head count",
        ));
    }
    let dense = mlp(config.positive_or(&["intermediate_size"], 21504)?);
    let latent = match config.optional_u64(&["moe_latent_size"])? {
        None => None,
        Some(0) => {
            return Err(invalid(
                "moe_latent_size",
                "0",
                "must be at least 1",
                "set it to the experts' latent width, or null for experts on the hidden width",
            ))
        }
        Some(size) => Some(LatentProjection {
            size,
            bias: mlp_bias,
        }),
    };
    let num_experts = config.positive_or(&["num_local_experts", "n_routed_experts"], 8)?;
    let top_k = config.positive_or(&["num_experts_per_tok"], 2)?;
    let moe = MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: Mlp {
            gated: false,
            intermediate_size: config.positive_or(&["moe_intermediate_size"], 7688)?,
            bias: false,
        },
        shared: Some(mlp(
            config.positive_or(&["moe_shared_expert_intermediate_size"], 7688)?
        )),
        shared_expert_gate: false,
        router_scales: false,
        latent,
        router_bias: false,
        router_correction: RouterCorrection::Buffer,
    };
    if kinds.iter().any(|k| k == "moe") {
        check_top_k(top_k, num_experts, "n_routed_experts")?;
    }
    let layers = kinds
        .iter()
        .map(|kind| {
            let (mixer, ffn) = match kind.as_str() {
                "linear_attention" => (Mixer::Mamba2(mamba), FeedForward::None),
                "full_attention" => (
                    Mixer::Attention(AttentionLayer::full(attention)),
                    FeedForward::None,
                ),
                "mlp" => (Mixer::None, FeedForward::Dense(dense)),
                _ => (Mixer::None, FeedForward::MixtureOfExperts(moe)),
            };
            Layer {
                mixer,
                ffn,
                norms: 1,
            }
        })
        .collect();
    // NemotronHForCausalLM has no tied weights (`_tied_weights_keys` is empty): its head is
    // its own whatever `tie_word_embeddings` says (which must still be a boolean).
    config.bool_or(&["tie_word_embeddings"], false)?;
    Ok(Model::decoder(
        Family::NemotronH,
        d,
        vocab,
        false,
        layers,
        default_seq_len(config, &["max_position_embeddings"], 4096)?,
    ))
}

/// The Mamba-2 mixer of Bamba and Granite 4.0-H (`BambaMixer`), from the `mamba_*` keys of
/// their configuration classes, which share these defaults: 128 heads of `mamba_d_head`
/// (`"auto"`: `mamba_expand · hidden_size / mamba_n_heads`), one group, a state of 256, a
/// convolution of 4 with a bias, chunks of 256, no projection biases. The mixer's inner width
/// is `mamba_expand · hidden_size`, which the heads must fill exactly (the classes'
/// `validate_architecture`).
pub(super) fn bamba_mamba(config: &Config, d: u64) -> Result<Mamba2, ModelConfigError> {
    let inner = mamba_expanded_width(config, d)?;
    mamba_keys(config, inner, "mamba_expand * hidden_size")
}

/// `mamba_expand · hidden_size` (`mamba_expand` default 2).
pub(super) fn mamba_expanded_width(config: &Config, d: u64) -> Result<u64, ModelConfigError> {
    let expand = config.positive_or(&["mamba_expand"], 2)?;
    d.checked_mul(expand).ok_or_else(|| {
        invalid(
            "mamba_expand",
            &expand.to_string(),
            "makes the inner width overflow",
            "use the model's real expansion (2)",
        )
    })
}

/// A Mamba-2 mixer of inner width `inner` (named `inner_name` in messages) from the `mamba_*`
/// keys with Bamba's defaults; Falcon-H1 reads the same keys around its own inner width.
pub(super) fn mamba_keys(
    config: &Config,
    inner: u64,
    inner_name: &str,
) -> Result<Mamba2, ModelConfigError> {
    let num_heads = config.positive_or(&["mamba_n_heads"], 128)?;
    if inner % num_heads != 0 {
        return Err(invalid(
            "mamba_n_heads",
            &num_heads.to_string(),
            &format!("must divide {inner_name} = {inner}"),
            "use a divisor of the Mamba inner width",
        ));
    }
    let head_dim = match config.field(&["mamba_d_head"]) {
        (_, super::Field::Absent) => inner / num_heads,
        (_, super::Field::Present(Value::String(s))) if s == "auto" => inner / num_heads,
        (key, super::Field::Present(value)) => super::as_u64(key, value)?,
        (key, super::Field::Null) => return Err(null_refused(key)),
    };
    if head_dim.checked_mul(num_heads) != Some(inner) {
        return Err(invalid(
            "mamba_d_head",
            &head_dim.to_string(),
            &format!("times mamba_n_heads = {num_heads} must be {inner_name} = {inner}"),
            "remove it (or write \"auto\") to take the inner width over the heads",
        ));
    }
    let projection_bias = config.bool_or(&["mamba_proj_bias"], false)?;
    let mamba = Mamba2 {
        num_heads,
        head_dim,
        state_size: config.positive_or(&["mamba_d_state"], 256)?,
        num_groups: config.positive_or(&["mamba_n_groups"], 1)?,
        conv_kernel: config.positive_or(&["mamba_d_conv"], 4)?,
        chunk_size: config.positive_or(&["mamba_chunk_size"], 256)?,
        conv_bias: config.bool_or(&["mamba_conv_bias"], true)?,
        in_proj_bias: projection_bias,
        out_proj_bias: projection_bias,
        gated_norm: true,
    };
    if mamba.num_heads % mamba.num_groups != 0 {
        return Err(invalid(
            "mamba_n_groups",
            &mamba.num_groups.to_string(),
            &format!("must divide mamba_n_heads = {}", mamba.num_heads),
            "use a divisor of the Mamba head count",
        ));
    }
    Ok(mamba)
}

#[cfg(test)]
mod tests {
    use crate::model_config::{parse, ModelConfigError};

    /// The refused field and the start of its problem.
    fn refused(json: &str) -> (&'static str, String) {
        match parse(json) {
            Err(ModelConfigError::Invalid { field, problem, .. }) => (field, problem),
            other => panic!("{json}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn nemotron_h_reads_the_legacy_block_names_of_layers_block_type() {
        let pattern = parse(r#"{"model_type": "nemotron_h", "hybrid_override_pattern": "ME*-"}"#);
        let legacy = parse(
            r#"{"model_type": "nemotron_h", "num_hidden_layers": 4,
                "layers_block_type": ["mamba", "moe", "attention", "mlp"]}"#,
        );
        let current = parse(
            r#"{"model_type": "nemotron_h",
                "layer_types": ["linear_attention", "moe", "full_attention", "mlp"]}"#,
        );
        assert_eq!(legacy.unwrap(), pattern.clone().unwrap());
        assert_eq!(current.unwrap(), pattern.unwrap());
        let (field, _) =
            refused(r#"{"model_type": "nemotron_h", "layers_block_type": ["mamba", "ssm"]}"#);
        assert_eq!(field, "layers_block_type");
    }

    #[test]
    fn inconsistent_layer_patterns_name_the_field() {
        let cases = [
            (
                r#"{"model_type": "qwen3_next", "num_hidden_layers": 3, "layer_types": ["linear_attention", "full_attention"]}"#,
                "layer_types",
                "must have one entry per layer",
            ),
            (
                r#"{"model_type": "qwen3_next", "num_hidden_layers": 2, "layer_types": ["linear_attention", "sliding_attention"]}"#,
                "layer_types",
                "is not a layer kind",
            ),
            (
                r#"{"model_type": "llama4_text", "num_hidden_layers": 2, "no_rope_layers": [1, 0, 1]}"#,
                "no_rope_layers",
                "must have one entry per layer",
            ),
            (
                r#"{"model_type": "llama4_text", "num_hidden_layers": 4, "moe_layers": [4]}"#,
                "moe_layers",
                "names a layer past the last one",
            ),
            (
                r#"{"model_type": "nemotron_h", "hybrid_override_pattern": "M-X*"}"#,
                "hybrid_override_pattern",
                "has 'X'",
            ),
            (
                r#"{"model_type": "nemotron_h", "hybrid_override_pattern": "M-M*", "num_hidden_layers": 5}"#,
                "num_hidden_layers",
                "differs from the 4 blocks",
            ),
            (
                r#"{"model_type": "glm_moe_dsa", "num_hidden_layers": 2, "indexer_types": ["shared", "full"]}"#,
                "indexer_types",
                "the first layer has no earlier indexer",
            ),
            (
                r#"{"model_type": "deepseek_v32", "num_hidden_layers": 2, "mlp_layer_types": ["dense", "moe"]}"#,
                "mlp_layer_types",
                "is not a layer kind",
            ),
            (
                r#"{"model_type": "deepseek_v32", "q_lora_rank": null}"#,
                "q_lora_rank",
                "is required",
            ),
            (
                r#"{"model_type": "qwen3_next", "linear_num_key_heads": 3, "linear_num_value_heads": 32}"#,
                "linear_num_value_heads",
                "must be a multiple",
            ),
            (
                r#"{"model_type": "qwen3_5_text", "num_hidden_layers": 3, "layer_types": ["linear_attention", "full_attention"]}"#,
                "layer_types",
                "must have one entry per layer",
            ),
            (
                r#"{"model_type": "qwen3_5", "text_config": {"num_hidden_layers": 2, "layer_types": ["linear_attention", "sliding_attention"]}}"#,
                "layer_types",
                "is not a layer kind",
            ),
            (
                r#"{"model_type": "nemotron_h", "moe_latent_size": 0}"#,
                "moe_latent_size",
                "must be at least 1",
            ),
        ];
        for (json, field, problem) in cases {
            let (got_field, got_problem) = refused(json);
            assert_eq!(got_field, field, "{json}");
            assert!(got_problem.starts_with(problem), "{json}: {got_problem}");
        }
    }

    #[test]
    fn multimodal_configs_are_read_through_their_text_config() {
        let text = r#"{"model_type": "llama4_text", "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
            "intermediate_size": 32, "intermediate_size_mlp": 96, "vocab_size": 256}"#;
        let multimodal = r#"{"model_type": "llama4", "text_config": {"hidden_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 16, "intermediate_size": 32, "intermediate_size_mlp": 96,
            "vocab_size": 256}, "vision_config": {"hidden_size": 1408}}"#;
        // The same language model; the composite adds its vision tower, counted apart.
        let without_vision = |json: &str| crate::accounting::model::Model {
            vision: None,
            ..parse(json).unwrap()
        };
        assert!(parse(multimodal).unwrap().vision.is_some());
        assert_eq!(parse(text).unwrap(), without_vision(multimodal));
        let qwen = without_vision(r#"{"model_type": "qwen3_5_moe"}"#);
        assert!(parse(r#"{"model_type": "qwen3_5_moe"}"#)
            .unwrap()
            .vision
            .is_some());
        assert_eq!(
            qwen,
            parse(r#"{"model_type": "qwen3_5_moe_text"}"#).unwrap()
        );
        assert_eq!(qwen.layers.len(), 40);
        // Qwen3.5 (dense): the same reading, with Qwen3_5TextConfig's defaults.
        let dense = without_vision(r#"{"model_type": "qwen3_5"}"#);
        assert!(parse(r#"{"model_type": "qwen3_5"}"#)
            .unwrap()
            .vision
            .is_some());
        assert_eq!(dense, parse(r#"{"model_type": "qwen3_5_text"}"#).unwrap());
        assert_eq!((dense.layers.len(), dense.hidden_size), (32, 4096));
    }

    #[test]
    fn qwen3_5_is_dense_on_every_layer_and_ignores_expert_keys() {
        use crate::accounting::model::{FeedForward, Mixer};
        let model = parse(
            r#"{"model_type": "qwen3_5_text", "num_hidden_layers": 4, "intermediate_size": 96,
            "num_experts": 8, "full_attention_interval": 2}"#,
        )
        .unwrap();
        let kinds: Vec<bool> = model
            .layers
            .iter()
            .map(|l| matches!(l.mixer, Mixer::GatedDeltaNet(_)))
            .collect();
        assert_eq!(kinds, [true, false, true, false]);
        for layer in &model.layers {
            match layer.ffn {
                FeedForward::Dense(mlp) => assert_eq!(mlp.intermediate_size, 96),
                ref other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_unknown_type_message_lists_the_multimodal_names() {
        match parse(r#"{"model_type": "llama5"}"#) {
            Err(ModelConfigError::UnknownModelType { supported, .. }) => {
                for name in [
                    "llama4",
                    "llama4_text",
                    "qwen3_5_moe",
                    "qwen3_5",
                    "qwen3_5_text",
                    "nemotron_h",
                    "glm_moe_dsa",
                ] {
                    assert!(supported.contains(name), "{supported}");
                }
            }
            other => panic!("{other:?}"),
        }
    }

    use crate::accounting::flops::{
        detailed, AttentionCounting, DetailedFlops, FlopOptions, Recompute,
    };

    fn flops(json: &str, seq_len: u64, attention: AttentionCounting) -> DetailedFlops {
        let options = FlopOptions {
            seq_len,
            attention,
            include_mtp: false,
            recompute: Recompute::None,
        };
        detailed(&parse(json).unwrap(), &options)
    }

    fn component(flops: &DetailedFlops, name: &str) -> f64 {
        flops
            .components
            .iter()
            .find(|c| c.name == name)
            .map_or(0.0, |c| c.forward)
    }

    const DSA: &str = r#"{"model_type": "deepseek_v32", "vocab_size": 256, "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 1, "first_k_dense_replace": 1,
        "num_attention_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
        "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 12,
        "index_n_heads": 4, "index_head_dim": 16, "index_topk": 64}"#;

    #[test]
    fn dsa_attends_to_the_top_k_and_its_indexer_scores_every_key_without_backward() {
        let full = flops(DSA, 256, AttentionCounting::Full);
        // Main attention: 64 keys per query (2 · 64 · H · (nope + rope)).
        assert_eq!(
            component(&full, "attention_scores"),
            2.0 * 64.0 * 4.0 * 24.0
        );
        // Causal: a query sees min(i + 1, 64) keys, 64 − 64²/512 = 56 on average.
        let causal = flops(DSA, 256, AttentionCounting::Causal);
        assert_eq!(
            component(&causal, "attention_scores"),
            2.0 * 56.0 * 4.0 * 24.0
        );
        // The indexer: projections plus scores over all 256 keys (128 causal).
        let projections = 2.0 * 32.0 * 4.0 * 16.0 + 2.0 * 64.0 * 16.0 + 2.0 * 64.0 * 4.0;
        let scores = |keys: f64| keys * (2.0 * 4.0 * 16.0 + 2.0 * 4.0);
        assert_eq!(component(&full, "dsa_indexer"), projections + scores(256.0));
        assert_eq!(
            component(&causal, "dsa_indexer"),
            projections + scores(128.0)
        );
        let indexer = component(&full, "dsa_indexer");
        assert_eq!(
            full.totals.training,
            full.totals.forward + 2.0 * (full.totals.forward - indexer)
        );
    }

    #[test]
    fn linear_layers_do_not_change_with_causal_counting_and_chunks_halve() {
        let qwen = r#"{"model_type": "qwen3_next", "num_hidden_layers": 4}"#;
        let full = flops(qwen, 4096, AttentionCounting::Full);
        let causal = flops(qwen, 4096, AttentionCounting::Causal);
        for name in [
            "linear_attention_core",
            "linear_attention_in",
            "linear_attention_conv",
        ] {
            assert!(component(&full, name) > 0.0, "{name}");
            assert_eq!(component(&full, name), component(&causal, name), "{name}");
        }
        assert_eq!(
            component(&causal, "attention_scores") * 2.0,
            component(&full, "attention_scores")
        );
        // Llama 4: 3 chunked layers of 8192 and one NoPE layer at 16384 tokens.
        let llama = r#"{"model_type": "llama4_text", "num_hidden_layers": 4}"#;
        let full = flops(llama, 16384, AttentionCounting::Full);
        let per_key = 2.0 * 40.0 * 128.0;
        assert_eq!(
            component(&full, "attention_scores"),
            per_key * (3.0 * 8192.0 + 16384.0)
        );
        let causal = flops(llama, 16384, AttentionCounting::Causal);
        assert_eq!(
            component(&causal, "attention_scores"),
            per_key * (3.0 * 4096.0 + 8192.0)
        );
    }
}
