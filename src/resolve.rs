//! The model and hardware a command measures against, resolved in one place for `calc`, `plan`
//! and `serve` (and `logs`, through `serve`'s config), with the defaults defined once.
//!
//! Callers hand in what the user wrote (flags, or `serve`'s flags merged with its file) and get
//! the loaded model with its FLOP options and the hardware, or typed [`Problem`]s that each
//! caller words as its user names the setting: a flag (`--seq-len`) or a config key
//! (`model.seq_len`).

use clap::Args;
use serde::Deserialize;

use crate::accounting::flops::{AttentionCounting, FlopOptions, Recompute, MAX_SEQ_LEN};
use crate::accounting::gpus::{Dtype, GpuError};
use crate::accounting::mfu::{self, Hardware, HardwareError};
use crate::model_config::{self, ModelConfigError, NamedModel};
use crate::setting::{merge_fields, Parsed};

/// How attention FLOPs are counted when nothing says: every query against every key.
pub const DEFAULT_ATTENTION: AttentionCounting = AttentionCounting::Full;
/// Activation recomputation when nothing says: none.
pub const DEFAULT_RECOMPUTE: Recompute = Recompute::None;
/// The precision whose peak MFU divides by when nothing says.
pub const DEFAULT_DTYPE: Dtype = Dtype::Bf16;
/// GPUs whose combined throughput is measured when nothing says.
pub const DEFAULT_GPUS: u64 = 1;

/// Each flag here with a default, and the default as `--help` shows it (`[default: ...]`).
pub fn shown_defaults() -> Vec<(&'static str, String)> {
    vec![
        ("--dtype", DEFAULT_DTYPE.to_string()),
        ("--gpus", DEFAULT_GPUS.to_string()),
    ]
}

/// The model settings as given; `None` where nothing was given. The same struct is the flags of
/// every command that measures a model (`--model`, `--seq-len`, ...) and `serve`'s `[model]`
/// table (`model`, `seq_len`, ...).
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Path to a Hugging Face config.json (or nanoGPT config), or a bundled preset name
    /// (`mfu-exporter models` lists them).
    #[arg(long, value_name = "PATH|PRESET")]
    pub model: Option<String>,
    /// Tokens per training sequence [default: the model's pre-training context from its config].
    #[arg(long, value_name = "TOKENS")]
    pub seq_len: Option<u64>,
    /// How attention-matrix FLOPs are counted: every query against every key (full: PaLM,
    /// nanoGPT, torchtitan) or half of that for the causal mask (causal: Megatron, MaxText).
    #[arg(long, value_name = "full|causal")]
    pub attention: Option<Parsed<AttentionCounting>>,
    /// Activation recomputation (none, selective or full), which adds hardware FLOPs (HFU) but
    /// not model FLOPs (MFU).
    #[arg(long, value_name = "none|selective|full")]
    pub recompute: Option<Parsed<Recompute>>,
    /// Count DeepSeek-V3's multi-token-prediction modules as model FLOPs.
    #[arg(long)]
    #[serde(default)]
    pub mtp: bool,
}

merge_fields!(ModelSettings {
    model,
    seq_len,
    attention,
    recompute,
    mtp
});

/// The hardware settings as given; `None` where nothing was given: the flags of every command
/// that measures against a GPU, and `serve`'s `[hardware]` table.
#[derive(Debug, Clone, Default, PartialEq, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareSettings {
    /// GPU id from `mfu-exporter gpus` (e.g. h100-sxm), or the exact name nvidia-smi prints.
    #[arg(long, value_name = "NAME")]
    pub gpu: Option<String>,
    /// Precision of the matmuls, which selects the peak: fp32, tf32, fp16, bf16, fp8, fp4.
    #[arg(long, value_name = "DTYPE")]
    pub dtype: Option<String>,
    /// Number of GPUs whose combined throughput is measured.
    #[arg(long, value_name = "N")]
    pub gpus: Option<u64>,
    /// Dense peak per GPU in TFLOP/s, overriding the table.
    #[arg(long, value_name = "TFLOPS")]
    pub peak_tflops: Option<f64>,
}

merge_fields!(HardwareSettings {
    gpu,
    dtype,
    gpus,
    peak_tflops
});

impl ModelSettings {
    /// The model and its FLOP options (`calc`, `plan`), or the first problem in flag words.
    pub fn resolve_flags(&self) -> anyhow::Result<(NamedModel, FlopOptions)> {
        model(self).map_err(|problems| match problems.into_iter().next() {
            Some(problem) => problem.into_flag_error(),
            None => anyhow::anyhow!("internal: the model was refused without a reason"),
        })
    }
}

