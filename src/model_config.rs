//! Hugging Face `config.json` (and nanoGPT config) → [`Model`]: the boundary where JSON
//! becomes the accounting core's domain type.
//!
//! Each supported `model_type` takes the defaults its `transformers` configuration class
//! gives, so a config that omits a field means what it means to `transformers`. An
//! explicit `null` is not the same as an absent key (`q_lora_rank: null` disables query
//! compression; an absent `q_lora_rank` is DeepSeek's default of 1536).
//!
//! Sizes and counts are bounded so that the accounting never overflows: every integer field
//! is at most [`MAX_INTEGER`], the layer count at most [`MAX_LAYERS`], and a config whose
//! parameter count would not fit 64 bits is refused as [`ModelConfigError::TooLarge`].

use std::path::Path;

use serde_json::{Map, Value};

use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, LatentAttention, Layer, Mixer,
    MixtureOfExperts, Mlp, Model, Norm, QkNorm, StandardAttention,
};
use crate::accounting::params;

mod hybrid;

/// The bundled presets: name, official config.json.
pub const PRESETS: &[(&str, &str)] = &[
    ("gpt2", include_str!("../configs/models/gpt2.json")),
    (
        "llama-2-7b",
        include_str!("../configs/models/llama-2-7b.json"),
    ),
    (
        "llama-3-8b",
        include_str!("../configs/models/llama-3-8b.json"),
    ),
    (
        "llama-3.1-70b",
        include_str!("../configs/models/llama-3.1-70b.json"),
    ),
    (
        "llama-3.1-405b",
        include_str!("../configs/models/llama-3.1-405b.json"),
    ),
    (
        "mistral-7b",
        include_str!("../configs/models/mistral-7b.json"),
    ),
    (
        "mixtral-8x7b",
        include_str!("../configs/models/mixtral-8x7b.json"),
    ),
    (
        "qwen2.5-7b",
        include_str!("../configs/models/qwen2.5-7b.json"),
    ),
    (
        "qwen3-30b-a3b",
        include_str!("../configs/models/qwen3-30b-a3b.json"),
    ),
    (
        "deepseek-v3",
        include_str!("../configs/models/deepseek-v3.json"),
    ),
];

/// The largest value any integer field may have. No model comes near it (hidden sizes are in
/// the tens of thousands, vocabularies in the hundreds of thousands); a larger value is a typo
/// or a unit mistake, and refusing it keeps the arithmetic on sizes within 64 bits.
pub const MAX_INTEGER: u64 = 1 << 32;

/// The most decoder layers a model may have. Published models have a few hundred at most; the
/// bound keeps the per-layer description of an absurd config from exhausting memory.
pub const MAX_LAYERS: u64 = 1 << 16;

/// Why a model config was refused. Every message names the field and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelConfigError {
    #[error("no model preset or file named {name:?}; give a path to a Hugging Face config.json or one of the presets: {presets}")]
    NotFound { name: String, presets: String },
    #[error("cannot read model config {path:?}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("model config is not valid JSON: {0}")]
    Json(String),
    #[error("model config must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("model config has no `model_type`; add one of: {supported} (or give a nanoGPT config with n_layer, n_head, n_embd)")]
    NoModelType { supported: String },
    #[error("unsupported `model_type` {value:?}; supported: {supported}")]
    UnknownModelType { value: String, supported: String },
    #[error("missing required field `{field}`: {fix}")]
    Missing { field: &'static str, fix: String },
    #[error("invalid `{field}` = {value}: {problem}; {fix}")]
    Invalid {
        field: &'static str,
        value: String,
        problem: String,
        fix: String,
    },
    #[error(
        "the model is too large to count: its parameters do not fit 64 bits (hidden_size = {hidden_size}, \
         {layers} layers, vocab_size = {vocab_size}); check the config's sizes and counts for a typo or a unit mistake"
    )]
    TooLarge {
        hidden_size: u64,
        layers: u64,
        vocab_size: u64,
    },
}

/// A model read from a preset or file, with the name to show for it.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedModel {
    pub name: String,
    pub model: Model,
}

/// Loads `spec`: a bundled preset name, or a path to a `config.json`.
///
/// A path that exists wins over a preset of the same name.
pub fn load(spec: &str) -> Result<NamedModel, ModelConfigError> {
    let path = Path::new(spec);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|error| ModelConfigError::Unreadable {
            path: spec.to_string(),
            reason: error.to_string(),
        })?;
        let name = path
            .parent()
            .and_then(|dir| dir.file_name())
            .filter(|_| path.file_name().is_some_and(|f| f == "config.json"))
            .or_else(|| path.file_stem())
            .map_or_else(|| spec.to_string(), |n| n.to_string_lossy().into_owned());
        let model = parse(&text)?;
        return Ok(NamedModel { name, model });
    }
    match preset(spec) {
        Some(text) => Ok(NamedModel {
            name: spec.to_ascii_lowercase(),
            model: parse(text)?,
        }),
        None => Err(ModelConfigError::NotFound {
            name: spec.to_string(),
            presets: preset_names().join(", "),
        }),
    }
}

pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(name, _)| *name).collect()
}

fn preset(name: &str) -> Option<&'static str> {
    PRESETS
        .iter()
        .find(|(preset, _)| preset.eq_ignore_ascii_case(name))
        .map(|(_, text)| *text)
}

