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

mod multimodal;

use std::path::Path;

use serde_json::{Map, Value};

use crate::accounting::model::{
    Attention, AttentionLayer, AttentionWindow, Family, FeedForward, KeyValue, LatentAttention,
    Layer, Mixer, MixtureOfExperts, Mlp, Model, Norm, QkNorm, RouterCorrection, StandardAttention,
};
use crate::accounting::params;

mod afmoe;
mod bamba;
mod cohere2;
mod cohere2_moe;
mod dbrx;
mod deepseek_v4;
mod exaone_moe;
mod falcon_h1;
mod gemma4;
mod granite_swa;
mod granitemoehybrid;
mod helium;
mod hunyuan;
mod hy_v3;
mod hybrid;
mod idefics3;
mod internlm3;
mod internvl;
mod jamba;
mod kimi_linear;
mod laguna;
mod lfm2;
mod lfm2_moe;
mod llava;
mod longcat_flash;
mod mamba2;
mod mimo;
mod minicpm3;
mod minimax;
mod mistral4;
mod olmo_hybrid;
mod phi;
mod qwen2_vl;
mod qwen3_vl;
mod solar_open;
mod step3p7;
mod youtu;

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
    (
        "phi-3.5-mini",
        include_str!("../configs/models/phi-3.5-mini.json"),
    ),
    (
        "gemma-2-9b",
        include_str!("../configs/models/gemma-2-9b.json"),
    ),
    (
        "gpt-oss-20b",
        include_str!("../configs/models/gpt-oss-20b.json"),
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
    #[error("unsupported `model_type` {value:?}; the nearest supported type is {nearest:?}; supported: {supported}")]
    UnknownModelType {
        value: String,
        nearest: &'static str,
        supported: String,
    },
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
    from_value(&parse_json(text)?)
}

/// Reads the text of a config.json as JSON, accepting the non-finite numbers that
/// Python's `json` module writes (`NaN`, `Infinity`, `-Infinity`, e.g. Nemotron-H's
/// `"time_step_limit": [0.0, Infinity]`) and reading each of them as `null`: no field
/// that sets a shape takes one, and a JSON value cannot hold it.
pub fn parse_json(text: &str) -> Result<Value, ModelConfigError> {
    let parsed = match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(error) => match non_finite_as_null(text) {
            Some(rewritten) => serde_json::from_str(&rewritten),
            None => Err(error),
        },
    };
    parsed.map_err(|error| ModelConfigError::Json(error.to_string()))
}

