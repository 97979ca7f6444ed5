//! Flags shared by the subcommands that describe a model and its hardware.

use clap::{Args, ValueEnum};

use crate::accounting::flops::{AttentionCounting, FlopOptions, Recompute};
use crate::accounting::mfu::Hardware;
use crate::model_config::NamedModel;
use crate::resolve::{self, HardwareSettings, ModelSettings};

#[derive(Debug, Clone, Default, Args)]
pub struct ModelArgs {
    /// Path to a Hugging Face config.json (or nanoGPT config), or a bundled preset name
    /// (`mfu-exporter models` lists them).
    #[arg(long, value_name = "PATH|PRESET")]
    pub model: Option<String>,
    /// Tokens per training sequence [default: the model's pre-training context from its config].
    #[arg(long, value_name = "TOKENS")]
    pub seq_len: Option<u64>,
    /// How attention-matrix FLOPs are counted: every query against every key (full: PaLM,
    /// nanoGPT, torchtitan) or half of that for the causal mask (Megatron, MaxText).
    #[arg(long, value_enum, value_name = "MODE")]
    pub attention: Option<AttentionArg>,
    /// Activation recomputation, which adds hardware FLOPs (HFU) but not model FLOPs (MFU).
    #[arg(long, value_enum, value_name = "MODE")]
    pub recompute: Option<RecomputeArg>,
    /// Count DeepSeek-V3's multi-token-prediction modules as model FLOPs.
    #[arg(long)]
    pub mtp: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct HardwareArgs {
    /// GPU id from `mfu-exporter gpus` (e.g. h100-sxm), or the exact name nvidia-smi prints.
    #[arg(long, value_name = "NAME")]
    pub gpu: Option<String>,
    /// Precision of the matmuls, which selects the peak: fp32, tf32, fp16, bf16, fp8, fp4 [default: bf16].
    #[arg(long, value_name = "DTYPE")]
    pub dtype: Option<String>,
    /// Number of GPUs whose combined throughput is measured [default: 1].
    #[arg(long, value_name = "N")]
    pub gpus: Option<u64>,
    /// Dense peak per GPU in TFLOP/s, overriding the table.
    #[arg(long, value_name = "TFLOPS")]
    pub peak_tflops: Option<f64>,
}

impl ModelArgs {
    /// The flags as [`resolve::model`] takes them.
    pub fn settings(&self) -> ModelSettings {
        ModelSettings {
            model: self.model.clone(),
            seq_len: self.seq_len,
            attention: self.attention.map(Into::into),
            recompute: self.recompute.map(Into::into),
            mtp: self.mtp,
        }
    }

    /// The model and its FLOP options (`calc`, `plan`), or the first problem in flag words.
    pub fn resolve(&self) -> anyhow::Result<(NamedModel, FlopOptions)> {
        resolve::model(&self.settings()).map_err(|problems| match problems.into_iter().next() {
            Some(problem) => problem.into_flag_error(),
            None => anyhow::anyhow!("internal: the model was refused without a reason"),
        })
    }
}

impl HardwareArgs {
    /// The flags as [`resolve::hardware`] takes them.
    pub fn settings(&self) -> HardwareSettings {
        HardwareSettings {
            gpu: self.gpu.clone(),
            dtype: self.dtype.clone(),
            gpus: self.gpus,
            peak_tflops: self.peak_tflops,
        }
    }

    /// The hardware (`calc`, `plan`); `None` when neither `--gpu` nor `--peak-tflops` was given,
    /// for a report without MFU.
    pub fn resolve(&self) -> anyhow::Result<Option<Hardware>> {
        if self.gpu.is_none() && self.peak_tflops.is_none() {
            return Ok(None);
        }
        resolve::hardware(&self.settings())
            .map(Some)
            .map_err(resolve::Problem::into_flag_error)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttentionArg {
    Full,
    Causal,
}

impl From<AttentionArg> for AttentionCounting {
    fn from(arg: AttentionArg) -> Self {
        match arg {
            AttentionArg::Full => AttentionCounting::Full,
            AttentionArg::Causal => AttentionCounting::Causal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecomputeArg {
    None,
    Selective,
    Full,
}

impl From<RecomputeArg> for Recompute {
    fn from(arg: RecomputeArg) -> Self {
        match arg {
            RecomputeArg::None => Recompute::None,
            RecomputeArg::Selective => Recompute::Selective,
            RecomputeArg::Full => Recompute::Full,
        }
    }
}