impl HardwareSettings {
    /// The hardware (`calc`, `plan`); `None` when neither `--gpu` nor `--peak-tflops` was given,
    /// for a report without MFU.
    pub fn resolve_flags(&self) -> anyhow::Result<Option<Hardware>> {
        if self.gpu.is_none() && self.peak_tflops.is_none() {
            return Ok(None);
        }
        hardware(self).map(Some).map_err(Problem::into_flag_error)
    }
}

/// How a caller's user names the settings, which decides the wording of a [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Command-line flags (`calc`, `plan`).
    Flags,
    /// `serve`'s merged config, whose keys name flags and file alike.
    Config,
}

/// Something wrong with the model or hardware settings.
#[derive(Debug)]
pub enum Problem {
    NoModel,
    Model {
        spec: String,
        error: ModelConfigError,
    },
    SeqLenZero,
    SeqLenTooLong(u64),
    /// `--attention` or `--recompute` (`model.attention`, `model.recompute`) that does not parse.
    Invalid {
        flag: &'static str,
        key: &'static str,
        text: String,
        problem: String,
    },
    Dtype(GpuError),
    Hardware(HardwareError),
}

impl Problem {
    /// The problem in the words of `names`, with what would fix it.
    pub fn message(&self, names: Names) -> String {
        let presets = || model_config::preset_names().join(", ");
        match (self, names) {
            (Problem::NoModel, Names::Flags) => format!(
                "no model given: set --model to a config.json path or a preset ({})",
                presets()
            ),
            (Problem::NoModel, Names::Config) => format!(
                "model: not set; give --model or `model` in [model]: a config.json path or a preset ({})",
                presets()
            ),
            (Problem::Model { spec, error }, Names::Flags) => {
                format!("loading model {spec:?}: {error}")
            }
            (Problem::Model { spec, error }, Names::Config) => format!("model = {spec:?}: {error}"),
            (Problem::SeqLenZero, Names::Flags) => "--seq-len 0: a training sequence has at least one token; set --seq-len to the sequence length the job trains with".into(),
            (Problem::SeqLenZero, Names::Config) => {
                "model.seq_len = 0: set the sequence length the job trains with".into()
            }
            (Problem::SeqLenTooLong(long), Names::Flags) => format!(
                "--seq-len {long}: above the limit of {MAX_SEQ_LEN} tokens; set --seq-len to the sequence length the job trains with"
            ),
            (Problem::SeqLenTooLong(long), Names::Config) => format!(
                "model.seq_len = {long}: above the limit of {MAX_SEQ_LEN} tokens; set the sequence length the job trains with"
            ),
            (Problem::Invalid { flag, text, problem, .. }, Names::Flags) => {
                format!("{flag} {text:?}: {problem}")
            }
            (Problem::Invalid { key, text, problem, .. }, Names::Config) => {
                format!("{key} = {text:?}: {problem}")
            }
            (Problem::Dtype(error), Names::Flags) => error.to_string(),
            (Problem::Dtype(error), Names::Config) => format!("hardware.dtype: {error}"),
            (Problem::Hardware(error), Names::Flags) => error.to_string(),
            (Problem::Hardware(error), Names::Config) => format!("hardware: {error}"),
        }
    }

    /// The problem as a command-line error, keeping a model file's error as its cause.
    pub fn into_flag_error(self) -> anyhow::Error {
        match self {
            Problem::Model { spec, error } => {
                anyhow::Error::new(error).context(format!("loading model {spec:?}"))
            }
            Problem::Dtype(error) => anyhow::Error::new(error),
            Problem::Hardware(error) => anyhow::Error::new(error),
            other => anyhow::anyhow!(other.message(Names::Flags)),
        }
    }
}

/// Loads the model and fills the FLOP options' defaults. Every problem is listed: a missing or
/// unloadable model, then a sequence length of 0 or above [`MAX_SEQ_LEN`].
pub fn model(settings: &ModelSettings) -> Result<(NamedModel, FlopOptions), Vec<Problem>> {
    let mut problems = Vec::new();
    let named = match settings.model.as_deref() {
        None => {
            problems.push(Problem::NoModel);
            None
        }
        Some(spec) => model_config::load(spec)
            .map_err(|error| {
                problems.push(Problem::Model {
                    spec: spec.to_owned(),
                    error,
                })
            })
            .ok(),
    };
    let seq_len = settings
        .seq_len
        .or(named.as_ref().map(|named| named.model.default_seq_len));
    match seq_len {
        Some(0) => problems.push(Problem::SeqLenZero),
        Some(long) if long > MAX_SEQ_LEN => problems.push(Problem::SeqLenTooLong(long)),
        _ => {}
    }
    let attention = choice(
        &settings.attention,
        "--attention",
        "model.attention",
        &mut problems,
    );
    let recompute = choice(
        &settings.recompute,
        "--recompute",
        "model.recompute",
        &mut problems,
    );
    match (named, seq_len) {
        (Some(named), Some(seq_len)) if problems.is_empty() => {
            let options = FlopOptions {
                seq_len,
                attention: attention.unwrap_or(DEFAULT_ATTENTION),
                include_mtp: settings.mtp,
                recompute: recompute.unwrap_or(DEFAULT_RECOMPUTE),
            };
            Ok((named, options))
        }
        _ => Err(problems),
    }
}