/// `text` with every `NaN`, `Infinity` and `-Infinity` outside a string replaced by `null`,
/// or `None` when it has none. Outside strings a JSON text has no other words than `true`,
/// `false` and `null`, so these are never part of another token.
fn non_finite_as_null(text: &str) -> Option<String> {
    const WORDS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut replaced = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(word) = WORDS.iter().find(|w| rest.starts_with(**w)) {
            out.push_str("null");
            rest = &rest[word.len()..];
            replaced = true;
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    replaced.then_some(out)
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

/// The supported `model_type` closest to `value` by edit distance (case and `-`/`_` aside).
fn nearest_model_type(value: &str) -> &'static str {
    let normalized = value.to_ascii_lowercase().replace('-', "_");
    Family::ALL
        .iter()
        .filter(|f| **f != Family::NanoGpt)
        .map(|f| f.model_type())
        .min_by_key(|name| strsim::levenshtein(&normalized, name))
        .unwrap_or("llama")
}

/// Builds a [`Model`] from a parsed config.json.
pub fn from_value(value: &Value) -> Result<Model, ModelConfigError> {
    let object = match value {
        Value::Object(object) => object,
        other => return Err(ModelConfigError::NotAnObject(json_kind(other))),
    };
    // Gemma 4's composite, with or without a text_config.
    if object.get("model_type").and_then(Value::as_str) == Some("gemma4") {
        return checked(gemma4::composite(object)?);
    }
    // Qwen3-VL's composites, with or without a text_config.
    if let Some(family) = object
        .get("model_type")
        .and_then(Value::as_str)
        .and_then(qwen3_vl::composite_family)
    {
        return checked(qwen3_vl::composite(object, family)?);
    }
    // Qwen2-VL's and Qwen2.5-VL's composites, with or without a text_config.
    if let Some(family) = object
        .get("model_type")
        .and_then(Value::as_str)
        .and_then(qwen2_vl::composite_family)
    {
        return checked(qwen2_vl::composite(object, family)?);
    }
    // InternVL's composite, with or without a text_config.
    if object.get("model_type").and_then(Value::as_str) == Some(internvl::MODEL_TYPE) {
        return checked(internvl::composite(object)?);
    }
    // Idefics3's and SmolVLM's composites, with or without a text_config.
    if let Some(family) = object
        .get("model_type")
        .and_then(Value::as_str)
        .and_then(idefics3::composite_family)
    {
        return checked(idefics3::composite(object, family)?);
    }
    // LLaVA's composites, with or without a text_config.
    if let Some(family) = object
        .get("model_type")
        .and_then(Value::as_str)
        .and_then(llava::composite_family)
    {
        return checked(llava::composite(object, family)?);
    }
    // Step-3.7's composite, with or without a text_config.
    if object.get("model_type").and_then(Value::as_str) == Some(step3p7::MODEL_TYPE) {
        return checked(step3p7::composite(object)?);
    }
    // Tencent's remote-code Hunyuan format, which `transformers` does not read.
    if object.get("model_type").and_then(Value::as_str) == Some(hunyuan::MODEL_TYPE) {
        return checked(hunyuan::remote_code(object)?);
    }
    // A composite (multimodal) config: the language model is its text_config.
    if let Some(Value::Object(text)) = object.get("text_config") {
        let model = multimodal::model(object, text)?;
        return checked(model);
    }
    let config = Config { object };
    let family = match object.get("model_type") {
        Some(Value::String(model_type)) => Family::ALL
            .iter()
            .copied()
            .find(|f| f.model_type() == model_type && *f != Family::NanoGpt)
            .or_else(|| hybrid::multimodal_family(model_type))
            .ok_or_else(|| ModelConfigError::UnknownModelType {
                value: model_type.clone(),
                nearest: nearest_model_type(model_type),
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
        Family::DeepseekV2 | Family::DeepseekV3 | Family::KimiK2 => deepseek(&config, family),
        Family::DeepseekV4 => deepseek_v4::model(&config),
        family if hybrid::handles(family) => hybrid::build(&config, family),
        Family::Gemma4Text | Family::Gemma4 => gemma4::text_model(&config, family),
        Family::MimoV2Flash => mimo::build(&config),
        Family::Laguna => laguna::build(&config),
        Family::Glm4MoeLite => glm4_moe_lite(&config),
        Family::Afmoe => afmoe::build(&config),
        Family::ExaoneMoe => exaone_moe::build(&config),
        Family::SolarOpen => solar_open::build(&config),
        Family::GraniteMoeHybrid => granitemoehybrid::build(&config),
        Family::Bamba => bamba::build(&config),
        Family::Mamba2 => mamba2::build(&config),
        Family::FalconH1 => falcon_h1::build(&config),
        Family::Lfm2 => lfm2::build(&config),
        Family::HunyuanV1Dense => hunyuan_v1_dense(&config),
        Family::Cwm => cwm(&config),
        Family::Qwen2VlText | Family::Qwen25VlText => qwen2_vl::text_model(object, family),
        Family::KimiLinear => kimi_linear::build(&config),
        Family::Minimax => minimax::build(&config),
        Family::Jamba => jamba::build(&config),
        Family::LongcatFlash => longcat_flash::build(&config),
        Family::Cohere2 => cohere2::build(&config),
        Family::Cohere2Moe => cohere2_moe::build(&config),
        Family::Mistral4 => mistral4::build(&config),
        Family::OlmoHybrid => olmo_hybrid::build(&config),
        Family::Lfm2Moe => lfm2_moe::build(&config),
        Family::InternLm3 => internlm3::build(&config),
        Family::HyV3 => hy_v3::build(&config),
        Family::Youtu => youtu::build(&config),
        Family::Minicpm3 => minicpm3::build(&config),
        Family::Phi => phi::build(&config),
        Family::Dbrx => dbrx::build(&config),
        Family::Helium => helium::build(&config),
        Family::Gemma3 | Family::Mistral3 => {
            // A composite type without text_config: the default text sub-config.
            let mut with_text = object.clone();
            with_text.insert(
                "text_config".into(),
                Value::Object(default_text_config(family)),
            );
            return checked(multimodal::model(&with_text, &default_text_config(family))?);
        }
        _ => llama_like(&config, family),
    }?;
    checked(model)
}

/// The text sub-config a composite class builds when its config gives none.
fn default_text_config(family: Family) -> Map<String, Value> {
    let json = match family {
        // Mistral3Config's SubConfigSpec init_kwargs for its text_config.
        Family::Mistral3 => serde_json::json!({
            "model_type": "mistral", "head_dim": 128, "hidden_size": 5120,
            "intermediate_size": 32768, "max_position_embeddings": 131072,
            "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 8,
            "sliding_window": null, "vocab_size": 131072
        }),
        _ => serde_json::json!({ "model_type": "gemma3_text" }),
    };
    match json {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `model`, unless its parameter count does not fit 64 bits.
fn checked(model: Model) -> Result<Model, ModelConfigError> {
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

    /// A list-valued field: `None` when absent or null, refused (with `problem` and `fix`)
    /// when it is not a list.
    fn list(
        &self,
        key: &'static str,
        problem: &str,
        fix: &str,
    ) -> Result<Option<&'a [Value]>, ModelConfigError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(invalid(key, &other.to_string(), problem, fix)),
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
    // Phi-3's LongRoPE configs keep it at the top level.
    if let Some(original) = config
        .object
        .get("original_max_position_embeddings")
        .and_then(Value::as_u64)
    {
        if original > 0 {
            return Ok(original);
        }
    }
    config.positive_or(keys, fallback)
}

fn gpt2(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let nano = family == Family::NanoGpt;
    let d = config.positive_or(&["hidden_size", "n_embd"], 768)?;
    let layers = layer_count(config, &["num_hidden_layers", "n_layer"], 12)?;
    let heads = config.positive_or(&["num_attention_heads", "n_head"], 12)?;
    let vocab = config.positive_or(&["vocab_size"], if nano { 50304 } else { 50257 })?;
    let positions = if nano {
        config.positive_or(&["block_size"], 1024)?
    } else {
        config.positive_or(&["max_position_embeddings", "n_positions"], 1024)?
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
        v_head_dim: head_dim,
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
        lm_head_bias: false,
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
        per_layer_input: None,
        default_seq_len: positions,
        vision: None,
        hyper_connections: None,
        ffn_activation_params: 0,
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
    /// `head_dim: null` means hidden_size / num_attention_heads even though the class has a
    /// fixed default (Ministral 3, GPT-OSS, Hunyuan fill it in `__post_init__`).
    head_dim_nullable: bool,
    /// `head_dim` is no field of the configuration class, read with `getattr(config,
    /// "head_dim", hidden_size // num_attention_heads)`: an explicit null reaches the modelling
    /// code as `None`, which it cannot build (EXAONE 4.0).
    head_dim_null_refused: bool,
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
        head_dim_nullable: false,
        head_dim_null_refused: false,
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
        // Qwen2VLTextConfig and Qwen2_5_VLTextConfig (the same): Qwen2-72B's sizes.
        Family::Qwen2VlText | Family::Qwen25VlText => LlamaDefaults {
            vocab: 152064,
            hidden: 8192,
            intermediate: 29568,
            layers: 80,
            heads: 64,
            kv_heads: Some(8),
            max_positions: 32768,
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
            ..base
        },
        Family::Phi3 => LlamaDefaults {
            vocab: 32064,
            hidden: 3072,
            intermediate: 8192,
            max_positions: 4096,
            ..base
        },
        Family::Dots1 => LlamaDefaults {
            vocab: 152064,
            hidden: 4608,
            intermediate: 10944,
            layers: 62,
            kv_heads: Some(32),
            ..base
        },
        Family::Phimoe => LlamaDefaults {
            vocab: 32064,
            intermediate: 6400,
            kv_heads: Some(8),
            kv_heads_nullable: false,
            max_positions: 131072,
            ..base
        },
        Family::Smollm3 => LlamaDefaults {
            vocab: 128256,
            hidden: 2048,
            layers: 36,
            heads: 16,
            kv_heads: Some(4),
            tie: true,
            max_positions: 32768,
            ..base
        },
        Family::Ministral3 => LlamaDefaults {
            vocab: 131072,
            intermediate: 14336,
            layers: 34,
            kv_heads: Some(8),
            head_dim: Some(128),
            head_dim_nullable: true,
            max_positions: 262144,
            ..base
        },
        Family::Cohere => LlamaDefaults {
            vocab: 256000,
            hidden: 8192,
            intermediate: 22528,
            layers: 40,
            heads: 64,
            tie: true,
            max_positions: 8192,
            ..base
        },
        Family::Olmo2 | Family::Olmo3 => LlamaDefaults {
            vocab: 50304,
            ..base
        },
        // OlmoConfig has no head_dim field: the attention reads getattr(config, "head_dim"),
        // and an explicit null reaches the rotary embedding as None, which it cannot build.
        Family::Olmo => LlamaDefaults {
            vocab: 50304,
            head_dim_null_refused: true,
            ..base
        },
        // HeliumConfig: head_dim and num_key_value_heads plain ints.
        Family::Helium => LlamaDefaults {
            vocab: 48000,
            hidden: 2560,
            intermediate: 7040,
            layers: 24,
            heads: 20,
            kv_heads: Some(20),
            kv_heads_nullable: false,
            head_dim: Some(128),
            max_positions: 4096,
            ..base
        },
        Family::FlexOlmo => LlamaDefaults {
            vocab: 100352,
            max_positions: 4096,
            ..base
        },
        Family::Olmoe => LlamaDefaults {
            vocab: 50304,
            hidden: 2048,
            intermediate: 2048,
            layers: 16,
            heads: 16,
            max_positions: 4096,
            ..base
        },
        Family::Starcoder2 => LlamaDefaults {
            vocab: 49152,
            hidden: 3072,
            intermediate: 12288,
            layers: 30,
            heads: 24,
            kv_heads: Some(2),
            kv_heads_nullable: false,
            tie: true,
            max_positions: 4096,
            ..base
        },
        Family::MinimaxM2 => LlamaDefaults {
            vocab: 200064,
            hidden: 3072,
            intermediate: 1536,
            layers: 62,
            heads: 48,
            kv_heads: Some(8),
            kv_heads_nullable: false,
            head_dim: Some(128),
            max_positions: 196608,
            ..base
        },
        // VaultGemmaConfig's defaults are Gemma 2's.
        Family::Gemma2 | Family::VaultGemma => LlamaDefaults {
            vocab: 256000,
            hidden: 2304,
            intermediate: 9216,
            layers: 26,
            heads: 8,
            kv_heads: Some(4),
            kv_heads_nullable: false,
            head_dim: Some(256),
            tie: true,
            max_positions: 8192,
            ..base
        },
        Family::Gemma3Text => LlamaDefaults {
            vocab: 262208,
            hidden: 2304,
            intermediate: 9216,
            layers: 26,
            heads: 8,
            kv_heads: Some(4),
            kv_heads_nullable: false,
            head_dim: Some(256),
            tie: true,
            max_positions: 131072,
            ..base
        },
        Family::GptOss => LlamaDefaults {
            vocab: 201088,
            hidden: 2880,
            intermediate: 2880,
            layers: 36,
            heads: 64,
            kv_heads: Some(8),
            head_dim: Some(64),
            head_dim_nullable: true,
            max_positions: 131072,
            ..base
        },
        Family::Glm4Moe => LlamaDefaults {
            vocab: 151552,
            intermediate: 10944,
            layers: 46,
            heads: 96,
            kv_heads: Some(8),
            kv_heads_nullable: false,
            max_positions: 131072,
            ..base
        },
        // HunYuanDenseV1Config: num_key_value_heads optional (the attention heads); head_dim
        // has no default the model can build with (see `hunyuan_v1_dense`).
        Family::HunyuanV1Dense => LlamaDefaults {
            vocab: 290943,
            ..base
        },
        // SeedOssConfig (Seed-OSS-36B): num_key_value_heads and head_dim optional, filled in
        // `__post_init__` (the attention heads; hidden_size / num_attention_heads).
        Family::SeedOss => LlamaDefaults {
            vocab: 155136,
            intermediate: 27648,
            layers: 64,
            heads: 80,
            kv_heads: Some(8),
            head_dim: Some(128),
            head_dim_nullable: true,
            max_positions: 524288,
            ..base
        },
        // CwmConfig (Code World Model): num_key_value_heads and head_dim plain ints, untied.
        Family::Cwm => LlamaDefaults {
            vocab: 128256,
            hidden: 6144,
            intermediate: 21504,
            layers: 64,
            heads: 48,
            kv_heads: Some(8),
            kv_heads_nullable: false,
            head_dim: Some(128),
            max_positions: 131072,
            ..base
        },
        Family::HunyuanV1Moe => LlamaDefaults {
            vocab: 290943,
            head_dim_nullable: true,
            ..base
        },
        // GraniteSWAConfig: num_key_value_heads 4 (optional), a tied head.
        Family::GraniteSwa => LlamaDefaults {
            vocab: 100352,
            hidden: 2560,
            intermediate: 8192,
            layers: 24,
            heads: 20,
            kv_heads: Some(4),
            tie: true,
            max_positions: 8192,
            ..base
        },
        // InternLM3Config (InternLM3-8B): num_key_value_heads 2 and head_dim 128, both optional
        // (`__post_init__` fills the attention heads and hidden_size // num_attention_heads).
        Family::InternLm3 => LlamaDefaults {
            vocab: 128512,
            intermediate: 10240,
            layers: 48,
            kv_heads: Some(2),
            head_dim: Some(128),
            head_dim_nullable: true,
            max_positions: 32768,
            ..base
        },
        // Qwen3VLTextConfig: num_key_value_heads optional, head_dim a fixed 128.
        Family::Qwen3VlText => LlamaDefaults {
            vocab: 151936,
            intermediate: 22016,
            kv_heads: Some(32),
            head_dim: Some(128),
            max_positions: 128000,
            ..base
        },
        // Qwen3VLMoeTextConfig: head_dim optional (hidden / heads), a tied head by default.
        Family::Qwen3VlMoeText => LlamaDefaults {
            vocab: 151936,
            hidden: 2048,
            intermediate: 5632,
            layers: 24,
            heads: 16,
            kv_heads: Some(16),
            kv_heads_nullable: false,
            tie: true,
            max_positions: 128000,
            ..base
        },
        // Ernie4_5Config: num_key_value_heads and head_dim optional (`__post_init__` fills
        // them with the attention heads and hidden_size / num_attention_heads), a tied head.
        Family::Ernie45 => LlamaDefaults {
            vocab: 103424,
            hidden: 1024,
            intermediate: 3072,
            layers: 18,
            heads: 16,
            kv_heads: Some(2),
            head_dim: Some(128),
            head_dim_nullable: true,
            tie: true,
            max_positions: 131072,
            ..base
        },
        // Glm4Config (GLM-4-0414) and GlmConfig (glm-4-9b-chat-hf): num_key_value_heads and
        // head_dim ints, untied. GlmConfig declares both optional, but its attention cannot
        // be built with either null, so null is refused for both types.
        Family::Glm4 | Family::Glm => LlamaDefaults {
            vocab: 151552,
            intermediate: 13696,
            layers: 40,
            kv_heads: Some(2),
            kv_heads_nullable: false,
            head_dim: Some(128),
            max_positions: 131072,
            ..base
        },
        Family::Ernie45Moe => LlamaDefaults {
            vocab: 103424,
            hidden: 2560,
            intermediate: 12288,
            layers: 28,
            heads: 20,
            kv_heads: Some(4),
            kv_heads_nullable: false,
            tie: true,
            max_positions: 131072,
            ..base
        },
        // Exaone4Config: a fixed 32 K/V heads; head_dim no field of the class.
        Family::Exaone4 => LlamaDefaults {
            vocab: 102400,
            intermediate: 16384,
            kv_heads: Some(32),
            kv_heads_nullable: false,
            head_dim_null_refused: true,
            ..base
        },
        // ArceeConfig: head_dim and num_key_value_heads optional (computed when null).
        Family::Arcee => LlamaDefaults {
            hidden: 2560,
            intermediate: 18432,
            max_positions: 4096,
            ..base
        },
        // ApertusConfig: num_key_value_heads optional; head_dim no field of the class.
        Family::Apertus => LlamaDefaults {
            vocab: 131072,
            intermediate: 14336,
            head_dim_null_refused: true,
            max_positions: 65536,
            ..base
        },
        // NanoChatConfig: num_key_value_heads optional; head_dim no field of the class.
        Family::NanoChat => LlamaDefaults {
            vocab: 50304,
            hidden: 768,
            intermediate: 8192,
            layers: 12,
            heads: 6,
            head_dim_null_refused: true,
            ..base
        },
        _ => base,
    }
}

/// What a family's decoder layer holds besides the shared shapes: norms, biases, q/k norms.
struct LayerTraits {
    norm: Norm,
    norms_per_layer: u64,
    qk_norm: QkNorm,
    qkv_bias: bool,
    output_bias: bool,
    mlp: Mlp,
    sinks: bool,
    lm_head_bias: bool,
}

fn layer_traits(
    config: &Config,
    family: Family,
    shape: (u64, u64, u64),
    intermediate: u64,
) -> Result<LayerTraits, ModelConfigError> {
    let (d, heads, kv_heads) = shape;
    let attention_bias = |default: bool| config.bool_or(&["attention_bias"], default);
    let (qkv_bias, output_bias) = match family {
        // Qwen2 hard-codes biases on q, k and v, none on the output projection.
        Family::Qwen2 | Family::Qwen2VlText | Family::Qwen25VlText => (true, false),
        Family::Qwen2Moe => (config.bool_or(&["qkv_bias"], true)?, false),
        // GLM-4.5: q, k and v take attention_bias; the output projection never has one.
        Family::Glm4Moe => (attention_bias(false)?, false),
        // Seed-OSS: attention_bias (true by default) on q, k and v, attention_out_bias on o.
        Family::SeedOss => (
            attention_bias(true)?,
            config.bool_or(&["attention_out_bias"], false)?,
        ),
        // GLM-4 (glm-4-9b-chat-hf and 0414): the same, with attention_bias true by default.
        Family::Glm4 | Family::Glm => (attention_bias(true)?, false),
        // Helium: Granite's q/k/v biases, a bias-free o_proj of its own.
        Family::Helium => (attention_bias(false)?, false),
        Family::GptOss => {
            let bias = attention_bias(true)?;
            (bias, bias)
        }
        Family::Starcoder2 => {
            let bias = config.bool_or(&["use_bias"], true)?;
            (bias, bias)
        }
        // ERNIE 4.5 (dense and MoE): use_bias on q, k, v and o alike.
        Family::Ernie45Moe | Family::Ernie45 => {
            let bias = config.bool_or(&["use_bias"], false)?;
            (bias, bias)
        }
        // InternLM3 (built as Llama): attention_bias, alias qkv_bias (which wins), on q, k, v, o.
        Family::InternLm3 => {
            let bias = config.bool_or(&["qkv_bias", "attention_bias"], false)?;
            (bias, bias)
        }
        Family::Llama
        | Family::Qwen3
        | Family::Qwen3Moe
        | Family::Gemma
        | Family::Granite
        | Family::Smollm3
        | Family::Cohere
        | Family::Olmo2
        | Family::Olmo3
        | Family::Olmoe
        | Family::Gemma2
        | Family::Gemma3Text
        | Family::HunyuanV1Moe
        | Family::HunyuanV1Dense
        | Family::Qwen3VlText
        | Family::Qwen3VlMoeText
        | Family::GraniteMoe
        | Family::GraniteMoeShared
        | Family::GraniteSwa
        | Family::GraniteMoeSwa
        | Family::Phimoe
        | Family::Dots1
        | Family::FlexOlmo
        | Family::Arcee
        | Family::Apertus
        | Family::NanoChat
        | Family::VaultGemma
        | Family::Olmo => {
            let bias = attention_bias(false)?;
            (bias, bias)
        }
        _ => (false, false),
    };
    let mlp_bias = match family {
        Family::Llama
        | Family::Granite
        | Family::GraniteSwa
        | Family::Smollm3
        | Family::Arcee
        | Family::SeedOss
        | Family::Cwm
        | Family::Helium => config.bool_or(&["mlp_bias"], false)?,
        Family::Starcoder2 => config.bool_or(&["use_bias"], true)?,
        Family::Ernie45Moe | Family::Ernie45 => config.bool_or(&["use_bias"], false)?,
        Family::InternLm3 => config.bool_or(&["bias", "mlp_bias"], false)?,
        _ => false,
    };
    let qk_norm = match family {
        Family::Qwen3
        | Family::Qwen3Moe
        | Family::Gemma3Text
        | Family::HunyuanV1Moe
        | Family::HunyuanV1Dense
        | Family::Qwen3VlText
        | Family::Qwen3VlMoeText
        | Family::Dots1
        | Family::Exaone4
        | Family::Apertus => QkNorm::PerHead,
        Family::Glm4Moe if config.bool_or(&["use_qk_norm"], false)? => QkNorm::PerHead,
        Family::Cohere if config.bool_or(&["use_qk_norm"], false)? => QkNorm::AllHeads,
        Family::Olmo2 | Family::Olmo3 | Family::FlexOlmo | Family::MinimaxM2 => QkNorm::AllHeads,
        // OLMoE sizes its norms from hidden_size, whatever head_dim is.
        Family::Olmoe => QkNorm::Widths {
            query: d,
            key: (d / heads) * kv_heads,
        },
        _ => QkNorm::None,
    };
    Ok(LayerTraits {
        norm: match family {
            // Phi-3.5-MoE's nn.LayerNorm has a weight and a bias.
            Family::Starcoder2 | Family::Phimoe => Norm::LayerNorm { bias: true },
            // CohereLayerNorm has a weight and no bias.
            Family::Cohere => Norm::LayerNorm { bias: false },
            // NanoChatRMSNorm has no weight: the layers' two norms, the final one (also run
            // on the embeddings) and the q/k norms are free.
            Family::NanoChat => Norm::RmsNormWithoutWeight,
            // OlmoLayerNorm: F.layer_norm without weight or bias, the layers' two and the
            // final one.
            Family::Olmo => Norm::LayerNormWithoutWeight,
            _ => Norm::RmsNorm,
        },
        norms_per_layer: match family {
            // Gemma 2/3's pre and post feed-forward norms; GLM-4-0414's post_self_attn and
            // post_mlp norms beside the usual two.
            Family::Gemma2 | Family::Gemma3Text | Family::Glm4 => 4,
            Family::Cohere => 1,
            _ => 2,
        },
        qk_norm,
        qkv_bias,
        output_bias,
        mlp: Mlp {
            // Starcoder2's c_fc/c_proj and Arcee's ReLU² up/down: two matrices.
            gated: !matches!(
                family,
                Family::Starcoder2 | Family::Arcee | Family::Apertus | Family::NanoChat
            ),
            intermediate_size: intermediate,
            bias: mlp_bias,
        },
        // GPT-OSS's and the Granite SWA types' learned sink logit per head.
        sinks: matches!(
            family,
            Family::GptOss | Family::GraniteSwa | Family::GraniteMoeSwa
        ),
        lm_head_bias: match family {
            Family::Ernie45Moe => config.bool_or(&["use_bias"], false)?,
            Family::Phimoe => config.bool_or(&["lm_head_bias"], false)?,
            _ => false,
        },
    })
}

/// `num_key_value_heads` for `heads` query heads: `default` when absent (`None`: as many as
/// the query heads), the query heads for an explicit null where the class allows it
/// (`nullable`), and always a divisor of the query heads.
fn key_value_heads(
    config: &Config,
    heads: u64,
    default: Option<u64>,
    nullable: bool,
) -> Result<u64, ModelConfigError> {
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
            if !nullable {
                return Err(null_refused("num_key_value_heads"));
            }
            heads
        }
        None => default.unwrap_or(heads),
    };
    if kv_heads > heads || heads % kv_heads != 0 {
        return Err(invalid(
            "num_key_value_heads",
            &kv_heads.to_string(),
            &format!("must divide num_attention_heads = {heads}"),
            "use a divisor of the attention head count (equal for MHA, 1 for MQA)",
        ));
    }
    Ok(kv_heads)
}

/// Llama-style models: standard attention, one norm kind, dense or MoE feed-forward
/// blocks; each family's differences come from [`llama_defaults`], [`layer_traits`],
/// [`attention_windows`], [`moe_block`] and [`sparse_layer_rule`].
fn llama_like(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    let defaults = llama_defaults(family);
    let d = config.positive_or(&["hidden_size"], defaults.hidden)?;
    let layer_count = layer_count(config, &["num_hidden_layers"], defaults.layers)?;
    let heads = config.positive_or(&["num_attention_heads"], defaults.heads)?;
    let vocab = config.positive_or(&["vocab_size"], defaults.vocab)?;
    let intermediate = config.positive_or(&["intermediate_size"], defaults.intermediate)?;
    let kv_heads = key_value_heads(config, heads, defaults.kv_heads, defaults.kv_heads_nullable)?;
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
            if defaults.head_dim_null_refused
                || (defaults.head_dim.is_some() && !defaults.head_dim_nullable)
            {
                return Err(null_refused("head_dim"));
            }
            divide_heads(d, heads, "hidden_size", "num_attention_heads")?
        }
        None => match defaults.head_dim {
            Some(head_dim) => head_dim,
            None => divide_heads(d, heads, "hidden_size", "num_attention_heads")?,
        },
    };
    // Arcee's and VaultGemma's validate_architecture want the width a multiple of the heads,
    // head_dim or not.
    if matches!(family, Family::Arcee | Family::VaultGemma) && d % heads != 0 {
        return Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!("does not divide hidden_size = {d} (the configuration class refuses it)"),
            "use a head count that divides hidden_size",
        ));
    }
    let tie = config.bool_or(&["tie_word_embeddings"], defaults.tie)?;
    let traits = layer_traits(config, family, (d, heads, kv_heads), intermediate)?;
    let attention = Attention::Standard(StandardAttention {
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        v_head_dim: head_dim,
        qkv_bias: traits.qkv_bias,
        output_bias: traits.output_bias,
        qk_norm: traits.qk_norm,
    });
    let windows = attention_windows(config, family, layer_count)?;
    let rope = rope_layers(config, family, layer_count)?;
    let moe = moe_block(config, family, layer_count)?;
    let sparse_layers = sparse_layer_rule(config, family, layer_count)?;
    let mut layers = Vec::with_capacity(layer_count as usize);
    for (index, (window, rope)) in (0..layer_count).zip(windows.into_iter().zip(rope)) {
        let ffn = match (&moe, sparse_layers.is_sparse(index)) {
            (Some(moe), true) => FeedForward::MixtureOfExperts(moe.for_layer(index)),
            _ => FeedForward::Dense(traits.mlp),
        };
        let mixer = AttentionLayer {
            attention,
            window,
            rope,
            sinks: traits.sinks,
            output_gate: false,
            head_gate: false,
            indexer: None,
            key_value: KeyValue::Own,
        };
        layers.push(Layer {
            mixer: Mixer::Attention(mixer),
            ffn,
            norms: traits.norms_per_layer,
        });
    }
    Ok(Model {
        family,
        hidden_size: d,
        vocab_size: vocab,
        tie_word_embeddings: tie,
        lm_head_bias: traits.lm_head_bias,
        learned_positions: None,
        norm: traits.norm,
        layers,
        // GLM-4.5's MTP modules (`num_nextn_predict_layers`, 1 by default): transformers'
        // Glm4MoeForCausalLM does not build them (its MtpModel does, DeepSeek-V3's shape), so
        // they are counted apart and in FLOPs only with --mtp, as DeepSeek-V3's.
        mtp_modules: if family == Family::Glm4Moe {
            config.u64_or(&["num_mtp_layers", "num_nextn_predict_layers"], 1)?
        } else {
            0
        },
        per_layer_input: None,
        default_seq_len: if family == Family::Apertus
            && !["rope_scaling", "rope_parameters"]
                .iter()
                .any(|key| config.object.get(*key).is_some_and(Value::is_object))
        {
            // ApertusConfig's default rope_parameters: Llama 3 scaling from 8192 positions.
            8192
        } else {
            default_seq_len(config, &["max_position_embeddings"], defaults.max_positions)?
        },
        vision: None,
        hyper_connections: None,
        ffn_activation_params: match family {
            Family::Arcee => activation_params(config, "relu2")?,
            Family::Apertus => activation_params(config, "xielu")?,
            Family::NanoChat => activation_params(config, "relu2")?,
            _ => 0,
        },
    })
}

