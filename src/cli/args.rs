//! Flags shared by the subcommands that describe a model and its hardware.

use clap::{Args, ValueEnum};

use crate::accounting::flops::{AttentionCounting, Recompute};

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