/// The value of a choice given as `flag` or `key`, if it was given; one that does not parse is a
/// problem.
fn choice<T: Copy>(
    setting: &Option<Parsed<T>>,
    flag: &'static str,
    key: &'static str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match setting {
        None => None,
        Some(Parsed::Valid(value)) => Some(*value),
        Some(Parsed::Invalid { text, problem }) => {
            problems.push(Problem::Invalid {
                flag,
                key,
                text: text.clone(),
                problem: problem.clone(),
            });
            None
        }
    }
}

/// Resolves the GPU, precision, count and peak override into the peak MFU divides by.
pub fn hardware(settings: &HardwareSettings) -> Result<Hardware, Problem> {
    let dtype = match settings.dtype.as_deref() {
        Some(text) => text.parse::<Dtype>().map_err(Problem::Dtype)?,
        None => DEFAULT_DTYPE,
    };
    mfu::resolve_hardware(
        settings.gpu.as_deref(),
        dtype,
        settings.gpus.unwrap_or(DEFAULT_GPUS),
        settings.peak_tflops,
    )
    .map_err(Problem::Hardware)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_problems(settings: ModelSettings, names: Names) -> Vec<String> {
        match model(&settings) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(|p| p.message(names)).collect(),
        }
    }

    #[test]
    fn defaults_are_filled_once() {
        let settings = ModelSettings {
            model: Some("gpt2".into()),
            ..ModelSettings::default()
        };
        let (named, options) = model(&settings).unwrap();
        assert_eq!(options.seq_len, named.model.default_seq_len);
        assert_eq!(options.attention, AttentionCounting::Full);
        assert_eq!(options.recompute, Recompute::None);
        let hardware = hardware(&HardwareSettings {
            gpu: Some("a100-sxm".into()),
            ..HardwareSettings::default()
        })
        .unwrap();
        assert_eq!((hardware.dtype, hardware.gpus), (Dtype::Bf16, 1));
    }

    #[test]
    fn every_model_problem_is_listed_in_the_callers_words() {
        let none = ModelSettings {
            seq_len: Some(0),
            ..ModelSettings::default()
        };
        let flags = model_problems(none.clone(), Names::Flags);
        assert!(
            flags[0].starts_with("no model given: set --model"),
            "{flags:?}"
        );
        assert!(flags[1].starts_with("--seq-len 0: "), "{flags:?}");
        let config = model_problems(none, Names::Config);
        assert!(config[0].starts_with("model: not set;"), "{config:?}");
        assert!(config[1].starts_with("model.seq_len = 0: "), "{config:?}");
        let long = ModelSettings {
            model: Some("gpt2".into()),
            seq_len: Some(MAX_SEQ_LEN + 1),
            ..ModelSettings::default()
        };
        let config = model_problems(long, Names::Config);
        assert_eq!(config.len(), 1, "{config:?}");
        assert!(config[0].contains("above the limit"), "{config:?}");
    }

    #[test]
    fn a_choice_that_does_not_parse_is_named_as_the_user_gave_it() {
        let settings = ModelSettings {
            model: Some("gpt2".into()),
            attention: Some(Parsed::new("half")),
            recompute: Some(Parsed::new("selective")),
            ..ModelSettings::default()
        };
        assert_eq!(
            model_problems(settings.clone(), Names::Flags),
            ["--attention \"half\": use full or causal"]
        );
        assert_eq!(
            model_problems(settings, Names::Config),
            ["model.attention = \"half\": use full or causal"]
        );
        let causal = ModelSettings {
            model: Some("gpt2".into()),
            attention: Some(Parsed::new("causal")),
            recompute: Some(Parsed::new("full")),
            ..ModelSettings::default()
        };
        let (_, options) = model(&causal).unwrap();
        assert_eq!(
            (options.attention, options.recompute),
            (AttentionCounting::Causal, Recompute::Full)
        );
    }

    #[test]
    fn a_bad_dtype_is_named() {
        let problem = hardware(&HardwareSettings {
            gpu: Some("a100-sxm".into()),
            dtype: Some("int3".into()),
            ..HardwareSettings::default()
        })
        .unwrap_err();
        assert!(problem
            .message(Names::Config)
            .starts_with("hardware.dtype: "));
    }
}