/// Learnable parameters of the MLP's activation, `ACT2FN[hidden_act]` (or, for `xielu`,
/// `ACT2CLS["xielu"]`) as the MLPs of Arcee, Apertus and nanochat build it: xIELU's `alpha_p` and
/// `alpha_n` (2), PReLU's one weight (1), none for the others (ReLU², SiLU, GELU, ...).
fn activation_params(config: &Config, default: &str) -> Result<u64, ModelConfigError> {
    match config.object.get("hidden_act") {
        None => Ok(activation_params_of(default)),
        Some(Value::String(name)) => Ok(activation_params_of(name)),
        Some(other) => Err(invalid(
            "hidden_act",
            &other.to_string(),
            "must be the name of an activation",
            &format!("write e.g. \"{default}\", or remove the key to take the default"),
        )),
    }
}

fn activation_params_of(name: &str) -> u64 {
    match name {
        "xielu" => 2,
        "prelu" => 1,
        _ => 0,
    }
}

/// The attention kinds `layer_types` may name for the families read here.
const LAYER_KINDS: &[&str] = &["full_attention", "sliding_attention"];

/// `layer_types` when the config gives it: one known kind per layer, `true` for sliding.
fn layer_types(config: &Config, layers: u64) -> Result<Option<Vec<bool>>, ModelConfigError> {
    let types = match config.object.get("layer_types") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(types)) => types,
        Some(other) => {
            return Err(invalid(
                "layer_types",
                &other.to_string(),
                "must be a list of attention kinds, one per layer",
                "write e.g. [\"sliding_attention\", \"full_attention\"], or remove it to take the model's default pattern",
            ))
        }
    };
    if types.len() as u64 != layers {
        return Err(invalid(
            "layer_types",
            &format!("a list of {}", types.len()),
            &format!("must have one entry per layer (num_hidden_layers = {layers})"),
            "list one attention kind per layer, or remove it to take the model's default pattern",
        ));
    }
    types
        .iter()
        .enumerate()
        .map(|(index, kind)| match kind.as_str() {
            Some("sliding_attention") => Ok(true),
            Some("full_attention") => Ok(false),
            _ => Err(ModelConfigError::Invalid {
                field: "layer_types",
                value: kind.to_string(),
                problem: format!("layer {index} has an unknown attention kind for this model_type"),
                fix: format!("use one of: {}", LAYER_KINDS.join(", ")),
            }),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The attention window of each layer, as each family's configuration class decides it.
fn attention_windows(
    config: &Config,
    family: Family,
    layers: u64,
) -> Result<Vec<AttentionWindow>, ModelConfigError> {
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
    let all = |w: Option<u64>| vec![AttentionWindow::sliding(w); layers as usize];
    // Layers marked sliding in `kinds` get window `w`, the others full attention.
    let by_kind = |kinds: Vec<bool>, w: Option<u64>| -> Vec<AttentionWindow> {
        kinds
            .into_iter()
            .map(|sliding| match (sliding, w) {
                (true, Some(w)) => AttentionWindow::Sliding(w),
                _ => AttentionWindow::Full,
            })
            .collect()
    };
    match family {
        Family::Mistral => Ok(all(window(Some(4096))?)),
        // One window (or none) for every layer.
        Family::Mixtral
        | Family::Phi3
        | Family::Phimoe
        | Family::Ministral3
        | Family::Starcoder2 => Ok(all(window(None)?)),
        Family::Gemma2 | Family::Gemma3Text | Family::GptOss => {
            let mut w = window(Some(if family == Family::GptOss { 128 } else { 4096 }))?;
            if family == Family::Gemma3Text
                && config.bool_or(&["use_bidirectional_attention"], false)?
            {
                // Gemma 3's configuration class halves a bidirectional window (exclusive bounds).
                w = w.map(|w| w / 2 + 1);
            }
            let kinds = match layer_types(config, layers)? {
                Some(kinds) => kinds,
                None => {
                    // Gemma 3: every `sliding_window_pattern`-th layer is full; Gemma 2 and
                    // GPT-OSS alternate, starting with a sliding layer.
                    let pattern = if family == Family::Gemma3Text {
                        config.positive_or(&["sliding_window_pattern"], 6)?
                    } else {
                        2
                    };
                    (0..layers).map(|i| (i + 1) % pattern != 0).collect()
                }
            };
            Ok(by_kind(kinds, w))
        }
        Family::Dots1 => {
            let w = window(Some(4096))?;
            let kinds = match layer_types(config, layers)? {
                Some(kinds) => kinds,
                // Dots1Config: sliding from max_window_layers on, when there is a window.
                None => {
                    let max_window_layers = config.u64_or(&["max_window_layers"], 62)?;
                    (0..layers)
                        .map(|i| w.is_some() && i >= max_window_layers)
                        .collect()
                }
            };
            Ok(by_kind(kinds, w))
        }
        Family::Exaone4 => exaone4_windows(config, layers),
        Family::GraniteSwa | Family::GraniteMoeSwa => granite_swa::windows(config, layers),
        Family::VaultGemma => {
            // VaultGemmaModel always builds the sliding mask, which needs a window.
            let w = match config.field(&["sliding_window"]) {
                (_, Field::Absent) => 4096,
                (key, Field::Null) => {
                    return Err(invalid(
                        key,
                        "null",
                        "leaves VaultGemma without the window its sliding mask needs (transformers' forward refuses it, whatever layer_types says)",
                        "give a sliding_window, or remove the key to take 4096",
                    ))
                }
                (key, Field::Present(value)) => match as_u64(key, value)? {
                    0 => {
                        return Err(invalid(
                            key,
                            "0",
                            "must be at least 1",
                            "give the sliding layers' window, or remove the key to take 4096",
                        ))
                    }
                    w => w,
                },
            };
            let kinds = match layer_types(config, layers)? {
                Some(kinds) => kinds,
                // Sliding and full in turn, from a sliding layer.
                None => (0..layers).map(|i| (i + 1) % 2 != 0).collect(),
            };
            Ok(by_kind(kinds, Some(w)))
        }
        Family::Cwm => {
            let w = window(Some(8192))?;
            let kinds = match layer_types(config, layers)? {
                Some(kinds) => kinds,
                // CWM: every fourth layer full from the first, the others sliding.
                None => (0..layers).map(|i| i % 4 != 0).collect(),
            };
            Ok(by_kind(kinds, w))
        }
        Family::Olmo3 => {
            let w = window(Some(4096))?;
            let kinds = match layer_types(config, layers)? {
                Some(kinds) => kinds,
                // OLMo 3: every fourth layer full, the others sliding.
                None => (0..layers).map(|i| (i + 1) % 4 != 0).collect(),
            };
            Ok(by_kind(kinds, w))
        }
        Family::Smollm3 => {
            let w = window(None)?;
            let kinds = match layer_types(config, layers)? {
                Some(kinds) => kinds,
                None => {
                    // SmolLM3 slides only on its no-RoPE layers, with use_sliding_window.
                    let sliding = config.bool_or(&["use_sliding_window"], false)? && w.is_some();
                    rope_layers(config, family, layers)?
                        .into_iter()
                        .map(|rope| sliding && !rope)
                        .collect()
                }
            };
            Ok(by_kind(kinds, w))
        }
        Family::Qwen2
        | Family::Qwen2Moe
        | Family::Qwen3
        | Family::Qwen3Moe
        | Family::Qwen2VlText
        | Family::Qwen25VlText => {
            // Qwen applies a window only with use_sliding_window.
            if !config.bool_or(&["use_sliding_window"], false)? {
                return Ok(all(None));
            }
            let w = window(Some(4096))?;
            if family == Family::Qwen3Moe {
                // Qwen3-MoE has no per-layer types: every layer gets the window.
                return Ok(all(w));
            }
            if let Some(kinds) = layer_types(config, layers)? {
                return Ok(by_kind(kinds, w));
            }
            // Qwen2-VL's and Qwen2.5-VL's text classes default it to 80.
            let default_max_window = match family {
                Family::Qwen2VlText | Family::Qwen25VlText => 80,
                _ => 28,
            };
            let max_window_layers = config.u64_or(&["max_window_layers"], default_max_window)?;
            let kinds = (0..layers)
                .map(|i| {
                    if family == Family::Qwen2Moe {
                        // Qwen2-MoE's default layer types: every other layer, from the
                        // first, below max_window_layers.
                        (i + 1) % 2 == 1 && i < max_window_layers
                    } else {
                        // Qwen2 and Qwen3: the layers from max_window_layers on.
                        i >= max_window_layers
                    }
                })
                .collect();
            Ok(by_kind(kinds, w))
        }
        _ => Ok(all(None)),
    }
}

/// EXAONE 4.0's layers, as `Exaone4Config` lays them out: `layer_types` where given, else
/// every `sliding_window_pattern`-th layer (4) full and the others sliding; the window is
/// `sliding_window` (4096). The class cannot build a default pattern without a window (it
/// divides by a zero pattern) nor from a pattern that is not a positive integer (the `"LLLG"`
/// strings its docstring describes), and its sliding mask needs a window: each is refused.
fn exaone4_windows(config: &Config, layers: u64) -> Result<Vec<AttentionWindow>, ModelConfigError> {
    let window =
        match config.field(&["sliding_window"]) {
            (_, Field::Absent) => Some(4096),
            (_, Field::Null) => None,
            (key, Field::Present(value)) => match as_u64(key, value)? {
                0 => return Err(invalid(
                    key,
                    "0",
                    "must be at least 1",
                    "give the sliding layers' window, or null with only full_attention layer_types",
                )),
                w => Some(w),
            },
        };
    let kinds = match layer_types(config, layers)? {
        Some(kinds) => kinds,
        None => {
            if window.is_none() {
                return Err(invalid(
                    "sliding_window",
                    "null",
                    "leaves Exaone4Config no default layer pattern (it sets sliding_window_pattern to 0 and divides by it)",
                    "give layer_types (e.g. every layer \"full_attention\"), or a sliding_window",
                ));
            }
            let pattern = match config.object.get("sliding_window_pattern") {
                None => 4,
                Some(value) => match value.as_u64() {
                    Some(pattern) if pattern > 0 => pattern,
                    _ => {
                        return Err(invalid(
                            "sliding_window_pattern",
                            &value.to_string(),
                            "must be a positive integer when layer_types is not given (Exaone4Config computes the pattern with `%`)",
                            "give layer_types, or an integer pattern such as 4",
                        ))
                    }
                },
            };
            (0..layers).map(|i| (i + 1) % pattern != 0).collect()
        }
    };
    kinds
        .into_iter()
        .map(|sliding| match (sliding, window) {
            (true, Some(w)) => Ok(AttentionWindow::Sliding(w)),
            (true, None) => Err(invalid(
                "sliding_window",
                "null",
                "leaves the sliding_attention layers of layer_types without a window (transformers' sliding mask needs one)",
                "give a sliding_window, or make every layer \"full_attention\"",
            )),
            (false, _) => Ok(AttentionWindow::Full),
        })
        .collect()
}

/// Which layers apply rotary embeddings (SmolLM3's `no_rope_layers`: 0 marks a NoPE layer;
/// EXAONE 4.0's full layers are NoPE when it has a `sliding_window`).
fn rope_layers(
    config: &Config,
    family: Family,
    layers: u64,
) -> Result<Vec<bool>, ModelConfigError> {
    if family == Family::Exaone4 {
        // Exaone4Attention rotates where sliding_window is None or the layer slides.
        let windowless = config.is_null("sliding_window");
        return Ok(attention_windows(config, family, layers)?
            .into_iter()
            .map(|window| windowless || window != AttentionWindow::Full)
            .collect());
    }
    if matches!(family, Family::GraniteSwa | Family::GraniteMoeSwa) {
        return granite_swa::rope_layers(config, layers);
    }
    if family != Family::Smollm3 {
        return Ok(vec![true; layers as usize]);
    }
    let flags = config.u64_list("no_rope_layers")?;
    if flags.is_empty() {
        let interval = config.positive_or(&["no_rope_layer_interval"], 4)?;
        return Ok((0..layers).map(|i| (i + 1) % interval != 0).collect());
    }
    if flags.len() as u64 != layers {
        return Err(invalid(
            "no_rope_layers",
            &format!("a list of {}", flags.len()),
            &format!("must have one entry per layer (num_hidden_layers = {layers})"),
            "list 1 (RoPE) or 0 (no RoPE) for each layer",
        ));
    }
    Ok(flags.into_iter().map(|flag| flag != 0).collect())
}

/// A MoE block, with the per-layer top-k of configs that list one (Hunyuan's `moe_topk`).
struct MoeBlock {
    block: MixtureOfExperts,
    per_layer_top_k: Vec<u64>,
}

impl MoeBlock {
    fn for_layer(&self, index: u64) -> MixtureOfExperts {
        match self.per_layer_top_k.get(index as usize) {
            Some(top_k) => MixtureOfExperts {
                top_k: *top_k,
                ..self.block
            },
            None => self.block,
        }
    }
}

fn moe_block(
    config: &Config,
    family: Family,
    layers: u64,
) -> Result<Option<MoeBlock>, ModelConfigError> {
    let (experts_keys, default_experts): (&[&'static str], u64) = match family {
        Family::Mixtral => (&["num_experts", "num_local_experts"], 8),
        Family::Qwen2Moe => (&["num_experts"], 60),
        Family::Qwen3Moe => (&["num_local_experts", "num_experts"], 128),
        Family::Olmoe => (&["num_local_experts", "num_experts"], 64),
        Family::MinimaxM2 => (&["num_experts", "num_local_experts"], 256),
        Family::GptOss => (&["num_experts", "num_local_experts"], 128),
        Family::Glm4Moe => (&["num_local_experts", "n_routed_experts"], 128),
        Family::HunyuanV1Moe => (&["num_local_experts", "num_experts"], 1),
        Family::Ernie45Moe => (&["num_experts", "moe_num_experts"], 64),
        // Its attribute_map makes num_local_experts win when both are given.
        Family::Qwen3VlMoeText => (&["num_local_experts", "num_experts"], 60),
        Family::GraniteMoe | Family::GraniteMoeShared | Family::GraniteMoeSwa => {
            (&["num_local_experts"], 8)
        }
        Family::Phimoe => (&["num_local_experts"], 16),
        // Its attribute_map makes num_local_experts win when both are given.
        Family::FlexOlmo => (&["num_local_experts", "num_experts"], 7),
        // Its attribute_map makes num_local_experts win when both are given.
        Family::Dots1 => (&["num_local_experts", "n_routed_experts"], 0),
        _ => return Ok(None),
    };
    let all_moe = matches!(
        family,
        Family::GraniteMoe
            | Family::GraniteMoeShared
            | Family::GraniteMoeSwa
            | Family::Phimoe
            | Family::FlexOlmo
    );
    let num_experts = if family == Family::Dots1 {
        // Dots1Config has no expert count of its own (None): transformers cannot build the
        // router without one.
        required_positive(
            config,
            experts_keys,
            "set the routed expert count (dots.llm1 has 128)",
        )?
    } else if all_moe {
        // Granite's and Phi-3.5-MoE's layers are all MoE, with no dense fallback: zero
        // experts is no model.
        config.positive_or(experts_keys, default_experts)?
    } else {
        config.u64_or(experts_keys, default_experts)?
    };
    if num_experts == 0 {
        // Qwen's MoE classes fall back to dense MLPs with no experts.
        return Ok(None);
    }
    let (top_k_keys, default_top_k): (&[&'static str], u64) = match family {
        Family::Mixtral => (&["num_experts_per_tok"], 2),
        Family::Qwen2Moe | Family::GptOss => (&["num_experts_per_tok", "experts_per_token"], 4),
        Family::HunyuanV1Moe => (&["num_experts_per_tok", "moe_topk"], 1),
        Family::Ernie45Moe => (&["num_experts_per_tok", "moe_k"], 6),
        Family::Qwen3VlMoeText => (&["num_experts_per_tok"], 4),
        Family::GraniteMoe | Family::GraniteMoeShared | Family::GraniteMoeSwa | Family::Phimoe => {
            (&["num_experts_per_tok"], 2)
        }
        Family::FlexOlmo => (&["num_experts_per_tok"], 5),
        _ => (&["num_experts_per_tok"], 8),
    };
    // Hunyuan's moe_topk may list one value per layer.
    let mut per_layer_top_k = Vec::new();
    let top_k = match config.field(top_k_keys) {
        (key, Field::Present(Value::Array(items))) if family == Family::HunyuanV1Moe => {
            if items.len() as u64 != layers {
                return Err(invalid(
                    key,
                    &format!("a list of {}", items.len()),
                    &format!("must have one entry per layer (num_hidden_layers = {layers})"),
                    "give one top-k per layer, or a single number",
                ));
            }
            for item in items {
                let k = as_u64(key, item)?;
                if k == 0 {
                    return Err(invalid(
                        key,
                        "0",
                        "must be at least 1",
                        "set the number of experts each token is routed to",
                    ));
                }
                check_top_k(k, num_experts, config.field(experts_keys).0)?;
                per_layer_top_k.push(k);
            }
            per_layer_top_k.iter().copied().max().unwrap_or(1)
        }
        // Dots1Config's num_experts_per_tok is None by default: its router cannot run.
        _ if family == Family::Dots1 => required_positive(
            config,
            top_k_keys,
            "set the experts each token is routed to (dots.llm1 routes to 6)",
        )?,
        _ => config.positive_or(top_k_keys, default_top_k)?,
    };
    // Phi-3.5-MoE's sparsemixer router picks the top expert and then the second, whatever
    // num_experts_per_tok says: another value would be miscounted.
    if family == Family::Phimoe && top_k != 2 {
        return Err(invalid(
            "num_experts_per_tok",
            &top_k.to_string(),
            "is not what phimoe's sparsemixer router does: it always routes each token to 2 experts",
            "use 2 (as Phi-3.5-MoE does), or remove the key",
        ));
    }
    check_top_k(top_k, num_experts, config.field(experts_keys).0)?;
    let intermediate = |default: u64| config.positive_or(&["intermediate_size"], default);
    let moe_intermediate = |default: u64| config.positive_or(&["moe_intermediate_size"], default);
    let (expert_size, shared) = match family {
        Family::Mixtral => (intermediate(14336)?, None),
        Family::Qwen2Moe => {
            let shared = config.u64_or(&["shared_expert_intermediate_size"], 5632)?;
            (moe_intermediate(1408)?, (shared > 0).then_some(shared))
        }
        Family::Olmoe => (intermediate(2048)?, None),
        Family::MinimaxM2 => (intermediate(1536)?, None),
        Family::GptOss => (intermediate(2880)?, None),
        // Hunyuan's experts and its one shared MLP are intermediate_size wide (transformers
        // reads neither moe_intermediate_size nor num_shared_expert).
        Family::HunyuanV1Moe => {
            let size = intermediate(11008)?;
            (size, Some(size))
        }
        // DeepSeek-V3's experts and shared experts (one MLP n_shared_experts times as wide),
        // with no default count of shared experts (None, which transformers cannot build).
        Family::Dots1 => {
            let size = moe_intermediate(1408)?;
            let count = match config.optional_u64(&["n_shared_experts"])? {
                Some(count) => count,
                None => {
                    return Err(ModelConfigError::Missing {
                        field: "n_shared_experts",
                        fix: "set the number of shared experts (dots.llm1 has 2; 0 for none)"
                            .into(),
                    })
                }
            };
            let width = size.checked_mul(count).ok_or_else(|| {
                invalid(
                    "n_shared_experts",
                    &count.to_string(),
                    &format!("times moe_intermediate_size = {size} does not fit 64 bits"),
                    "check both for a typo or a unit mistake",
                )
            })?;
            (size, (width > 0).then_some(width))
        }
        Family::Glm4Moe | Family::Ernie45Moe => {
            let glm = family == Family::Glm4Moe;
            let size = moe_intermediate(if glm { 1408 } else { 1536 })?;
            let shared_key = if glm {
                "n_shared_experts"
            } else {
                "moe_num_shared_experts"
            };
            let count = config.u64_or(&[shared_key], if glm { 1 } else { 2 })?;
            // The shared experts are fused into one MLP `count` times as wide.
            let width = size.checked_mul(count).ok_or_else(|| {
                invalid(
                    shared_key,
                    &count.to_string(),
                    &format!("times moe_intermediate_size = {size} does not fit 64 bits"),
                    "check both for a typo or a unit mistake",
                )
            })?;
            (size, (width > 0).then_some(width))
        }
        Family::Qwen3VlMoeText => (moe_intermediate(1408)?, None),
        // Granite's experts are intermediate_size wide; GraniteMoeShared adds one shared MLP
        // of shared_intermediate_size (none at 0, its default).
        Family::GraniteMoe => (intermediate(11008)?, None),
        // Phi-3.5-MoE's experts are intermediate_size wide.
        Family::Phimoe => (intermediate(6400)?, None),
        // FlexOlmo's experts are intermediate_size wide.
        Family::FlexOlmo => (intermediate(11008)?, None),
        Family::GraniteMoeShared | Family::GraniteMoeSwa => {
            let shared = config.u64_or(&["shared_intermediate_size"], 0)?;
            (intermediate(11008)?, (shared > 0).then_some(shared))
        }
        _ => (moe_intermediate(768)?, None),
    };
    // GPT-OSS's experts carry biases on both projections.
    let bias = family == Family::GptOss;
    let shared_bias = family == Family::Ernie45Moe && config.bool_or(&["use_bias"], false)?;
    Ok(Some(MoeBlock {
        block: MixtureOfExperts {
            zero_experts: 0,
            num_experts,
            top_k,
            expert: Mlp {
                gated: true,
                intermediate_size: expert_size,
                bias,
            },
            shared: shared.map(|size| Mlp {
                gated: true,
                intermediate_size: size,
                bias: shared_bias,
            }),
            // Qwen2-MoE builds the shared expert's gate even when the shared expert has no width.
            shared_expert_gate: family == Family::Qwen2Moe,
            router_scales: false,
            latent: None,
            router_bias: family == Family::GptOss,
            router_correction: match family {
                Family::MinimaxM2 | Family::Glm4Moe | Family::Dots1 => RouterCorrection::Buffer,
                Family::Ernie45Moe => RouterCorrection::Parameter,
                _ => RouterCorrection::None,
            },
        },
        per_layer_top_k,
    }))
}

/// A positive integer the configuration class leaves `None` by default: absent or null is
/// refused as missing, naming the class's own field (the last of `keys`, after its
/// `attribute_map` aliases) and `fix`.
fn required_positive(
    config: &Config,
    keys: &[&'static str],
    fix: &str,
) -> Result<u64, ModelConfigError> {
    match config.optional_u64(keys)? {
        Some(0) => Err(invalid(
            config.field(keys).0,
            "0",
            "must be at least 1",
            fix,
        )),
        Some(value) => Ok(value),
        None => Err(ModelConfigError::Missing {
            field: keys.last().copied().unwrap_or("?"),
            fix: fix.into(),
        }),
    }
}

/// The width of `count` shared experts of `size` fused into one MLP (`count` read at `key`,
/// `default` when absent), refused naming `key` when it overflows.
fn shared_experts_width(
    config: &Config,
    key: &'static str,
    default: u64,
    size: u64,
) -> Result<u64, ModelConfigError> {
    let count = config.u64_or(&[key], default)?;
    size.checked_mul(count).ok_or_else(|| {
        invalid(
            key,
            &count.to_string(),
            &format!("times moe_intermediate_size = {size} does not fit 64 bits"),
            "check both for a typo or a unit mistake",
        )
    })
}

/// DeepSeek-V3's MoE block as the types that fuse their shared experts build it: gated,
/// bias-free experts of `size`, one shared MLP `shared_width` wide (none at 0), a bias-free
/// router with `correction`.
fn fused_shared_moe(
    num_experts: u64,
    top_k: u64,
    size: u64,
    shared_width: u64,
    correction: RouterCorrection,
) -> MixtureOfExperts {
    let mlp = |intermediate_size| Mlp {
        gated: true,
        intermediate_size,
        bias: false,
    };
    MixtureOfExperts {
        zero_experts: 0,
        num_experts,
        top_k,
        expert: mlp(size),
        shared: (shared_width > 0).then_some(mlp(shared_width)),
        shared_expert_gate: false,
        router_bias: false,
        router_correction: correction,
        router_scales: false,
        latent: None,
    }
}

/// `q_lora_rank`: absent takes `default`, null projects queries directly (`q_proj`), 0 is
/// refused (as DeepSeek's attention classes read it).
fn q_lora_rank(config: &Config, default: u64) -> Result<Option<u64>, ModelConfigError> {
    match config.field(&["q_lora_rank"]) {
        (_, Field::Absent) => Ok(Some(default)),
        (_, Field::Null) => Ok(None),
        (key, Field::Present(value)) => match as_u64(key, value)? {
            0 => Err(invalid(
                "q_lora_rank",
                "0",
                "must be at least 1",
                "use null to project queries without compression",
            )),
            rank => Ok(Some(rank)),
        },
    }
}

/// Refuses a latent attention whose query/key heads have no width (`qk_nope_head_dim` and
/// `qk_rope_head_dim` both 0).
fn check_latent_width(
    qk_nope_head_dim: u64,
    qk_rope_head_dim: u64,
) -> Result<(), ModelConfigError> {
    if qk_nope_head_dim + qk_rope_head_dim == 0 {
        return Err(invalid(
            "qk_nope_head_dim",
            "0",
            "with qk_rope_head_dim = 0 leaves no query/key width",
            "set the head widths from the model card",
        ));
    }
    Ok(())
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
    /// DeepSeek and GLM-4.5: every layer from first_k_dense_replace on (`transformers`
    /// reads no moe_layer_freq).
    FromLayer {
        first: u64,
    },
    /// ERNIE 4.5: (index + 1) divisible by the interval, between the start and end indices.
    Interval {
        interval: u64,
        start: u64,
        end: u64,
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
            SparseLayers::Interval {
                interval,
                start,
                end,
            } => (index + 1) % interval == 0 && index >= *start && index <= *end,
        }
    }
}

fn sparse_layer_rule(
    config: &Config,
    family: Family,
    layers: u64,
) -> Result<SparseLayers, ModelConfigError> {
    match family {
        Family::Qwen2Moe | Family::Qwen3Moe | Family::Qwen3VlMoeText => {
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
        Family::Glm4Moe | Family::Dots1 => {
            let default = if family == Family::Dots1 { 0 } else { 1 };
            let first = config.u64_or(&["first_k_dense_replace"], default)?;
            if first > layers {
                return Err(invalid(
                    "first_k_dense_replace",
                    &first.to_string(),
                    &format!("is more than num_hidden_layers = {layers}"),
                    "give the number of leading dense layers",
                ));
            }
            Ok(SparseLayers::FromLayer { first })
        }
        Family::Ernie45Moe => {
            let interval = config.positive_or(&["moe_layer_interval"], 1)?;
            let start = config.u64_or(&["moe_layer_start_index"], 1)?;
            // -1 (the default) means the last layer.
            let end = match config.object.get("moe_layer_end_index") {
                None | Some(Value::Null) => layers.saturating_sub(1),
                Some(value) if value.as_i64() == Some(-1) => layers.saturating_sub(1),
                Some(value) => as_u64("moe_layer_end_index", value)?,
            };
            Ok(SparseLayers::Interval {
                interval,
                start,
                end,
            })
        }
        _ => Ok(SparseLayers::All),
    }
}

/// Hunyuan dense (`hunyuan_v1_dense`, Hunyuan 0.5B to 7B): Llama's layers with q/k RMSNorms of
/// `head_dim` and `attention_bias` on q, k, v and o. `HunYuanDenseV1Config`'s `head_dim`
/// defaults to null, which its attention takes as given (`getattr` finds the attribute) and
/// cannot be built with, so a config without one is refused rather than guessed.
fn hunyuan_v1_dense(config: &Config) -> Result<Model, ModelConfigError> {
    if config.optional_u64(&["head_dim"])?.is_none() {
        return Err(ModelConfigError::Missing {
            field: "head_dim",
            fix: "hunyuan_v1_dense needs head_dim (128 in Tencent's Hunyuan dense configs): \
                  transformers cannot build the attention without it"
                .into(),
        });
    }
    llama_like(config, Family::HunyuanV1Dense)
}

/// Meta's Code World Model (`cwm`): Llama's layers, sliding (`sliding_window`, 8192) and full
/// layers from `layer_types` (every fourth layer full from the first by default), `mlp_bias`.
/// `CwmConfig` refuses a width its heads do not divide, and its default `rope_parameters`
/// (when the config gives none) are Llama 3 scaling from an 8192-token pre-training context.
fn cwm(config: &Config) -> Result<Model, ModelConfigError> {
    let d = config.positive_or(&["hidden_size"], 6144)?;
    let heads = config.positive_or(&["num_attention_heads"], 48)?;
    if d % heads != 0 {
        return Err(invalid(
            "num_attention_heads",
            &heads.to_string(),
            &format!("does not divide hidden_size = {d}, which CwmConfig requires"),
            "fix the head count or the width",
        ));
    }
    // `__post_init__` turns a 0 into None, which its `int` field then refuses, as it refuses null.
    if config.is_null("sliding_window") || config.optional_u64(&["sliding_window"])? == Some(0) {
        return Err(invalid(
            "sliding_window",
            &config
                .object
                .get("sliding_window")
                .map_or_else(String::new, Value::to_string),
            "must be a positive window for cwm (CwmConfig refuses null and 0)",
            "give the window (8192 in the released model), or remove the key to take it",
        ));
    }
    let mut model = llama_like(config, Family::Cwm)?;
    let rope_given = ["rope_parameters", "rope_scaling"]
        .iter()
        .any(|key| !matches!(config.object.get(*key), None | Some(Value::Null)));
    if !rope_given {
        model.default_seq_len = 8192;
    }
    Ok(model)
}

/// DeepSeek-V2 and V3: multi-head latent attention and DeepSeekMoE.
/// GLM-4.7-Flash (`glm4_moe_lite`): DeepSeek-V3's latent attention and MoE (GLM-4.5's
/// router and experts, the same shapes) with `Glm4MoeLiteConfig`'s defaults. Its dense and
/// MoE layers come from `mlp_layer_types` (else one dense layer, then MoE); the class reads no
/// `first_k_dense_replace`, and builds no MTP layer (`num_nextn_predict_layers` is counted
/// apart, as GLM-4.5's). `head_dim` is the class's alias of `qk_rope_head_dim`, and wins.
fn glm4_moe_lite(config: &Config) -> Result<Model, ModelConfigError> {
    const DEFAULTS: [(&str, u64); 14] = [
        ("hidden_size", 2048),
        ("num_hidden_layers", 47),
        ("num_attention_heads", 20),
        ("vocab_size", 154880),
        ("intermediate_size", 10240),
        ("moe_intermediate_size", 1536),
        ("n_shared_experts", 1),
        ("n_routed_experts", 64),
        ("kv_lora_rank", 512),
        ("q_lora_rank", 768),
        ("qk_rope_head_dim", 64),
        ("qk_nope_head_dim", 192),
        ("v_head_dim", 256),
        ("num_experts_per_tok", 4),
    ];
    let mut filled = config.object.clone();
    if let Some(rope) = filled.remove("head_dim") {
        if !rope.is_null() {
            filled.insert("qk_rope_head_dim".into(), rope);
        }
    }
    for (key, value) in DEFAULTS {
        filled.entry(key).or_insert(Value::from(value));
    }
    filled
        .entry("max_position_embeddings")
        .or_insert(Value::from(202752));
    for ignored in [
        "first_k_dense_replace",
        "moe_layer_freq",
        "num_nextn_predict_layers",
    ] {
        filled.remove(ignored);
    }
    let layers = layer_count(&Config { object: &filled }, &["num_hidden_layers"], 47)?;
    let sparse: Vec<bool> =
        match hybrid::layer_kinds(config, "mlp_layer_types", layers, &["dense", "sparse"])? {
            Some(kinds) => kinds.iter().map(|kind| kind == "sparse").collect(),
            None => (0..layers).map(|index| index > 0).collect(),
        };
    // Every layer MoE first; the dense ones are put back below.
    filled.insert("first_k_dense_replace".into(), Value::from(0));
    let filled_config = Config { object: &filled };
    let mut model = deepseek(&filled_config, Family::DeepseekV3)?;
    model.family = Family::Glm4MoeLite;
    model.mtp_modules = config.u64_or(&["num_nextn_predict_layers"], 0)?;
    let dense = Mlp {
        gated: true,
        intermediate_size: filled_config.positive_or(&["intermediate_size"], 10240)?,
        bias: false,
    };
    for (layer, sparse) in model.layers.iter_mut().zip(sparse) {
        if !sparse {
            layer.ffn = FeedForward::Dense(dense);
        }
    }
    Ok(model)
}

fn deepseek(config: &Config, family: Family) -> Result<Model, ModelConfigError> {
    // Kimi K2 is DeepSeek-V3's architecture under its own model_type: V3's defaults.
    let v3 = matches!(family, Family::DeepseekV3 | Family::KimiK2);
    let d = config.positive_or(&["hidden_size"], if v3 { 7168 } else { 4096 })?;
    let layer_count = layer_count(config, &["num_hidden_layers"], if v3 { 61 } else { 32 })?;
    let heads = config.positive_or(&["num_attention_heads"], if v3 { 128 } else { 32 })?;
    let vocab = config.positive_or(&["vocab_size"], if v3 { 129280 } else { 102400 })?;
    let intermediate =
        config.positive_or(&["intermediate_size"], if v3 { 18432 } else { 11008 })?;
    let tie = config.bool_or(&["tie_word_embeddings"], false)?;
    let q_lora_rank = q_lora_rank(config, 1536)?;
    let attention = Attention::Latent(LatentAttention {
        num_heads: heads,
        q_lora_rank,
        kv_lora_rank: config.positive_or(&["kv_lora_rank"], 512)?,
        qk_nope_head_dim: config.u64_or(&["qk_nope_head_dim"], 128)?,
        qk_rope_head_dim: config.u64_or(&["qk_rope_head_dim"], 64)?,
        v_head_dim: config.positive_or(&["v_head_dim"], 128)?,
        bias: config.bool_or(&["attention_bias"], false)?,
    });
    if let Attention::Latent(a) = &attention {
        check_latent_width(a.qk_nope_head_dim, a.qk_rope_head_dim)?;
    }
    let experts_keys: &[&'static str] = if v3 {
        &["num_local_experts", "n_routed_experts"]
    } else {
        &["num_experts", "n_routed_experts"]
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
            zero_experts: 0,
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
            router_scales: false,
            latent: None,
            router_bias: false,
            router_correction: if v3 {
                RouterCorrection::Buffer
            } else {
                RouterCorrection::None
            },
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
        mtp_modules,
        ..Model::decoder(
            family,
            d,
            vocab,
            tie,
            layers,
            default_seq_len(
                config,
                &["max_position_embeddings"],
                if v3 { 4096 } else { 2048 },
            )?,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(json: &str) -> Result<Model, ModelConfigError> {
        parse(json)
    }

    #[test]
    fn python_non_finite_numbers_read_as_null() {
        let text = r#"{"time_step_limit": [0.0, Infinity], "a": -Infinity, "b": NaN,
            "name": "NaN \" Infinity", "model_type": "llama"}"#;
        let value = parse_json(text).unwrap();
        assert_eq!(value["time_step_limit"], serde_json::json!([0.0, null]));
        assert_eq!(value["a"], Value::Null);
        assert_eq!(value["b"], Value::Null);
        assert_eq!(value["name"], "NaN \" Infinity");
        assert!(parse_json("{\"a\": Infinit}").is_err());
        assert!(parse_json("{\"a\": 1,}").is_err());
    }

    #[test]
    fn an_unknown_composites_vision_tower_is_reported_not_counted() {
        use crate::accounting::model::VisionTower;
        use crate::accounting::params;
        let text = r#""text_config": {"model_type": "llama", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "vocab_size": 100}"#;
        let with_vision = model(&format!(
            r#"{{"model_type": "some_vlm", {text}, "vision_config": {{"hidden_size": 32}}}}"#
        ))
        .unwrap();
        assert_eq!(with_vision.vision, Some(VisionTower::NotCounted));
        let counts = params::count(&with_vision);
        assert!(counts.vision_not_counted);
        assert_eq!(counts.vision, None);
        let text_only = model(&format!(r#"{{"model_type": "some_lm", {text}}}"#)).unwrap();
        assert_eq!(text_only.vision, None);
        // The language model is the same either way.
        assert_eq!(counts.total, params::count(&text_only).total);
        assert!(!params::count(&text_only).vision_not_counted);
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

    /// Per-layer windows of the families with layer kinds (transformers' configuration
    /// classes: Gemma 2 and GPT-OSS alternate from a sliding layer, Gemma 3 makes every
    /// `sliding_window_pattern`-th layer full, Starcoder2 and Phi-3 window every layer,
    /// SmolLM3 slides on its NoPE layers).
    #[test]
    fn layer_kinds_follow_each_family() {
        let check = |json: &str, expected: &[Option<u64>]| {
            assert_eq!(windows(json), expected, "{json}");
        };
        let w = Some(8);
        check(
            r#"{"model_type": "gemma2", "num_hidden_layers": 4, "sliding_window": 8}"#,
            &[w, None, w, None],
        );
        check(
            r#"{"model_type": "gpt_oss", "num_hidden_layers": 4, "sliding_window": 8}"#,
            &[w, None, w, None],
        );
        check(
            r#"{"model_type": "gemma3_text", "num_hidden_layers": 7, "sliding_window": 8}"#,
            &[w, w, w, w, w, None, w],
        );
        check(
            r#"{"model_type": "gemma3_text", "num_hidden_layers": 4, "sliding_window": 8, "sliding_window_pattern": 2}"#,
            &[w, None, w, None],
        );
        check(
            r#"{"model_type": "gpt_oss", "num_hidden_layers": 3, "sliding_window": 8, "layer_types": ["full_attention", "full_attention", "sliding_attention"]}"#,
            &[None, None, w],
        );
        check(
            r#"{"model_type": "starcoder2", "num_hidden_layers": 2, "sliding_window": 8}"#,
            &[w, w],
        );
        check(
            r#"{"model_type": "phi3", "num_hidden_layers": 2}"#,
            &[None, None],
        );
        check(
            r#"{"model_type": "smollm3", "num_hidden_layers": 4, "use_sliding_window": true, "sliding_window": 8}"#,
            &[None, None, None, w],
        );
        // Gemma 2's default window is 4096; GPT-OSS's 128.
        check(
            r#"{"model_type": "gemma2", "num_hidden_layers": 2}"#,
            &[Some(4096), None],
        );
        check(
            r#"{"model_type": "gpt_oss", "num_hidden_layers": 2}"#,
            &[Some(128), None],
        );
        // OLMo 3: every fourth layer full, window 4096 by default; layer_types decides
        // where given; a null window leaves every layer full.
        check(
            r#"{"model_type": "olmo3", "num_hidden_layers": 5}"#,
            &[Some(4096), Some(4096), Some(4096), None, Some(4096)],
        );
        check(
            r#"{"model_type": "olmo3", "num_hidden_layers": 2, "sliding_window": 8, "layer_types": ["full_attention", "sliding_attention"]}"#,
            &[None, w],
        );
        check(
            r#"{"model_type": "olmo3", "num_hidden_layers": 2, "sliding_window": null}"#,
            &[None, None],
        );
    }

    /// EXAONE 4.0: every `sliding_window_pattern`-th layer full (4), windows of 4096 by
    /// default, NoPE on the full layers of a windowed model; the patterns its configuration
    /// class cannot build are refused naming the field.
    #[test]
    fn exaone4_layers_follow_its_configuration_class() {
        let check = |json: &str, expected: &[Option<u64>]| {
            assert_eq!(windows(json), expected, "{json}");
        };
        let w = Some(8);
        check(
            r#"{"model_type": "exaone4", "num_hidden_layers": 5, "sliding_window": 8}"#,
            &[w, w, w, None, w],
        );
        check(
            r#"{"model_type": "exaone4", "num_hidden_layers": 2}"#,
            &[Some(4096), Some(4096)],
        );
        check(
            r#"{"model_type": "exaone4", "num_hidden_layers": 4, "sliding_window": 8, "sliding_window_pattern": 2}"#,
            &[w, None, w, None],
        );
        // layer_types wins over any pattern, a string one included.
        check(
            r#"{"model_type": "exaone4", "num_hidden_layers": 2, "sliding_window": 8, "sliding_window_pattern": "LLLG", "layer_types": ["full_attention", "sliding_attention"]}"#,
            &[None, w],
        );
        check(
            r#"{"model_type": "exaone4", "num_hidden_layers": 2, "sliding_window": null, "sliding_window_pattern": null, "layer_types": ["full_attention", "full_attention"]}"#,
            &[None, None],
        );
        let rope = |json: &str| -> Vec<bool> {
            model(json)
                .unwrap()
                .layers
                .iter()
                .map(|l| l.mixer.attention().unwrap().rope)
                .collect()
        };
        assert_eq!(
            rope(r#"{"model_type": "exaone4", "num_hidden_layers": 4}"#),
            [true, true, true, false]
        );
        assert_eq!(
            rope(
                r#"{"model_type": "exaone4", "num_hidden_layers": 2, "sliding_window": null, "layer_types": ["full_attention", "full_attention"]}"#
            ),
            [true, true]
        );
        for (extra, field) in [
            (
                r#""sliding_window_pattern": "LLLG""#,
                "sliding_window_pattern",
            ),
            (
                r#""sliding_window_pattern": null"#,
                "sliding_window_pattern",
            ),
            (r#""sliding_window_pattern": 0"#, "sliding_window_pattern"),
            (r#""sliding_window": null"#, "sliding_window"),
            (r#""sliding_window": 0"#, "sliding_window"),
            (
                r#""sliding_window": null, "layer_types": ["sliding_attention", "full_attention"]"#,
                "sliding_window",
            ),
            (r#""head_dim": null"#, "head_dim"),
        ] {
            let json = format!(r#"{{"model_type": "exaone4", "num_hidden_layers": 2, {extra}}}"#);
            match model(&json) {
                Err(ModelConfigError::Invalid { field: got, .. }) => {
                    assert_eq!(got, field, "{json}")
                }
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    /// Arcee: a two-matrix MLP (up and down) with `mlp_bias`, Llama's attention, and the
    /// class's check that the heads divide the width even with `head_dim` given.
    #[test]
    fn arcee_has_a_two_matrix_mlp_and_checks_its_heads() {
        let arcee = model(
            r#"{"model_type": "arcee", "hidden_size": 64, "num_attention_heads": 4, "head_dim": 32, "mlp_bias": true, "num_hidden_layers": 1}"#,
        )
        .unwrap();
        let FeedForward::Dense(mlp) = arcee.layers[0].ffn else {
            panic!("a dense MLP")
        };
        assert_eq!(mlp.matrices(), 2);
        assert!(mlp.bias);
        assert_eq!(attention(&arcee).qk_head_dim(), 32);
        let error = model(
            r#"{"model_type": "arcee", "hidden_size": 64, "num_attention_heads": 3, "head_dim": 32}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("num_attention_heads"), "{error}");
    }

    /// Apertus: xIELU's two learnable scalars per layer (PReLU's one), none for ReLU²; a
    /// two-matrix MLP, q/k norms; the class's Llama 3 context without rope_parameters.
    #[test]
    fn apertus_counts_its_activations_parameters() {
        let json = |extra: &str| {
            format!(
                r#"{{"model_type": "apertus", "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 96, "vocab_size": 128, "num_hidden_layers": 3{extra}}}"#
            )
        };
        let count = |extra: &str| params::count(&model(&json(extra)).unwrap()).total;
        let xielu = model(&json("")).unwrap();
        assert_eq!(xielu.ffn_activation_params, 2);
        assert_eq!(xielu.default_seq_len, 8192);
        assert_eq!(count("") - count(r#", "hidden_act": "relu2""#), 6);
        assert_eq!(
            count(r#", "hidden_act": "prelu""#) - count(r#", "hidden_act": "relu2""#),
            3
        );
        let FeedForward::Dense(mlp) = xielu.layers[0].ffn else {
            panic!("a dense MLP")
        };
        assert_eq!(mlp.matrices(), 2);
        for (extra, field) in [
            (r#", "hidden_act": 1"#, "hidden_act"),
            (r#", "head_dim": null"#, "head_dim"),
        ] {
            let error = model(&json(extra)).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }

    /// nanochat: weightless RMSNorms (none in the count, the final one included), no q/k
    /// norm weights, a two-matrix MLP.
    #[test]
    fn nanochats_norms_have_no_weights() {
        let nanochat = model(
            r#"{"model_type": "nanochat", "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 96, "vocab_size": 128, "num_hidden_layers": 2}"#,
        )
        .unwrap();
        assert_eq!(nanochat.norm, Norm::RmsNormWithoutWeight);
        let Attention::Standard(a) = attention(&nanochat) else {
            panic!("standard attention")
        };
        assert_eq!(a.qk_norm, QkNorm::None);
        // Embedding and head (2 · 128 · 64), q/k/v/o (4 · 64 · 64) and fc1/fc2 (2 · 64 · 96)
        // per layer: nothing else.
        assert_eq!(
            params::count(&nanochat).total,
            2 * 128 * 64 + 2 * (4 * 64 * 64 + 2 * 64 * 96)
        );
        let error = model(r#"{"model_type": "nanochat", "head_dim": null}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("head_dim"), "{error}");
    }

    /// VaultGemma: Gemma 2's alternating windows (4096) and defaults with two norms per
    /// layer; the window its forward always needs, and the class's head check.
    #[test]
    fn vaultgemma_alternates_windows_and_has_two_norms() {
        let check = |json: &str, expected: &[Option<u64>]| {
            assert_eq!(windows(json), expected, "{json}");
        };
        check(
            r#"{"model_type": "vaultgemma", "num_hidden_layers": 3}"#,
            &[Some(4096), None, Some(4096)],
        );
        check(
            r#"{"model_type": "vaultgemma", "num_hidden_layers": 2, "sliding_window": 8, "layer_types": ["full_attention", "full_attention"]}"#,
            &[None, None],
        );
        let vault = model(r#"{"model_type": "vaultgemma"}"#).unwrap();
        assert!(vault.layers.iter().all(|l| l.norms == 2));
        assert!(vault.tie_word_embeddings);
        assert_eq!(attention(&vault).qk_head_dim(), 256);
        for (extra, field) in [
            (r#""sliding_window": null"#, "sliding_window"),
            (r#""sliding_window": 0"#, "sliding_window"),
            (r#""num_attention_heads": 7"#, "num_attention_heads"),
            (r#""head_dim": null"#, "head_dim"),
        ] {
            let json =
                format!(r#"{{"model_type": "vaultgemma", "num_hidden_layers": 2, {extra}}}"#);
            let error = model(&json).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }

    #[test]
    fn olmo3_layer_types_are_checked() {
        for (json, problem) in [
            (
                r#"{"model_type": "olmo3", "num_hidden_layers": 3, "layer_types": ["sliding_attention", "full_attention"]}"#,
                "must have one entry per layer",
            ),
            (
                r#"{"model_type": "olmo3", "num_hidden_layers": 2, "layer_types": ["sliding_attention", "linear_attention"]}"#,
                "layer 1 has an unknown attention kind",
            ),
        ] {
            match model(json) {
                Err(ModelConfigError::Invalid {
                    field,
                    problem: got,
                    ..
                }) => {
                    assert_eq!(field, "layer_types", "{json}");
                    assert!(got.starts_with(problem), "{json}: {got}");
                }
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn phi3_default_context_is_the_pre_training_one() {
        let phi = model(r#"{"model_type": "phi3", "max_position_embeddings": 131072, "original_max_position_embeddings": 4096}"#).unwrap();
        assert_eq!(phi.default_seq_len, 4096);
    }

    #[test]
    fn kimi_k2_takes_deepseek_v3_defaults() {
        let kimi = model(r#"{"model_type": "kimi_k2"}"#).unwrap();
        let v3 = model(r#"{"model_type": "deepseek_v3"}"#).unwrap();
        assert_eq!(kimi.family, Family::KimiK2);
        assert_eq!(params::count(&kimi), params::count(&v3));
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
        // GlmConfig types both optional, but its attention cannot be built with a null.
        check(r#"{"model_type": "glm", "head_dim": null}"#, "head_dim");
        check(
            r#"{"model_type": "glm", "num_key_value_heads": null}"#,
            "num_key_value_heads",
        );
        check(r#"{"model_type": "glm4", "head_dim": null}"#, "head_dim");
        // Hunyuan dense: transformers cannot build without a head_dim.
        for json in [
            r#"{"model_type": "hunyuan_v1_dense"}"#,
            r#"{"model_type": "hunyuan_v1_dense", "head_dim": null}"#,
        ] {
            let error = model(json).unwrap_err().to_string();
            assert!(error.contains("head_dim"), "{json}: {error}");
        }
        // Optional fields: null asks for the computed value.
        let llama = model(r#"{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": null, "head_dim": null}"#).unwrap();
        assert_eq!(attention(&llama).qk_head_dim(), 16);
        let qwen2 = model(r#"{"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": null}"#).unwrap();
        let Attention::Standard(a) = attention(&qwen2) else {
            panic!("standard attention")
        };
        assert_eq!(a.num_kv_heads, 4);
    }

    /// CWM: every fourth layer full from the first, the others sliding by 8192; its width
    /// must divide by its heads; without rope_parameters its context is Llama 3's 8192.
    #[test]
    fn cwm_layer_pattern_width_check_and_default_context() {
        let cwm = model(r#"{"model_type": "cwm", "num_hidden_layers": 5}"#).unwrap();
        let windows: Vec<AttentionWindow> = cwm
            .layers
            .iter()
            .filter_map(|layer| layer.mixer.attention().map(|a| a.window))
            .collect();
        let sliding = AttentionWindow::Sliding(8192);
        assert_eq!(
            windows,
            [
                AttentionWindow::Full,
                sliding,
                sliding,
                sliding,
                AttentionWindow::Full
            ]
        );
        assert_eq!(cwm.default_seq_len, 8192);
        let error =
            model(r#"{"model_type": "cwm", "hidden_size": 100, "num_attention_heads": 48}"#)
                .unwrap_err()
                .to_string();
        assert!(error.contains("num_attention_heads"), "{error}");
        for window in ["null", "0"] {
            let json = format!(r#"{{"model_type": "cwm", "sliding_window": {window}}}"#);
            let error = model(&json).unwrap_err().to_string();
            assert!(error.contains("sliding_window"), "{json}: {error}");
        }
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
            Attention::Standard(_) | Attention::DeepseekV4(_) => panic!("latent attention"),
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

    /// Dots1Config leaves the expert counts and top-k unset (None), which transformers cannot
    /// build: each is refused by its own name, and phimoe's top-k other than 2 too.
    #[test]
    fn moe_fields_the_class_leaves_unset_are_refused_by_name() {
        let refused = |json: &str, field: &str| {
            let error = model(json).expect_err(json).to_string();
            assert!(error.contains(field), "{json}: {error}");
        };
        refused(r#"{"model_type": "dots1"}"#, "n_routed_experts");
        refused(
            r#"{"model_type": "dots1", "n_routed_experts": 8, "n_shared_experts": 1}"#,
            "num_experts_per_tok",
        );
        refused(
            r#"{"model_type": "dots1", "n_routed_experts": 8, "num_experts_per_tok": 2}"#,
            "n_shared_experts",
        );
        refused(
            r#"{"model_type": "phimoe", "num_experts_per_tok": 4}"#,
            "num_experts_per_tok",
        );
        assert!(model(
            r#"{"model_type": "dots1", "n_routed_experts": 8, "n_shared_experts": 0, "num_experts_per_tok": 2}"#
        )
        .is_ok());
    }
}