/// Parses the text of a config.json.
pub fn parse(text: &str) -> Result<Model, ModelConfigError> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| ModelConfigError::Json(error.to_string()))?;
    from_value(&value)
}

fn supported() -> String {
    Family::ALL
        .iter()
        .filter(|f| **f != Family::NanoGpt)
        .map(|f| f.model_type())
        .chain(hybrid::MULTIMODAL.iter().map(|(name, _)| *name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds a [`Model`] from a parsed config.json.
pub fn from_value(value: &Value) -> Result<Model, ModelConfigError> {
    let object = match value {
        Value::Object(object) => object,
        other => return Err(ModelConfigError::NotAnObject(json_kind(other))),
    };
    let config = Config { object };
    let family = match object.get("model_type") {
        Some(Value::String(model_type)) => Family::ALL
            .iter()
            .copied()
            .find(|f| f.model_type() == model_type && *f != Family::NanoGpt)
            .or_else(|| hybrid::multimodal_family(model_type))
            .ok_or_else(|| ModelConfigError::UnknownModelType {
                value: model_type.clone(),
                supported: supported(),
            })?,
        Some(other) => {
            return Err(ModelConfigError::Invalid {
                field: "model_type",
                value: other.to_string(),
                problem: "must be a string".into(),
                fix: format!("use one of: {}", supported()),
            })
        }
        None if ["n_layer", "n_head", "n_embd"]
            .iter()
            .all(|k| object.contains_key(*k)) =>
        {
            Family::NanoGpt
        }
        None => {
            return Err(ModelConfigError::NoModelType {
                supported: supported(),
            })
        }
    };
    let model = match family {
        Family::Gpt2 | Family::NanoGpt => gpt2(&config, family),
        Family::DeepseekV2 | Family::DeepseekV3 => deepseek(&config, family),
        family if hybrid::handles(family) => hybrid::build(&config, family),
        _ => llama_like(&config, family),
    }?;
    // Each field is bounded, but their products may still overflow (a huge width times a huge
    // expert count): refuse what the accounting could not count.
    if params::checked_count(&model).is_none() {
        return Err(ModelConfigError::TooLarge {
            hidden_size: model.hidden_size,
            layers: model.layers.len() as u64,
            vocab_size: model.vocab_size,
        });
    }
    Ok(model)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A config field as the file states it.
enum Field<'a> {
    Absent,
    Null,
    Present(&'a Value),
}

struct Config<'a> {
    object: &'a Map<String, Value>,
}

impl<'a> Config<'a> {
    /// The first of `keys` present in the config (aliases, as `transformers`' attribute_map).
    fn field(&self, keys: &[&'static str]) -> (&'static str, Field<'a>) {
        for key in keys {
            match self.object.get(*key) {
                Some(Value::Null) => return (key, Field::Null),
                Some(value) => return (key, Field::Present(value)),
                None => {}
            }
        }
        (keys.first().copied().unwrap_or("?"), Field::Absent)
    }

    /// An optional non-negative integer: `Ok(None)` when absent or null.
    fn optional_u64(&self, keys: &[&'static str]) -> Result<Option<u64>, ModelConfigError> {
        match self.field(keys) {
            (_, Field::Absent | Field::Null) => Ok(None),
            (key, Field::Present(value)) => as_u64(key, value).map(Some),
        }
    }

    /// A non-negative integer with a default for absent keys; null is refused.
    fn u64_or(&self, keys: &[&'static str], default: u64) -> Result<u64, ModelConfigError> {
        match self.field(keys) {
            (_, Field::Absent) => Ok(default),
            (key, Field::Null) => Err(invalid(
                key,
                "null",
                "must be a positive integer",
                "remove the key to take the default",
            )),
            (key, Field::Present(value)) => as_u64(key, value),
        }
    }

    /// A positive integer (a size or count that cannot be zero).
    fn positive_or(&self, keys: &[&'static str], default: u64) -> Result<u64, ModelConfigError> {
        let value = self.u64_or(keys, default)?;
        if value == 0 {
            let key = self.field(keys).0;
            return Err(invalid(
                key,
                "0",
                "must be at least 1",
                "set it to the model's real size",
            ));
        }
        Ok(value)
    }

    fn bool_or(&self, keys: &[&'static str], default: bool) -> Result<bool, ModelConfigError> {
        match self.field(keys) {
            (_, Field::Absent) => Ok(default),
            (key, Field::Null) => Err(null_refused(key)),
            (_, Field::Present(Value::Bool(b))) => Ok(*b),
            (key, Field::Present(other)) => Err(invalid(
                key,
                &other.to_string(),
                "must be true or false",
                "write a JSON boolean",
            )),
        }
    }

    fn is_null(&self, key: &str) -> bool {
        matches!(self.object.get(key), Some(Value::Null))
    }

    fn u64_list(&self, key: &'static str) -> Result<Vec<u64>, ModelConfigError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(|item| as_u64(key, item)).collect(),
            Some(other) => Err(invalid(
                key,
                &other.to_string(),
                "must be a list of layer indices",
                "write e.g. [0, 1]",
            )),
        }
    }
}

/// `null` where the configuration class has a fixed default, which `transformers` refuses.
fn null_refused(field: &'static str) -> ModelConfigError {
    invalid(
        field,
        "null",
        "cannot be null for this model_type",
        "remove the key to take the default, or give a value",
    )
}

fn invalid(field: &'static str, value: &str, problem: &str, fix: &str) -> ModelConfigError {
    ModelConfigError::Invalid {
        field,
        value: value.to_string(),
        problem: problem.to_string(),
        fix: fix.to_string(),
    }
}

fn as_u64(key: &'static str, value: &Value) -> Result<u64, ModelConfigError> {
    let number = match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    match number {
        None => Err(invalid(
            key,
            &value.to_string(),
            "must be a non-negative integer",
            "write a whole number",
        )),
        Some(number) if number > MAX_INTEGER => Err(invalid(
            key,
            &value.to_string(),
            &format!("is above {MAX_INTEGER}, far beyond any model"),
            "check it for a typo or a unit mistake",
        )),
        Some(number) => Ok(number),
    }
}

/// The number of decoder layers, at least 1 and at most [`MAX_LAYERS`].
fn layer_count(
    config: &Config,
    keys: &[&'static str],
    default: u64,
) -> Result<u64, ModelConfigError> {
    let layers = config.positive_or(keys, default)?;
    if layers > MAX_LAYERS {
        return Err(invalid(
            config.field(keys).0,
            &layers.to_string(),
            &format!("is more than {MAX_LAYERS} layers, far beyond any model"),
            "check it for a typo",
        ));
    }
    Ok(layers)
}

/// The context length to use when none is given: the pre-training context for
/// rope-scaled models (their `original_max_position_embeddings`), else the config's maximum.
fn default_seq_len(
    config: &Config,
    keys: &[&'static str],
    fallback: u64,
) -> Result<u64, ModelConfigError> {
    if let Some(Value::Object(scaling)) = config
        .object
        .get("rope_scaling")
        .or_else(|| config.object.get("rope_parameters"))
    {
        if let Some(original) = scaling
            .get("original_max_position_embeddings")
            .and_then(Value::as_u64)
        {
            if original > 0 {
                return Ok(original);
            }
        }
    }
    config.positive_or(keys, fallback)
}

fn gpt2(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let nano = family == Family::NanoGpt;
    let d = config.positive_or(&["n_embd", "hidden_size"], 768)?;
    let layers = layer_count(config, &["n_layer", "num_hidden_layers"], 12)?;
    let heads = config.positive_or(&["n_head", "num_attention_heads"], 12)?;
    let vocab = config.positive_or(&["vocab_size"], if nano { 50304 } else { 50257 })?;
    let positions = if nano {
        config.positive_or(&["block_size"], 1024)?
    } else {
        config.positive_or(&["n_positions", "max_position_embeddings"], 1024)?
    };
    // nanoGPT's `bias` switches off every Linear and LayerNorm bias; GPT-2 always has them.
    let bias = if nano {
        config.bool_or(&["bias"], true)?
    } else {
        true
    };
    let intermediate = if nano {
        4 * d
    } else {
        match config.optional_u64(&["n_inner"])? {
            Some(0) => {
                return Err(invalid(
                    "n_inner",
                    "0",
                    "must be at least 1",
                    "remove it to take 4 × n_embd",
                ))
            }
            Some(inner) => inner,
            None => 4 * d,
        }
    };
    let head_dim = divide_heads(d, heads, "n_embd", "n_head")?;
    let tie = if nano {
        true
    } else {
        config.bool_or(&["tie_word_embeddings"], true)?
    };
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: heads,
        head_dim,
        qkv_bias: bias,
        output_bias: bias,
        qk_norm: QkNorm::None,
    });
    let mlp = Mlp {
        gated: false,
        intermediate_size: intermediate,
        bias,
    };
    Ok(Model {
        family,
        hidden_size: d,
        vocab_size: vocab,
        tie_word_embeddings: tie,
        learned_positions: Some(positions),
        norm: Norm::LayerNorm { bias },
        layers: vec![
            Layer::new(
                Mixer::Attention(AttentionLayer::full(attention)),
                FeedForward::Dense(mlp)
            );
            layers as usize
        ],
        mtp_modules: 0,
        default_seq_len: positions,
    })
}

fn divide_heads(
    d: u64,
    heads: u64,
    d_key: &'static str,
    heads_key: &'static str,
) -> Result<u64, ModelConfigError> {
    if d % heads != 0 {
        return Err(invalid(
            heads_key,
            &heads.to_string(),
            &format!("does not divide {d_key} = {d}, and the config has no head_dim"),
            "set head_dim, or fix the head count",
        ));
    }
    Ok(d / heads)
}

/// Defaults of the Llama-style configuration classes, per `model_type`.
struct LlamaDefaults {
    vocab: u64,
    hidden: u64,
    intermediate: u64,
    layers: u64,
    heads: u64,
    kv_heads: Option<u64>,
    /// The configuration class declares `num_key_value_heads` optional: `null` means
    /// "as many as the attention heads". Elsewhere `null` is refused, as `transformers` does.
    kv_heads_nullable: bool,
    head_dim: Option<u64>,
    tie: bool,
    max_positions: u64,
}

fn llama_defaults(family: Family) -> LlamaDefaults {
    let base = LlamaDefaults {
        vocab: 32000,
        hidden: 4096,
        intermediate: 11008,
        layers: 32,
        heads: 32,
        kv_heads: None,
        kv_heads_nullable: true,
        head_dim: None,
        tie: false,
        max_positions: 2048,
    };
    match family {
        Family::Mistral => LlamaDefaults {
            intermediate: 14336,
            kv_heads: Some(8),
            kv_heads_nullable: false,
            max_positions: 131072,
            ..base
        },
        Family::Mixtral => LlamaDefaults {
            intermediate: 14336,
            kv_heads: Some(8),
            kv_heads_nullable: false,
            max_positions: 131072,
            ..base
        },
        Family::Qwen2 => LlamaDefaults {
            vocab: 151936,
            intermediate: 22016,
            kv_heads: Some(32),
            max_positions: 32768,
            ..base
        },
        Family::Qwen2Moe => LlamaDefaults {
            vocab: 151936,
            hidden: 2048,
            intermediate: 5632,
            layers: 24,
            heads: 16,
            kv_heads: Some(16),
            max_positions: 32768,
            ..base
        },
        Family::Qwen3 => LlamaDefaults {
            vocab: 151936,
            intermediate: 22016,
            kv_heads: Some(32),
            head_dim: Some(128),
            max_positions: 32768,
            ..base
        },
        Family::Qwen3Moe => LlamaDefaults {
            vocab: 151936,
            hidden: 2048,
            intermediate: 6144,
            layers: 24,
            heads: 32,
            kv_heads: Some(4),
            kv_heads_nullable: false,
            max_positions: 32768,
            ..base
        },
        Family::Gemma => LlamaDefaults {
            vocab: 256000,
            hidden: 3072,
            intermediate: 24576,
            layers: 28,
            heads: 16,
            kv_heads: Some(16),
            kv_heads_nullable: false,
            head_dim: Some(256),
            tie: true,
            max_positions: 8192,
        },
        _ => base,
    }
}

/// Llama, Mistral, Mixtral, Qwen2/3 (dense and MoE) and Gemma: standard attention,
/// RMSNorm, gated MLPs (SwiGLU, or GeGLU for Gemma: three matrices either way).
fn llama_like(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let defaults = llama_defaults(family);
    let d = config.positive_or(&["hidden_size"], defaults.hidden)?;
    let layer_count = layer_count(config, &["num_hidden_layers"], defaults.layers)?;
    let heads = config.positive_or(&["num_attention_heads"], defaults.heads)?;
    let vocab = config.positive_or(&["vocab_size"], defaults.vocab)?;
    let intermediate = config.positive_or(&["intermediate_size"], defaults.intermediate)?;
    let kv_heads = match config.optional_u64(&["num_key_value_heads"])? {
        Some(0) => {
            return Err(invalid(
                "num_key_value_heads",
                "0",
                "must be at least 1",
                "set it to the number of key/value heads (1 for MQA)",
            ))
        }
        Some(kv) => kv,
        None if config.is_null("num_key_value_heads") => {
            if !defaults.kv_heads_nullable {
                return Err(null_refused("num_key_value_heads"));
            }
            heads
        }
        None => defaults.kv_heads.unwrap_or(heads),
    };
    if kv_heads > heads || heads % kv_heads != 0 {
        return Err(invalid(
            "num_key_value_heads",
            &kv_heads.to_string(),
            &format!("must divide num_attention_heads = {heads}"),
            "use a divisor of the attention head count (equal for MHA, 1 for MQA)",
        ));
    }
    let head_dim = match config.optional_u64(&["head_dim"])? {
        Some(0) => {
            return Err(invalid(
                "head_dim",
                "0",
                "must be at least 1",
                "remove it to take hidden_size / num_attention_heads",
            ))
        }
        Some(head_dim) => head_dim,
        // An explicit null asks for hidden_size / num_attention_heads where the class
        // declares head_dim optional; where it has a fixed default, null is refused.
        None if config.is_null("head_dim") => {
            if defaults.head_dim.is_some() {
                return Err(null_refused("head_dim"));
            }
            divide_heads(d, heads, "hidden_size", "num_attention_heads")?
        }
        None => match defaults.head_dim {
            Some(head_dim) => head_dim,
            None => divide_heads(d, heads, "hidden_size", "num_attention_heads")?,
        },
    };
    let tie = config.bool_or(&["tie_word_embeddings"], defaults.tie)?;

    let (qkv_bias, output_bias) = match family {
        // Qwen2 hard-codes biases on q, k and v, none on the output projection.
        Family::Qwen2 => (true, false),
        Family::Qwen2Moe => (config.bool_or(&["qkv_bias"], true)?, false),
        Family::Llama | Family::Qwen3 | Family::Qwen3Moe | Family::Gemma => {
            let bias = config.bool_or(&["attention_bias"], false)?;
            (bias, bias)
        }
        _ => (false, false),
    };
    let mlp_bias = family == Family::Llama && config.bool_or(&["mlp_bias"], false)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        qkv_bias,
        output_bias,
        qk_norm: if matches!(family, Family::Qwen3 | Family::Qwen3Moe) {
            QkNorm::PerHead
        } else {
            QkNorm::None
        },
    });
    let dense = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: mlp_bias,
    };
    let windows = sliding_windows(config, family, layer_count)?;
    let moe = moe_block(config, family)?;
    let sparse_layers = sparse_layer_rule(config, family, layer_count)?;
    let layers = (0..layer_count)
        .zip(windows)
        .map(|(index, sliding_window)| {
            let ffn = match (&moe, sparse_layers.is_sparse(index)) {
                (Some(moe), true) => FeedForward::MixtureOfExperts(*moe),
                _ => FeedForward::Dense(dense),
            };
            let mixer = AttentionLayer::full(attention)
                .with_window(AttentionWindow::sliding(sliding_window));
            Layer::new(Mixer::Attention(mixer), ffn)
        })
        .collect();
    Ok(Model {
        family,
        hidden_size: d,
        vocab_size: vocab,
        tie_word_embeddings: tie,
        learned_positions: None,
        norm: Norm::RmsNorm,
        layers,
        mtp_modules: 0,
        default_seq_len: default_seq_len(
            config,
            &["max_position_embeddings"],
            defaults.max_positions,
        )?,
    })
}

/// The sliding window of each layer, as each family's configuration class decides it.
fn sliding_windows(
    config: &Config,
    family: Family,
    layers: u64,
) -> Result<Vec<Option<u64>>, ModelConfigError> {
    let window = |default: Option<u64>| -> Result<Option<u64>, ModelConfigError> {
        match config.field(&["sliding_window"]) {
            (_, Field::Absent) => Ok(default),
            (_, Field::Null) => Ok(None),
            (key, Field::Present(value)) => match as_u64(key, value)? {
                0 => Ok(None),
                w => Ok(Some(w)),
            },
        }
    };
    let all = |w: Option<u64>| vec![w; layers as usize];
    match family {
        Family::Mistral => Ok(all(window(Some(4096))?)),
        Family::Mixtral => Ok(all(window(None)?)),
        Family::Qwen2 | Family::Qwen2Moe | Family::Qwen3 | Family::Qwen3Moe => {
            // Qwen applies a window only with use_sliding_window.
            if !config.bool_or(&["use_sliding_window"], false)? {
                return Ok(all(None));
            }
            let w = window(Some(4096))?;
            if family == Family::Qwen3Moe {
                // Qwen3-MoE has no per-layer types: every layer gets the window.
                return Ok(all(w));
            }
            if let Some(Value::Array(types)) = config.object.get("layer_types") {
                if types.len() as u64 != layers {
                    return Err(invalid(
                        "layer_types",
                        &format!("a list of {}", types.len()),
                        &format!("must have one entry per layer ({layers})"),
                        "list one attention type per layer",
                    ));
                }
                return Ok(types
                    .iter()
                    .map(|t| {
                        (t.as_str() == Some("sliding_attention"))
                            .then_some(w)
                            .flatten()
                    })
                    .collect());
            }
            let max_window_layers = config.u64_or(&["max_window_layers"], 28)?;
            Ok((0..layers)
                .map(|i| {
                    let sliding = if family == Family::Qwen2Moe {
                        // Qwen2-MoE's default layer types: every other layer, from the
                        // first, below max_window_layers.
                        (i + 1) % 2 == 1 && i < max_window_layers
                    } else {
                        // Qwen2 and Qwen3: the layers from max_window_layers on.
                        i >= max_window_layers
                    };
                    sliding.then_some(w).flatten()
                })
                .collect())
        }
        _ => Ok(all(None)),
    }
}

fn moe_block(
    config: &Config,
    family: Family,
) -> Result<Option<MixtureOfExperts>, ModelConfigError> {
    let (experts_keys, default_experts): (&[&'static str], u64) = match family {
        Family::Mixtral => (&["num_local_experts", "num_experts"], 8),
        Family::Qwen2Moe => (&["num_experts"], 60),
        Family::Qwen3Moe => (&["num_experts", "num_local_experts"], 128),
        _ => return Ok(None),
    };
    let num_experts = config.u64_or(experts_keys, default_experts)?;
    if num_experts == 0 {
        // Qwen's MoE classes fall back to dense MLPs with no experts.
        return Ok(None);
    }
    let default_top_k = match family {
        Family::Mixtral => 2,
        Family::Qwen2Moe => 4,
        _ => 8,
    };
    let top_k = config.positive_or(&["num_experts_per_tok"], default_top_k)?;
    check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
    let (expert_size, shared) = match family {
        Family::Mixtral => (config.positive_or(&["intermediate_size"], 14336)?, None),
        Family::Qwen2Moe => {
            let shared = config.u64_or(&["shared_expert_intermediate_size"], 5632)?;
            (
                config.positive_or(&["moe_intermediate_size"], 1408)?,
                (shared > 0).then_some(shared),
            )
        }
        _ => (config.positive_or(&["moe_intermediate_size"], 768)?, None),
    };
    Ok(Some(MixtureOfExperts {
        num_experts,
        top_k,
        expert: Mlp {
            gated: true,
            intermediate_size: expert_size,
            bias: false,
        },
        shared: shared.map(|size| Mlp {
            gated: true,
            intermediate_size: size,
            bias: false,
        }),
        // Qwen2-MoE builds the shared expert's gate even when the shared expert has no width.
        shared_expert_gate: family == Family::Qwen2Moe,
        router_bias: false,
        router_correction_bias: false,
    }))
}

fn check_top_k(
    top_k: u64,
    num_experts: u64,
    experts_key: &'static str,
) -> Result<(), ModelConfigError> {
    if top_k > num_experts {
        return Err(invalid(
            "num_experts_per_tok",
            &top_k.to_string(),
            &format!("is larger than the expert count ({experts_key} = {num_experts})"),
            "route each token to at most as many experts as there are",
        ));
    }
    Ok(())
}

/// Which layers are MoE layers.
enum SparseLayers {
    All,
    /// Qwen: not in mlp_only_layers and (index + 1) divisible by decoder_sparse_step.
    Qwen {
        step: u64,
        dense: Vec<u64>,
    },
    /// DeepSeek: every layer from first_k_dense_replace on (`transformers` reads no
    /// moe_layer_freq).
    FromLayer {
        first: u64,
    },
}

impl SparseLayers {
    fn is_sparse(&self, index: u64) -> bool {
        match self {
            SparseLayers::All => true,
            SparseLayers::Qwen { step, dense } => {
                !dense.contains(&index) && (index + 1) % step == 0
            }
            SparseLayers::FromLayer { first } => index >= *first,
        }
    }
}

fn sparse_layer_rule(
    config: &Config,
    family: Family,
    layers: u64,
) -> Result<SparseLayers, ModelConfigError> {
    match family {
        Family::Qwen2Moe | Family::Qwen3Moe => {
            let step = config.positive_or(&["decoder_sparse_step"], 1)?;
            let dense = config.u64_list("mlp_only_layers")?;
            if let Some(bad) = dense.iter().find(|i| **i >= layers) {
                return Err(invalid(
                    "mlp_only_layers",
                    &bad.to_string(),
                    &format!("names a layer past the last one (num_hidden_layers = {layers})"),
                    "list layer indices from 0 to num_hidden_layers - 1",
                ));
            }
            Ok(SparseLayers::Qwen { step, dense })
        }
        _ => Ok(SparseLayers::All),
    }
}

/// DeepSeek-V2 and V3: multi-head latent attention and DeepSeekMoE.
fn deepseek(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let v3 = family == Family::DeepseekV3;
    let d = config.positive_or(&["hidden_size"], if v3 { 7168 } else { 4096 })?;
    let layer_count = layer_count(config, &["num_hidden_layers"], if v3 { 61 } else { 32 })?;
    let heads = config.positive_or(&["num_attention_heads"], if v3 { 128 } else { 32 })?;
    let vocab = config.positive_or(&["vocab_size"], if v3 { 129280 } else { 102400 })?;
    let intermediate =
        config.positive_or(&["intermediate_size"], if v3 { 18432 } else { 11008 })?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let q_lora_rank = match config.field(&["q_lora_rank"]) {
        (_, Field::Absent) => Some(1536),
        (_, Field::Null) => None,
        (key, Field::Present(value)) => match as_u64(key, value)? {
            0 => {
                return Err(invalid(
                    "q_lora_rank",
                    "0",
                    "must be at least 1",
                    "use null to project queries without compression",
                ))
            }
            rank => Some(rank),
        },
    };
    let attention = Attention::Latent(LatentAttention {
        num_heads: heads,
        q_lora_rank,
        kv_lora_rank: config.positive_or(&["kv_lora_rank"], 512)?,
        qk_nope_head_dim: config.u64_or(&["qk_nope_head_dim"], 128)?,
        qk_rope_head_dim: config.u64_or(&["qk_rope_head_dim"], 64)?,
        v_head_dim: config.positive_or(&["v_head_dim"], 128)?,
        bias: config.bool_or(&["attention_bias"], false)?,
    });
    if attention.qk_head_dim() == 0 {
        return Err(invalid(
            "qk_nope_head_dim",
            "0",
            "with qk_rope_head_dim = 0 leaves no query/key width",
            "set the head widths from the model card",
        ));
    }
    let experts_keys: &[&'static str] = if v3 {
        &["n_routed_experts", "num_local_experts"]
    } else {
        &["n_routed_experts", "num_experts"]
    };
    let num_experts = config.u64_or(experts_keys, if v3 { 256 } else { 64 })?;
    let first_dense = config.u64_or(&["first_k_dense_replace"], if v3 { 3 } else { 0 })?;
    if first_dense > layer_count {
        return Err(invalid(
            "first_k_dense_replace",
            &first_dense.to_string(),
            &format!("is more than num_hidden_layers = {layer_count}"),
            "give the number of leading dense layers",
        ));
    }
    // transformers builds every layer from first_k_dense_replace on as MoE and reads no
    // moe_layer_freq; a config asking for another spacing would be miscounted.
    if let Some(freq) = config.optional_u64(&["moe_layer_freq"])? {
        if freq != 1 {
            return Err(invalid(
                "moe_layer_freq",
                &freq.to_string(),
                "is not supported: the reference implementation makes every layer from first_k_dense_replace on a MoE layer",
                "use 1 (as every published DeepSeek config does)",
            ));
        }
    }
    // DeepSeek-V2's MLPs (dense layers and shared experts) take mlp_bias; V3's have none.
    let mlp_bias = !v3 && config.bool_or(&["mlp_bias"], false)?;
    let moe = if num_experts == 0 || first_dense == layer_count {
        None
    } else {
        let top_k = match config.optional_u64(&["num_experts_per_tok"])? {
            Some(0) => return Err(invalid("num_experts_per_tok", "0", "must be at least 1", "set the number of experts each token is routed to")),
            Some(k) => k,
            None if config.is_null("num_experts_per_tok") => {
                return Err(invalid(
                    "num_experts_per_tok",
                    "null",
                    "leaves the number of routed experts per token unset",
                    "set it (8 for DeepSeek-V3, 6 for DeepSeek-V2)",
                ))
            }
            None if v3 => 8,
            None => {
                return Err(ModelConfigError::Missing {
                    field: "num_experts_per_tok",
                    fix: "set the number of routed experts per token (6 for DeepSeek-V2, 8 for DeepSeek-V3)".into(),
                })
            }
        };
        check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
        let expert_size =
            config.positive_or(&["moe_intermediate_size"], if v3 { 2048 } else { 1407 })?;
        let shared = config.optional_u64(&["n_shared_experts"])?.unwrap_or(0);
        let shared = match config.field(&["n_shared_experts"]) {
            (_, Field::Absent) => {
                if v3 {
                    1
                } else {
                    2
                }
            }
            _ => shared,
        };
        let shared_width = expert_size.checked_mul(shared).ok_or_else(|| {
            invalid(
                "n_shared_experts",
                &shared.to_string(),
                &format!("times moe_intermediate_size = {expert_size} does not fit 64 bits"),
                "check both for a typo or a unit mistake",
            )
        })?;
        Some(MixtureOfExperts {
            num_experts,
            top_k,
            expert: Mlp {
                gated: true,
                intermediate_size: expert_size,
                bias: false,
            },
            // The reference fuses the shared experts into one MLP n_shared_experts times as wide.
            shared: (shared > 0).then_some(Mlp {
                gated: true,
                intermediate_size: shared_width,
                bias: mlp_bias,
            }),
            shared_expert_gate: false,
            router_bias: false,
            router_correction_bias: v3,
        })
    };
    let rule = SparseLayers::FromLayer { first: first_dense };
    let dense = Mlp {
        gated: true,
        intermediate_size: intermediate,
        bias: mlp_bias,
    };
    let layers = (0..layer_count)
        .map(|index| {
            let ffn = match moe {
                Some(moe) if rule.is_sparse(index) => FeedForward::MixtureOfExperts(moe),
                _ => FeedForward::Dense(dense),
            };
            Layer::new(Mixer::Attention(AttentionLayer::full(attention)), ffn)
        })
        .collect();
    let mtp_modules = if v3 {
        config.u64_or(&["num_nextn_predict_layers"], 1)?
    } else {
        0
    };
    Ok(Model {
        family,
        hidden_size: d,
        vocab_size: vocab,
        tie_word_embeddings: tie,
        learned_positions: None,
        norm: Norm::RmsNorm,
        layers,
        mtp_modules,
        default_seq_len: default_seq_len(
            config,
            &["max_position_embeddings"],
            if v3 { 4096 } else { 2048 },
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(json: &str) -> Result<Model, ModelConfigError> {
        parse(json)
    }

    fn windows(json: &str) -> Vec<Option<u64>> {
        model(json)
            .unwrap()
            .layers
            .iter()
            .map(|l| match l.mixer {
                Mixer::Attention(AttentionLayer {
                    window: AttentionWindow::Sliding(w),
                    ..
                }) => Some(w),
                _ => None,
            })
            .collect()
    }

    fn attention(model: &Model) -> Attention {
        model
            .first_attention()
            .expect("an attention layer")
            .attention
    }

    const LAYERS: &str = r#""num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 4, "num_experts": 4, "num_experts_per_tok": 2, "use_sliding_window": true, "sliding_window": 8"#;

    /// Where each Qwen family puts its sliding windows (transformers' configuration classes).
    #[test]
    fn sliding_windows_follow_each_family() {
        let check = |model_type: &str, extra: &str, expected: [Option<u64>; 4]| {
            let json = format!(r#"{{"model_type": "{model_type}", {LAYERS}{extra}}}"#);
            assert_eq!(windows(&json), expected, "{model_type}{extra}");
        };
        let w = Some(8);
        check("qwen2", r#", "max_window_layers": 2"#, [None, None, w, w]);
        check("qwen3", r#", "max_window_layers": 2"#, [None, None, w, w]);
        check("qwen3_moe", r#", "max_window_layers": 2"#, [w, w, w, w]);
        check("qwen2_moe", "", [w, None, w, None]);
        check(
            "qwen2_moe",
            r#", "max_window_layers": 2"#,
            [w, None, None, None],
        );
        check(
            "qwen2",
            r#", "layer_types": ["full_attention", "sliding_attention", "full_attention", "sliding_attention"]"#,
            [None, w, None, w],
        );
        check("mistral", "", [w, w, w, w]);
        let off = windows(
            r#"{"model_type": "qwen2", "num_hidden_layers": 2, "use_sliding_window": false, "sliding_window": 8}"#,
        );
        assert_eq!(off, [None, None]);
    }

    /// `null` means "computed" only where the configuration class declares the field optional.
    #[test]
    fn null_is_refused_where_transformers_refuses_it() {
        let check = |json: &str, field: &str| {
            let error = model(json).unwrap_err().to_string();
            assert!(
                error.contains(field) && error.contains("null"),
                "{json}: {error}"
            );
        };
        check(r#"{"model_type": "qwen3", "head_dim": null}"#, "head_dim");
        check(
            r#"{"model_type": "gemma", "num_key_value_heads": null}"#,
            "num_key_value_heads",
        );
        check(
            r#"{"model_type": "mistral", "num_key_value_heads": null}"#,
            "num_key_value_heads",
        );
        check(
            r#"{"model_type": "llama", "tie_word_embeddings": null}"#,
            "tie_word_embeddings",
        );
        check(
            r#"{"model_type": "deepseek_v3", "num_experts_per_tok": null}"#,
            "num_experts_per_tok",
        );
        // Optional fields: null asks for the computed value.
        let llama = model(r#"{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": null, "head_dim": null}"#).unwrap();
        assert_eq!(attention(&llama).qk_head_dim(), 16);
        let qwen2 = model(r#"{"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": null}"#).unwrap();
        let Attention::Standard(a) = attention(&qwen2) else {
            panic!("standard attention")
        };
        assert_eq!(a.num_kv_heads, 4);
    }

    #[test]
    fn deepseek_moe_layer_spacing_other_than_one_is_refused() {
        let error = model(r#"{"model_type": "deepseek_v3", "moe_layer_freq": 2}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("moe_layer_freq") && error.contains("use 1"),
            "{error}"
        );
        assert!(model(r#"{"model_type": "deepseek_v3", "moe_layer_freq": 1}"#).is_ok());
    }

    #[test]
    fn explicit_null_q_lora_rank_differs_from_absent() {
        let absent = model(r#"{"model_type": "deepseek_v3"}"#).unwrap();
        let null = model(r#"{"model_type": "deepseek_v3", "q_lora_rank": null}"#).unwrap();
        let rank = |m: &Model| match attention(m) {
            Attention::Latent(a) => a.q_lora_rank,
            Attention::Standard(_) => panic!("latent attention"),
        };
        assert_eq!(rank(&absent), Some(1536));
        assert_eq!(rank(&null), None);
    }

    // Regressions found by fuzzing (fuzz/README.md): absurd sizes used to overflow the parameter
    // count (a panic in debug builds, a wrapped-around count in release builds) or to allocate
    // one entry per layer of an impossible layer count.

    /// The accounting of `json`, which must parse; every FLOP count must be finite.
    fn accounts(json: &str) {
        let model = model(json).unwrap();
        let options = crate::accounting::flops::FlopOptions {
            seq_len: u64::MAX,
            attention: crate::accounting::flops::AttentionCounting::Full,
            include_mtp: true,
            recompute: crate::accounting::flops::Recompute::Full,
        };
        let accounting = crate::accounting::Accounting::new(&model, options);
        for (name, flops) in accounting.formulas() {
            assert!(flops.hardware.is_finite(), "{name}: {flops:?}");
        }
    }

    #[test]
    fn fuzz_shared_expert_width_overflow_is_refused() {
        // From the fuzzer: n_shared_experts times moe_intermediate_size times the layer count
        // overflowed the parameter count.
        let error = model(r#"{"model_type":"deepseek_v3","n_shared_experts":22222222221}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`n_shared_experts` = 22222222221")
                && error.contains("above 4294967296"),
            "{error}"
        );
        // Within the per-field bound, the product itself is checked.
        let error = model(
            r#"{"model_type":"deepseek_v3","n_shared_experts":4294967296,"moe_intermediate_size":4294967296}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("`n_shared_experts`") && error.contains("does not fit 64 bits"),
            "{error}"
        );
    }

    #[test]
    fn fuzz_huge_hidden_size_is_refused_with_its_name() {
        let error = model(
            r#"{"model_type": "llama", "hidden_size": 1099511627776, "num_attention_heads": 32}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("`hidden_size` = 1099511627776"), "{error}");
        accounts(r#"{"model_type": "llama", "hidden_size": 65536, "num_attention_heads": 32}"#);
    }

    #[test]
    fn fuzz_huge_layer_count_is_refused_before_allocating() {
        for json in [
            r#"{"model_type": "llama", "num_hidden_layers": 100000000000}"#,
            r#"{"model_type": "mistral", "num_hidden_layers": 65537}"#,
            r#"{"n_layer": 4294967296, "n_head": 12, "n_embd": 768}"#,
        ] {
            let error = model(json).unwrap_err().to_string();
            assert!(
                error.contains("layers` = ") || error.contains("`n_layer` = "),
                "{json}: {error}"
            );
        }
        assert_eq!(
            model(r#"{"model_type": "llama", "num_hidden_layers": 65536}"#)
                .unwrap()
                .layers
                .len(),
            65536
        );
    }

    #[test]
    fn fuzz_parameter_count_overflow_is_refused() {
        // Every field within its bound, but hidden_size × (heads × head_dim) is 2^64.
        let error = model(
            r#"{"model_type": "mixtral", "hidden_size": 4294967296, "num_attention_heads": 1, "num_key_value_heads": 1}"#,
        )
        .unwrap_err();
        assert!(
            matches!(
                error,
                ModelConfigError::TooLarge {
                    hidden_size: 4294967296,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("do not fit 64 bits"), "{error}");
        // The largest width that still fits is accounted for without trouble.
        accounts(
            r#"{"model_type": "mixtral", "hidden_size": 1048576, "num_attention_heads": 1, "num_key_value_heads": 1}"#,
        );
    }
}
