//! Owns the table of dense peak tensor FLOP/s per precision for real accelerators, and the lookup
//! from the names that `nvidia-smi`, `rocm-smi`, `hl-smi` and JAX print to an entry of that table.
//!
//! Every figure is a vendor peak for one device as the operating system sees it (one GPU, one
//! MI250X graphics compute die, one TPU chip), in FLOP/s in base units, and always the dense rate.
//! Vendors often print rates "with sparsity", which assume 2:4 structured sparsity that training
//! jobs almost never use; those figures are halved here, because dividing by a sparse peak would
//! make every reported MFU look half as good as it is. A precision a chip has no published dense
//! figure for is absent, and asking for it is an error rather than a quiet fallback to another
//! precision, because a wrong denominator gives a plausible but wrong MFU.

use std::fmt;
use std::str::FromStr;

/// The precision of the matrix multiplications a job runs, which selects the peak to divide by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    Fp32,
    Tf32,
    Fp16,
    Bf16,
    Fp8,
    Fp4,
}

impl Dtype {
    /// Every precision, from widest to narrowest, so listings read in a stable order.
    pub const ALL: [Dtype; 6] = [
        Dtype::Fp32,
        Dtype::Tf32,
        Dtype::Fp16,
        Dtype::Bf16,
        Dtype::Fp8,
        Dtype::Fp4,
    ];

    /// The canonical lowercase name, which is also what configuration files and labels use.
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Fp32 => "fp32",
            Dtype::Tf32 => "tf32",
            Dtype::Fp16 => "fp16",
            Dtype::Bf16 => "bf16",
            Dtype::Fp8 => "fp8",
            Dtype::Fp4 => "fp4",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Dtype {
    type Err = GpuError;

    /// Accepts the canonical names in any case, plus the spellings PyTorch, JAX and NumPy use, so
    /// that a dtype copied from a training config parses without editing.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let lowered = value.trim().to_lowercase();
        // Framework prefixes carry no information about the precision, so they are dropped.
        let bare = ["torch.", "jnp.", "np.", "tf."]
            .iter()
            .find_map(|prefix| lowered.strip_prefix(prefix))
            .unwrap_or(&lowered);
        let key: String = bare
            .chars()
            .map(|c| if c == '-' || c == ' ' { '_' } else { c })
            .collect();
        let dtype = match key.as_str() {
            "fp32" | "float32" | "f32" => Some(Dtype::Fp32),
            "tf32" | "tensorfloat32" | "tensorfloat_32" | "tfloat32" => Some(Dtype::Tf32),
            "fp16" | "float16" | "f16" | "half" => Some(Dtype::Fp16),
            "bf16" | "bfloat16" => Some(Dtype::Bf16),
            // Both FP8 encodings run at the same tensor-core rate, so they share one peak.
            "fp8" | "float8" | "f8" | "e4m3" | "e5m2" | "fp8_e4m3" | "fp8_e5m2" | "float8_e4m3"
            | "float8_e5m2" | "float8_e4m3fn" | "float8_e4m3fnuz" | "float8_e5m2fnuz" => {
                Some(Dtype::Fp8)
            }
            "fp4" | "float4" | "f4" | "e2m1" | "fp4_e2m1" | "float4_e2m1" | "float4_e2m1fn_x2"
            | "nvfp4" | "mxfp4" => Some(Dtype::Fp4),
            _ => None,
        };
        dtype.ok_or_else(|| GpuError::UnknownDtype {
            value: value.to_string(),
        })
    }
}

/// What can go wrong when turning a device name and a precision into a peak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuError {
    /// The name matched no id or alias exactly.
    #[error(
        "unknown gpu {name:?}{}; known ids: {known}; pass one of these ids or the exact device name that nvidia-smi, rocm-smi or hl-smi prints",
        did_you_mean(.suggestion)
    )]
    UnknownGpu {
        name: String,
        suggestion: Option<String>,
        known: String,
    },
    /// The chip has no published dense peak for the requested precision.
    #[error(
        "gpu {gpu:?} has no dense {dtype} peak in the table; it has {available}; set the job's precision to one of those"
    )]
    UnsupportedDtype {
        gpu: String,
        dtype: Dtype,
        available: String,
    },
    /// The precision name is not one this module knows.
    #[error("unknown precision {value:?}; use one of {}", dtype_names())]
    UnknownDtype { value: String },
}

/// Dense peak FLOP/s of one device for each precision; `None` where the chip has no such rate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PeakFlops {
    pub fp32: Option<f64>,
    pub tf32: Option<f64>,
    pub fp16: Option<f64>,
    pub bf16: Option<f64>,
    pub fp8: Option<f64>,
    pub fp4: Option<f64>,
}

impl PeakFlops {
    /// The peak for one precision, if the chip has it.
    pub fn get(&self, dtype: Dtype) -> Option<f64> {
        match dtype {
            Dtype::Fp32 => self.fp32,
            Dtype::Tf32 => self.tf32,
            Dtype::Fp16 => self.fp16,
            Dtype::Bf16 => self.bf16,
            Dtype::Fp8 => self.fp8,
            Dtype::Fp4 => self.fp4,
        }
    }
}

/// One accelerator model and its dense peaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuSpec {
    /// Canonical lowercase id, e.g. "h100-sxm".
    pub id: &'static str,
    /// Human name, e.g. "NVIDIA H100 SXM5 80GB".
    pub name: &'static str,
    /// Names that device tools print for this part, matched exactly after normalisation.
    pub aliases: &'static [&'static str],
    pub vendor: &'static str,
    /// Dense (never 2:4 sparse) peaks of a single device, in FLOP/s.
    pub peak_flops_per_second: PeakFlops,
    /// The device memory of one device, in bytes. Vendors' memory "GB" are binary (an H100's
    /// 80 GB of HBM3 is five 16 GiB stacks, of which nvidia-smi reports 81,559 MiB), so a figure
    /// of N GB is N GiB here. Where one entry covers two memory sizes, the smaller one is given,
    /// so that a plan made with it fits on either part.
    pub memory_bytes: u64,
    /// Peak DRAM (HBM or GDDR) bandwidth of one device, in bytes per second; vendors' TB/s are
    /// decimal. Where one entry covers two memory sizes, the smaller part's bandwidth is given.
    pub memory_bandwidth_bytes_per_second: f64,
    /// The vendor document the memory size and bandwidth come from.
    pub memory_source: &'static str,
    /// The vendor document the figures come from.
    pub source: &'static str,
    /// What a reader needs to apply the figures correctly, or "" when nothing is special.
    pub note: &'static str,
}

impl GpuSpec {
    /// The dense peak for `dtype`, in FLOP/s.
    ///
    /// # Errors
    ///
    /// [`GpuError::UnsupportedDtype`], naming the chip, the precision and the precisions it has,
    /// when the chip has no dense peak for `dtype`.
    pub fn peak(&self, dtype: Dtype) -> Result<f64, GpuError> {
        self.peak_flops_per_second
            .get(dtype)
            .ok_or_else(|| GpuError::UnsupportedDtype {
                gpu: self.id.to_string(),
                dtype,
                available: self
                    .available_dtypes()
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The device memory of one device, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes
    }

    /// Peak DRAM bandwidth of one device, in bytes per second.
    pub fn memory_bandwidth_bytes_per_second(&self) -> f64 {
        self.memory_bandwidth_bytes_per_second
    }

    /// The precisions this chip has a peak for, in the order of [`Dtype::ALL`].
    pub fn available_dtypes(&self) -> Vec<Dtype> {
        Dtype::ALL
            .into_iter()
            .filter(|dtype| self.peak_flops_per_second.get(*dtype).is_some())
            .collect()
    }
}

/// Every known accelerator, in a stable order.
pub fn all() -> &'static [GpuSpec] {
    GPUS
}

/// Finds the chip whose id, human name or alias equals `name` after normalisation.
///
/// Normalisation lowercases, collapses runs of whitespace and treats '_' as '-'. Nothing looser is
/// done: a family name such as "A100" covers parts with different peaks, and substring matching
/// would turn "NVIDIA L40S" into the much slower L4, so anything inexact is an error that suggests
/// the close candidates instead.
///
/// # Errors
///
/// [`GpuError::UnknownGpu`] when nothing matches exactly; it lists every known id and, where an id
/// shares the input's start or is a few edits away, suggests it.
pub fn find(name: &str) -> Result<&'static GpuSpec, GpuError> {
    let wanted = normalise(name);
    if !wanted.is_empty() {
        let found = all()
            .iter()
            .find(|spec| keys(spec).any(|key| normalise(key) == wanted));
        if let Some(spec) = found {
            return Ok(spec);
        }
    }
    Err(GpuError::UnknownGpu {
        name: name.to_string(),
        suggestion: suggest(&wanted),
        known: all()
            .iter()
            .map(|spec| spec.id)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(ids) => format!(" (did you mean {ids}?)"),
        None => String::new(),
    }
}

fn dtype_names() -> String {
    Dtype::ALL
        .iter()
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn normalise(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .replace('_', "-")
}

fn keys(spec: &GpuSpec) -> impl Iterator<Item = &'static str> {
    [spec.id, spec.name]
        .into_iter()
        .chain(spec.aliases.iter().copied())
}

/// A prefix shared by more chips than this says little, so it yields no suggestion.
const MAX_PREFIX_SUGGESTIONS: usize = 4;

/// Inputs longer than this are not compared by edit distance, which grows with their length.
const MAX_EDIT_DISTANCE_INPUT: usize = 128;

/// Proposes the ids a user most likely meant, or `None` when nothing is close.
///
/// A name with words appended to a known name (such as "NVIDIA H200 NVL") is deliberately not
/// matched by its known start, because the extra words usually denote a different variant.
fn suggest(wanted: &str) -> Option<String> {
    if wanted.chars().count() < 2 {
        return None;
    }
    let candidates: Vec<(&'static str, String)> = all()
        .iter()
        .flat_map(|spec| keys(spec).map(move |key| (spec.id, normalise(key))))
        .collect();

    // A family name such as "a100" or "nvidia a100" is the start of each variant's names. The
    // boundary check keeps "nvidia h20" from counting as the start of "nvidia h200", a different
    // part, while still letting a near miss be caught by edit distance below.
    let mut ids = ids_where(&candidates, |key| {
        key.strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with(|c: char| !c.is_alphanumeric()))
    });
    if ids.len() > MAX_PREFIX_SUGGESTIONS {
        ids.clear();
    }
    if ids.is_empty() && wanted.chars().count() <= MAX_EDIT_DISTANCE_INPUT {
        ids = closest_by_edit_distance(&candidates, wanted);
    }
    (!ids.is_empty()).then(|| join_alternatives(&ids))
}

fn ids_where(
    candidates: &[(&'static str, String)],
    matches: impl Fn(&str) -> bool,
) -> Vec<&'static str> {
    let mut ids = Vec::new();
    for (id, key) in candidates {
        if matches(key) && !ids.contains(id) {
            ids.push(*id);
        }
    }
    ids
}

/// The ids whose names are fewest edits away, counting only names within a quarter of their length
/// and at most three edits, so that a typo is caught but an unrelated part is not proposed.
fn closest_by_edit_distance(
    candidates: &[(&'static str, String)],
    wanted: &str,
) -> Vec<&'static str> {
    let mut best = usize::MAX;
    let mut ids = Vec::new();
    for (id, key) in candidates {
        let distance = edit_distance(wanted, key);
        if distance > 3 || distance * 4 > key.chars().count() {
            continue;
        }
        if distance < best {
            best = distance;
            ids.clear();
        }
        if distance == best && !ids.contains(id) {
            ids.push(*id);
        }
    }
    ids
}

/// Levenshtein distance over characters, kept in two rows because the strings are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current[j + 1] = substitution.min(deletion).min(insertion);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

fn join_alternatives(ids: &[&str]) -> String {
    match ids.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// One gibibyte: vendors' memory capacities are printed in binary gigabytes.
const GIB: u64 = 1 << 30;

// The table. Each entry says where its figures come from; the comment above it names the
// independent public table it was checked against, and any arithmetic done on the vendor figures.
static GPUS: &[GpuSpec] = &[
    // Checked against PyTorch Lightning's throughput table (15.7e12 / 125e12). Volta tensor cores
    // take FP16 inputs only, so BF16, TF32 and FP8 are absent.
    GpuSpec {
        id: "v100-sxm",
        name: "NVIDIA Tesla V100 SXM2",
        aliases: &["Tesla V100-SXM2-16GB", "Tesla V100-SXM2-32GB"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(15.7e12),
            tf32: None,
            fp16: Some(125e12),
            bf16: None,
            fp8: None,
            fp4: None,
        },
        memory_bytes: 16 * GIB,
        memory_bandwidth_bytes_per_second: 900e9,
        memory_source: "NVIDIA Tesla V100 datasheet (2020): 16 or 32 GB HBM2 at 900 GB/s; the smaller 16 GB module is given",
        source: "NVIDIA Tesla V100 GPU datasheet (2020, volta-v100-datasheet-update-us-1165301-r5)",
        note: "",
    },
    // Checked against PyTorch Lightning's throughput table (14e12 / 112e12).
    GpuSpec {
        id: "v100-pcie",
        name: "NVIDIA Tesla V100 PCIe",
        aliases: &["Tesla V100-PCIE-16GB", "Tesla V100-PCIE-32GB"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(14e12),
            tf32: None,
            fp16: Some(112e12),
            bf16: None,
            fp8: None,
            fp4: None,
        },
        memory_bytes: 16 * GIB,
        memory_bandwidth_bytes_per_second: 900e9,
        memory_source: "NVIDIA Tesla V100 datasheet (2020): 16 or 32 GB HBM2 at 900 GB/s; the smaller 16 GB card is given",
        source: "NVIDIA Tesla V100 GPU datasheet (2020, volta-v100-datasheet-update-us-1165301-r5)",
        note: "the V100S PCIe card is faster and is not covered by this entry",
    },
    // The datasheet prints TF32 312 and BF16/FP16 624 with sparsity; halved here. Checked against
    // nanoGPT and torchtitan (312e12 BF16) and the ml-engineering accelerator table.
    GpuSpec {
        id: "a100-sxm",
        name: "NVIDIA A100 SXM4",
        aliases: &[
            "NVIDIA A100-SXM4-40GB",
            "NVIDIA A100-SXM4-80GB",
            "A100-SXM4-40GB",
            "A100-SXM4-80GB",
            "A100-SXM-80GB",
        ],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(19.5e12),
            tf32: Some(156e12),
            fp16: Some(312e12),
            bf16: Some(312e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 40 * GIB,
        memory_bandwidth_bytes_per_second: 1555e9,
        memory_source: "NVIDIA A100 datasheet (2021): 40 GB HBM2 at 1,555 GB/s or 80 GB HBM2e at 2,039 GB/s; the smaller 40 GB module is given",
        source: "NVIDIA A100 Tensor Core GPU datasheet (2021, nvidia-a100-datasheet-us-nvidia-1758950-r4)",
        note: "the 40GB and 80GB modules share these peaks",
    },
    // The datasheet lists the PCIe cards with the same peaks as the SXM4 modules; checked against
    // the ml-engineering accelerator table, which notes the same.
    GpuSpec {
        id: "a100-pcie",
        name: "NVIDIA A100 PCIe",
        aliases: &[
            "NVIDIA A100-PCIE-40GB",
            "NVIDIA A100 80GB PCIe",
            "A100-PCIE-40GB",
        ],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(19.5e12),
            tf32: Some(156e12),
            fp16: Some(312e12),
            bf16: Some(312e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 40 * GIB,
        memory_bandwidth_bytes_per_second: 1555e9,
        memory_source: "NVIDIA A100 datasheet (2021): 40 GB HBM2 at 1,555 GB/s or 80 GB HBM2e at 1,935 GB/s; the smaller 40 GB card is given",
        source: "NVIDIA A100 Tensor Core GPU datasheet (2021, nvidia-a100-datasheet-us-nvidia-1758950-r4)",
        note: "the card's lower power limit makes these peaks harder to sustain than on SXM4",
    },
    // The datasheet prints TF32 125 and BF16/FP16 250 with sparsity; halved here. Checked against
    // PyTorch Lightning's table, whose A10-datasheet row reads 31.2e12 / 125e12.
    GpuSpec {
        id: "a10",
        name: "NVIDIA A10",
        aliases: &["NVIDIA A10"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(31.2e12),
            tf32: Some(62.5e12),
            fp16: Some(125e12),
            bf16: Some(125e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 24 * GIB,
        memory_bandwidth_bytes_per_second: 600e9,
        memory_source: "NVIDIA A10 datasheet (2021): 24 GB GDDR6 at 600 GB/s",
        source: "NVIDIA A10 Tensor Core GPU datasheet (2021)",
        note: "the AWS A10G is a different part and is not covered by this entry",
    },
    // The datasheet prints only sparse tensor figures (TF32 120, BF16/FP16 242, FP8 485); halved
    // here. Checked against a public spec compilation that lists 60 / 121 / 242 dense.
    GpuSpec {
        id: "l4",
        name: "NVIDIA L4",
        aliases: &["NVIDIA L4"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(30.3e12),
            tf32: Some(60e12),
            fp16: Some(121e12),
            bf16: Some(121e12),
            fp8: Some(242.5e12),
            fp4: None,
        },
        memory_bytes: 24 * GIB,
        memory_bandwidth_bytes_per_second: 300e9,
        memory_source: "NVIDIA L4 datasheet (2023): 24 GB GDDR6 at 300 GB/s",
        source: "NVIDIA L4 Tensor Core GPU datasheet (2023)",
        note: "",
    },
    // The datasheet prints dense and sparse side by side (TF32 183 | 366, BF16 362.05 | 733,
    // FP8 733 | 1466); the dense column is used. Checked against torchtitan (362e12 BF16) and the
    // ml-engineering accelerator table.
    GpuSpec {
        id: "l40s",
        name: "NVIDIA L40S",
        aliases: &["NVIDIA L40S"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(91.6e12),
            tf32: Some(183e12),
            fp16: Some(362.05e12),
            bf16: Some(362.05e12),
            fp8: Some(733e12),
            fp4: None,
        },
        memory_bytes: 48 * GIB,
        memory_bandwidth_bytes_per_second: 864e9,
        memory_source: "NVIDIA L40S datasheet (2023): 48 GB GDDR6 at 864 GB/s",
        source: "NVIDIA L40S GPU datasheet (2023)",
        note: "the L40 without the S is a slower part and is not covered by this entry",
    },
    // The whitepaper gives dense figures to one decimal; the datasheet's 989 / 1979 / 3958 are
    // sparse and rounded. Checked against torchtitan (989e12 BF16) and PyTorch Lightning
    // (1.979e15 / 2).
    GpuSpec {
        id: "h100-sxm",
        name: "NVIDIA H100 SXM5 80GB",
        aliases: &["NVIDIA H100 80GB HBM3"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(66.9e12),
            tf32: Some(494.7e12),
            fp16: Some(989.4e12),
            bf16: Some(989.4e12),
            fp8: Some(1978.9e12),
            fp4: None,
        },
        memory_bytes: 80 * GIB,
        memory_bandwidth_bytes_per_second: 3.35e12,
        memory_source: "NVIDIA H100 datasheet (2023), SXM column: 80 GB HBM3 at 3.35 TB/s",
        source: "NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022), H100 SXM5 column",
        note: "",
    },
    // The datasheet prints TF32 756, BF16/FP16 1513 and FP8 3026 with sparsity; halved here.
    // Checked against torchtitan (756e12 BF16) and PyTorch Lightning (1.513e15 / 2).
    GpuSpec {
        id: "h100-pcie",
        name: "NVIDIA H100 PCIe 80GB",
        aliases: &["NVIDIA H100 PCIe"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(51e12),
            tf32: Some(378e12),
            fp16: Some(756.5e12),
            bf16: Some(756.5e12),
            fp8: Some(1513e12),
            fp4: None,
        },
        memory_bytes: 80 * GIB,
        memory_bandwidth_bytes_per_second: 2.0e12,
        memory_source: "NVIDIA H100 datasheet (2023), PCIe column: 80 GB HBM2e at 2 TB/s",
        source: "NVIDIA H100 Tensor Core GPU datasheet (2023), H100 PCIe column",
        note: "",
    },
    // The per-GPU datasheet prints TF32 835, BF16/FP16 1671 and FP8 3341 with sparsity; halved
    // here. Checked against torchtitan (835e12 BF16).
    GpuSpec {
        id: "h100-nvl",
        name: "NVIDIA H100 NVL 94GB",
        aliases: &["NVIDIA H100 NVL"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(60e12),
            tf32: Some(417.5e12),
            fp16: Some(835.5e12),
            bf16: Some(835.5e12),
            fp8: Some(1670.5e12),
            fp4: None,
        },
        memory_bytes: 94 * GIB,
        memory_bandwidth_bytes_per_second: 3.9e12,
        memory_source: "NVIDIA H100 datasheet (2024), NVL column: 94 GB HBM3 at 3.9 TB/s per GPU",
        source: "NVIDIA H100 Tensor Core GPU datasheet (2024), H100 NVL column",
        note: "per GPU; early datasheets printed figures for an NVLink-bridged pair, twice these",
    },
    // The H200 datasheet prints the H100 SXM5 sparse figures (989 / 1979 / 3958) because the
    // compute is the same GH100 configuration, so the whitepaper's exact dense values are used.
    // Checked against torchtitan (989e12 BF16) and the ml-engineering accelerator table.
    GpuSpec {
        id: "h200",
        name: "NVIDIA H200 SXM 141GB",
        aliases: &["NVIDIA H200"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(66.9e12),
            tf32: Some(494.7e12),
            fp16: Some(989.4e12),
            bf16: Some(989.4e12),
            fp8: Some(1978.9e12),
            fp4: None,
        },
        memory_bytes: 141 * GIB,
        memory_bandwidth_bytes_per_second: 4.8e12,
        memory_source: "NVIDIA H200 datasheet (2024), SXM column: 141 GB HBM3e at 4.8 TB/s",
        source: "NVIDIA H200 Tensor Core GPU datasheet (2024), H200 SXM column; dense values from the NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022)",
        note: "SXM part; the H200 NVL card (\"NVIDIA H200 NVL\") has lower clocks and is not covered",
    },
    // The H800 SXM5 keeps the H100 SXM5 tensor configuration and clocks and cuts only NVLink
    // bandwidth and FP64, so it takes the same dense figures. Checked against NVIDIA's
    // aiconfigurator, which models it with H100 SXM compute (989 BF16 / 1979 FP8).
    GpuSpec {
        id: "h800",
        name: "NVIDIA H800 SXM5 80GB",
        aliases: &["NVIDIA H800"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(66.9e12),
            tf32: Some(494.7e12),
            fp16: Some(989.4e12),
            bf16: Some(989.4e12),
            fp8: Some(1978.9e12),
            fp4: None,
        },
        memory_bytes: 80 * GIB,
        memory_bandwidth_bytes_per_second: 3.35e12,
        memory_source: "NVIDIA H800 SXM5 product brief: 80 GB HBM3 at 3.35 TB/s, as the H100 SXM5",
        source: "NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022), H100 SXM5 column, whose SM count and clocks the H800 SXM5 shares",
        note: "SXM5 part; the H800 PCIe card (\"NVIDIA H800 PCIe\") is slower and is not covered",
    },
    // The datasheet's per-GPU HGX B200 column prints FP4 18, FP8 9, BF16/FP16 4.5 and TF32 2.2
    // PFLOPS with sparsity; halved here. TF32 runs at exactly half the BF16 rate, so the printed
    // 2.2 is 2.25 rounded and the dense value is 1.125e15. Checked against torchtitan (2.25e15
    // BF16), torchao's roofline table (2.25e15 / 4.5e15 / 9e15) and the ml-engineering table.
    GpuSpec {
        id: "b200",
        name: "NVIDIA B200 (HGX, 1000 W)",
        aliases: &["NVIDIA B200"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(75e12),
            tf32: Some(1.125e15),
            fp16: Some(2.25e15),
            bf16: Some(2.25e15),
            fp8: Some(4.5e15),
            fp4: Some(9e15),
        },
        memory_bytes: 180 * GIB,
        memory_bandwidth_bytes_per_second: 7.7e12,
        memory_source: "NVIDIA Blackwell datasheet (2024), HGX B200 individual GPU: 180 GB HBM3e at 7.7 TB/s (HGX B200 board: 1.4 TB, 62 TB/s)",
        source: "NVIDIA Blackwell datasheet (2024), HGX B200 individual GPU column; https://nvdam.widen.net/s/wwnsxrhm2w/blackwell-datasheet-3384703",
        note: "",
    },
    // The datasheet's per-GPU GB200 NVL72 column prints FP4 20, FP8 10, BF16/FP16 5 and TF32 2.5
    // PFLOPS with sparsity; halved here. Checked against the ml-engineering accelerator table.
    GpuSpec {
        id: "gb200",
        name: "NVIDIA GB200 Blackwell GPU",
        aliases: &["NVIDIA GB200"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(80e12),
            tf32: Some(1.25e15),
            fp16: Some(2.5e15),
            bf16: Some(2.5e15),
            fp8: Some(5e15),
            fp4: Some(10e15),
        },
        memory_bytes: 186 * GIB,
        memory_bandwidth_bytes_per_second: 8e12,
        memory_source: "NVIDIA GB200 NVL72 datasheet (2024): 13.4 TB HBM3e at 576 TB/s for 72 GPUs, 186 GB at 8 TB/s each",
        source: "NVIDIA Blackwell datasheet (2024), GB200 NVL72 individual GPU column; https://nvdam.widen.net/s/wwnsxrhm2w/blackwell-datasheet-3384703",
        note: "per Blackwell GPU: a GB200 superchip carries two, and nvidia-smi lists each one",
    },
    // The data sheet gives per-package figures (FP32 matrix 95.7, FP16/BF16 383 TFLOPS); they are
    // halved here because ROCm exposes each of the two dies as its own device. Checked against
    // torchtitan (191.5e12 BF16 per GCD). CDNA 2 has no TF32 or FP8 matrix support.
    GpuSpec {
        id: "mi250x",
        name: "AMD Instinct MI250X (one GCD)",
        aliases: &["AMD Instinct MI250X"],
        vendor: "AMD",
        peak_flops_per_second: PeakFlops {
            fp32: Some(47.85e12),
            tf32: None,
            fp16: Some(191.5e12),
            bf16: Some(191.5e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 64 * GIB,
        memory_bandwidth_bytes_per_second: 1.6384e12,
        memory_source: "AMD Instinct MI250X data sheet (2021): 128 GB HBM2e at 3.2768 TB/s per package, halved per GCD",
        source: "AMD Instinct MI250X accelerator data sheet (2021)",
        note: "per GCD: an MI250X package has two, and ROCm shows each as its own device",
    },
    // The data sheet prints dense figures and doubles them for sparsity; the dense ones are used.
    // FP32 is the matrix rate, which equals the vector rate on CDNA 3. Checked against torchtitan
    // (1300e12 BF16) and the ml-engineering table, which derives 1307.4 from 2100 MHz x 1216 cores.
    GpuSpec {
        id: "mi300x",
        name: "AMD Instinct MI300X",
        aliases: &["AMD Instinct MI300X", "AMD Instinct MI300X VF"],
        vendor: "AMD",
        peak_flops_per_second: PeakFlops {
            fp32: Some(163.4e12),
            tf32: Some(653.7e12),
            fp16: Some(1307.4e12),
            bf16: Some(1307.4e12),
            fp8: Some(2614.9e12),
            fp4: None,
        },
        memory_bytes: 192 * GIB,
        memory_bandwidth_bytes_per_second: 5.3e12,
        memory_source: "AMD Instinct MI300X data sheet (2023): 192 GB HBM3 at 5.3 TB/s",
        source: "AMD Instinct MI300X accelerator data sheet (2023)",
        note: "the VF alias is the SR-IOV virtual function some clouds expose; it is the whole GPU",
    },
    // The MI325X keeps the MI300X compute die and clocks and changes only the memory. Checked
    // against torchtitan (1300e12 BF16) and the ml-engineering table.
    GpuSpec {
        id: "mi325x",
        name: "AMD Instinct MI325X",
        aliases: &["AMD Instinct MI325X"],
        vendor: "AMD",
        peak_flops_per_second: PeakFlops {
            fp32: Some(163.4e12),
            tf32: Some(653.7e12),
            fp16: Some(1307.4e12),
            bf16: Some(1307.4e12),
            fp8: Some(2614.9e12),
            fp4: None,
        },
        memory_bytes: 256 * GIB,
        memory_bandwidth_bytes_per_second: 6e12,
        memory_source: "AMD Instinct MI325X data sheet (2024): 256 GB HBM3E at 6 TB/s",
        source: "AMD Instinct MI325X accelerator data sheet (2024)",
        note: "",
    },
    // Intel publishes only the matrix-engine BF16 and FP8 peaks for Gaudi 2. Checked against the
    // ml-engineering table (432 / 865, from 2 MMEs of 256x256 MACs at 1650 MHz).
    GpuSpec {
        id: "gaudi2",
        name: "Intel Gaudi 2 (HL-225)",
        aliases: &["HL-225", "Gaudi2", "Gaudi 2", "Intel Gaudi 2", "Intel Gaudi2"],
        vendor: "Intel",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: Some(432e12),
            fp8: Some(865e12),
            fp4: None,
        },
        memory_bytes: 96 * GIB,
        memory_bandwidth_bytes_per_second: 2.45e12,
        memory_source: "Intel Gaudi 2 product brief (2022): 96 GB HBM2E at 2.45 TB/s",
        source: "Intel Gaudi 3 AI Accelerator white paper (2024), Gaudi 2 comparison; Intel Hot Chips 2024 Gaudi 3 presentation",
        note: "Intel publishes no FP32, TF32 or FP16 peaks for Gaudi 2, so those are left out rather than guessed",
    },
    // Intel's white paper and Hot Chips 2024 slides give 1835 TFLOPS for BF16 and FP8 matrix work.
    // Checked against the ml-engineering table, which notes that shipping parts run the matrix
    // engines at 1600 MHz rather than 1750 MHz and so peak near 1677 TFLOPS.
    GpuSpec {
        id: "gaudi3",
        name: "Intel Gaudi 3 (HL-325L OAM)",
        aliases: &["HL-325L", "Gaudi3", "Gaudi 3", "Intel Gaudi 3", "Intel Gaudi3"],
        vendor: "Intel",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: Some(1835e12),
            fp8: Some(1835e12),
            fp4: None,
        },
        memory_bytes: 128 * GIB,
        memory_bandwidth_bytes_per_second: 3.7e12,
        memory_source: "Intel Gaudi 3 AI Accelerator white paper (2024): 128 GB HBM2E at 3.7 TB/s",
        source: "Intel Gaudi 3 AI Accelerator white paper (2024); Intel Hot Chips 2024 Gaudi 3 presentation",
        note: "vendor peak at a 1750 MHz matrix-engine clock; parts held at 1600 MHz peak near 1677e12",
    },
    // Checked against the PaLM paper, which used 275e12 for its MFU, and PyTorch Lightning's TPU
    // table. The matrix units take BF16 inputs, and FP32 matmuls are decomposed into BF16 passes,
    // so only BF16 has a peak.
    GpuSpec {
        id: "tpu-v4",
        name: "Google Cloud TPU v4",
        aliases: &["TPU v4"],
        vendor: "Google",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: Some(275e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 32 * GIB,
        memory_bandwidth_bytes_per_second: 1.2e12,
        memory_source: "Google Cloud TPU v4 documentation: 32 GiB HBM2 at 1,200 GB/s per chip",
        source: "Google Cloud TPU v4 system architecture documentation; Jouppi et al., TPU v4 (ISCA 2023)",
        note: "per chip",
    },
    // Checked against PyTorch Lightning's TPU table ("v5litepod": 197e12) and the ml-engineering
    // table. Its integer rate is INT8, not FP8, so FP8 is absent.
    GpuSpec {
        id: "tpu-v5e",
        name: "Google Cloud TPU v5e",
        aliases: &["TPU v5 lite", "TPU v5e", "v5litepod"],
        vendor: "Google",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: Some(197e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 16 * GIB,
        memory_bandwidth_bytes_per_second: 819e9,
        memory_source: "Google Cloud TPU v5e documentation: 16 GiB HBM2 at 819 GB/s per chip",
        source: "Google Cloud TPU v5e documentation (2023)",
        note: "per chip; JAX reports it as \"TPU v5 lite\"",
    },
    // Checked against the ml-engineering table (459 BF16, 918 INT8).
    GpuSpec {
        id: "tpu-v5p",
        name: "Google Cloud TPU v5p",
        aliases: &["TPU v5", "TPU v5p"],
        vendor: "Google",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: Some(459e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 95 * GIB,
        memory_bandwidth_bytes_per_second: 2.765e12,
        memory_source: "Google Cloud TPU v5p documentation: 95 GiB HBM2e at 2,765 GB/s per chip",
        source: "Google Cloud TPU v5p documentation (2023)",
        note: "per chip; JAX reports it as \"TPU v5\"",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn spec(id: &str) -> &'static GpuSpec {
        match find(id) {
            Ok(spec) => spec,
            Err(err) => panic!("{id} should be in the table: {err}"),
        }
    }

    /// Returns the suggestion, the known-id list and the message of an unknown-gpu error.
    fn unknown_gpu(name: &str) -> (Option<String>, String, String) {
        let err = match find(name) {
            Ok(spec) => panic!("{name:?} should not resolve, but became {}", spec.id),
            Err(err) => err,
        };
        let message = err.to_string();
        match err {
            GpuError::UnknownGpu {
                suggestion, known, ..
            } => (suggestion, known, message),
            other => panic!("{name:?} gave the wrong error: {other}"),
        }
    }

    #[test]
    fn every_id_name_and_alias_resolves_to_its_own_chip() {
        for gpu in all() {
            for key in keys(gpu) {
                assert_eq!(spec(key).id, gpu.id, "{key:?}");
            }
        }
    }

    #[test]
    fn tool_output_names_resolve_exactly() {
        let cases = [
            ("NVIDIA A100-SXM4-80GB", "a100-sxm"),
            ("NVIDIA A100-SXM4-40GB", "a100-sxm"),
            ("NVIDIA A100-PCIE-40GB", "a100-pcie"),
            ("NVIDIA A100 80GB PCIe", "a100-pcie"),
            ("NVIDIA H100 80GB HBM3", "h100-sxm"),
            ("NVIDIA H100 PCIe", "h100-pcie"),
            ("NVIDIA H100 NVL", "h100-nvl"),
            ("NVIDIA H200", "h200"),
            ("NVIDIA H800", "h800"),
            ("NVIDIA B200", "b200"),
            ("NVIDIA GB200", "gb200"),
            ("Tesla V100-SXM2-32GB", "v100-sxm"),
            ("Tesla V100-PCIE-16GB", "v100-pcie"),
            ("NVIDIA A10", "a10"),
            ("NVIDIA L4", "l4"),
            ("NVIDIA L40S", "l40s"),
            ("AMD Instinct MI250X", "mi250x"),
            ("AMD Instinct MI300X", "mi300x"),
            ("HL-225", "gaudi2"),
            ("HL-325L", "gaudi3"),
            ("TPU v5 lite", "tpu-v5e"),
            ("TPU v5", "tpu-v5p"),
        ];
        for (name, id) in cases {
            assert_eq!(spec(name).id, id, "{name:?}");
        }
    }

    #[test]
    fn normalisation_covers_case_whitespace_and_underscores_only() {
        assert_eq!(spec("  nvidia   h100\t80gb HBM3 ").id, "h100-sxm");
        assert_eq!(spec("H100_SXM").id, "h100-sxm");
        assert_eq!(spec("TPU_V5E").id, "tpu-v5e");
        assert!(find("NVIDIA H100 80GB HBM3e").is_err());
        assert!(find("NVIDIA-A10").is_err());
    }

    #[test]
    fn l40s_never_becomes_l4_and_near_names_do_not_resolve() {
        assert_eq!(spec("NVIDIA L40S").id, "l40s");
        assert_eq!(spec("nvidia l40s").id, "l40s");
        assert_eq!(spec("l40s").id, "l40s");
        assert_eq!(spec("NVIDIA L4 ").id, "l4");
        let near_misses = [
            "NVIDIA L40",
            "NVIDIA L4S",
            "NVIDIA A10G",
            "NVIDIA H200 NVL",
            "NVIDIA H800 PCIe",
            "NVIDIA H20",
            "AMD Instinct MI250X / MI250",
            "TPU v4 lite",
        ];
        for near in near_misses {
            let (_, _, message) = unknown_gpu(near);
            assert!(message.contains(&format!("{near:?}")), "{message}");
        }
        let (suggestion, _, _) = unknown_gpu("NVIDIA L40");
        assert_eq!(suggestion.as_deref(), Some("l4 or l40s"));
    }

    #[test]
    fn unknown_name_lists_known_ids_and_suggests_the_close_one() {
        let (suggestion, known, message) = unknown_gpu("h100-sxn");
        assert_eq!(suggestion.as_deref(), Some("h100-sxm"));
        for gpu in all() {
            assert!(known.split(", ").any(|id| id == gpu.id), "{}", gpu.id);
            assert!(message.contains(gpu.id), "{message}");
        }
        assert!(message.contains("\"h100-sxn\""), "{message}");
        assert!(message.contains("did you mean h100-sxm?"), "{message}");
        assert_eq!(message, message.to_lowercase());

        let (suggestion, _, _) = unknown_gpu("mi300");
        assert_eq!(suggestion.as_deref(), Some("mi300x"));
        let (suggestion, _, _) = unknown_gpu("NVIDIA A100-SXM4-80G");
        assert_eq!(suggestion.as_deref(), Some("a100-sxm"));
    }

    #[test]
    fn unrelated_names_get_no_suggestion() {
        let long = "z".repeat(10_000);
        for name in [
            "",
            "   ",
            "x",
            "nvidia",
            "quantum annealer 9000",
            long.as_str(),
        ] {
            let (suggestion, known, message) = unknown_gpu(name);
            assert_eq!(suggestion, None, "{name:?}");
            assert!(known.contains("h100-sxm"));
            assert!(!message.contains("did you mean"), "{message}");
        }
    }

    #[test]
    fn family_names_are_ambiguous_and_name_every_variant() {
        for name in ["a100", "A100", "NVIDIA A100"] {
            let (suggestion, _, message) = unknown_gpu(name);
            assert_eq!(
                suggestion.as_deref(),
                Some("a100-sxm or a100-pcie"),
                "{name}"
            );
            assert!(message.contains("a100-sxm or a100-pcie"), "{message}");
        }
        let (suggestion, _, _) = unknown_gpu("h100");
        assert_eq!(
            suggestion.as_deref(),
            Some("h100-sxm, h100-pcie or h100-nvl")
        );
        let (suggestion, _, _) = unknown_gpu("gaudi");
        assert_eq!(suggestion.as_deref(), Some("gaudi2 or gaudi3"));
    }

    #[test]
    fn every_chip_has_a_half_precision_peak() {
        for gpu in all() {
            let peaks = gpu.peak_flops_per_second;
            assert!(peaks.bf16.is_some() || peaks.fp16.is_some(), "{}", gpu.id);
        }
    }

    #[test]
    fn no_sparse_figure_crept_in() {
        // Dense H100-class BF16 is just under one petaFLOP/s; the sparse figure is about two.
        assert!(spec("h100-sxm").peak(Dtype::Bf16).is_ok_and(|p| p < 1.0e15));
        assert!(spec("h200").peak(Dtype::Bf16).is_ok_and(|p| p < 1.0e15));
        assert!(spec("h100-nvl").peak(Dtype::Bf16).is_ok_and(|p| p < 1.0e15));
        assert!(spec("mi300x").peak(Dtype::Bf16).is_ok_and(|p| p < 1.5e15));
        assert!(spec("b200").peak(Dtype::Bf16).is_ok_and(|p| p < 3.0e15));
        assert!(spec("gb200").peak(Dtype::Fp4).is_ok_and(|p| p < 15.0e15));
        for gpu in all() {
            let peaks = gpu.peak_flops_per_second;
            for dtype in gpu.available_dtypes() {
                let peak = peaks.get(dtype).unwrap_or_default();
                assert!(
                    peak.is_finite() && (1e12..=2e16).contains(&peak),
                    "{}",
                    gpu.id
                );
            }
            // Tensor cores and matrix cores run TF32 at half the 16-bit rate, so a table mixing
            // a sparse figure with a dense one breaks this ratio.
            if let (Some(tf32), Some(bf16)) = (peaks.tf32, peaks.bf16) {
                let ratio = bf16 / tf32;
                assert!((1.95..=2.05).contains(&ratio), "{}: {ratio}", gpu.id);
            }
            // Narrower formats never run slower than wider ones on the same chip.
            let order = [peaks.fp32, peaks.tf32, peaks.bf16, peaks.fp8, peaks.fp4];
            let present: Vec<f64> = order.into_iter().flatten().collect();
            assert!(present.windows(2).all(|w| w[0] <= w[1]), "{}", gpu.id);
            if let (Some(fp16), Some(bf16)) = (peaks.fp16, peaks.bf16) {
                assert_eq!(fp16, bf16, "{}", gpu.id);
            }
        }
    }

    #[test]
    fn published_anchor_figures_hold() {
        // These are the figures other public tools and papers use, checked independently.
        assert_eq!(spec("a100-sxm").peak(Dtype::Bf16), Ok(312e12));
        assert_eq!(spec("h100-sxm").peak(Dtype::Bf16), Ok(989.4e12));
        assert_eq!(spec("h100-sxm").peak(Dtype::Fp8), Ok(1978.9e12));
        assert_eq!(spec("tpu-v4").peak(Dtype::Bf16), Ok(275e12));
        assert_eq!(spec("mi250x").peak(Dtype::Bf16), Ok(191.5e12));
        assert_eq!(spec("mi300x").peak(Dtype::Bf16), Ok(1307.4e12));
    }

    #[test]
    fn missing_precision_is_an_error_naming_chip_precision_and_alternatives() {
        let err = spec("a100-sxm").peak(Dtype::Fp8);
        assert_eq!(
            err,
            Err(GpuError::UnsupportedDtype {
                gpu: "a100-sxm".to_string(),
                dtype: Dtype::Fp8,
                available: "fp32, tf32, fp16, bf16".to_string(),
            })
        );
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("\"a100-sxm\""), "{message}");
        assert!(message.contains("fp8"), "{message}");
        assert!(message.contains("fp32, tf32, fp16, bf16"), "{message}");

        assert!(spec("v100-sxm").peak(Dtype::Bf16).is_err());
        assert!(spec("tpu-v4").peak(Dtype::Fp8).is_err());
        assert!(spec("h100-sxm").peak(Dtype::Fp4).is_err());
        assert!(spec("b200").peak(Dtype::Fp4).is_ok());
    }

    #[test]
    fn dtype_round_trips_and_accepts_framework_spellings() {
        for dtype in Dtype::ALL {
            assert_eq!(dtype.as_str().parse::<Dtype>(), Ok(dtype));
            assert_eq!(dtype.as_str().to_uppercase().parse::<Dtype>(), Ok(dtype));
            assert_eq!(dtype.to_string(), dtype.as_str());
        }
        let aliases = [
            ("bfloat16", Dtype::Bf16),
            ("torch.bfloat16", Dtype::Bf16),
            ("float16", Dtype::Fp16),
            ("half", Dtype::Fp16),
            ("float32", Dtype::Fp32),
            ("float8", Dtype::Fp8),
            ("e4m3", Dtype::Fp8),
            ("FP8_E4M3", Dtype::Fp8),
            ("torch.float8_e4m3fn", Dtype::Fp8),
            ("fp8-e5m2", Dtype::Fp8),
            ("nvfp4", Dtype::Fp4),
            (" tf32 ", Dtype::Tf32),
        ];
        for (text, dtype) in aliases {
            assert_eq!(text.parse::<Dtype>(), Ok(dtype), "{text:?}");
        }
    }

    #[test]
    fn unknown_dtype_lists_the_valid_names() {
        let err = "int8".parse::<Dtype>();
        assert_eq!(
            err,
            Err(GpuError::UnknownDtype {
                value: "int8".to_string()
            })
        );
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("\"int8\""), "{message}");
        for dtype in Dtype::ALL {
            assert!(message.contains(dtype.as_str()), "{message}");
        }
    }

    #[test]
    fn ids_are_unique_canonical_and_names_do_not_collide_across_chips() {
        let mut owner: HashMap<String, &str> = HashMap::new();
        for gpu in all() {
            assert_eq!(normalise(gpu.id), gpu.id, "{} is not canonical", gpu.id);
            assert!(!gpu.id.contains(' '), "{}", gpu.id);
            let copies = all().iter().filter(|other| other.id == gpu.id).count();
            assert_eq!(copies, 1, "{} appears more than once", gpu.id);
            for key in keys(gpu) {
                let previous = owner.insert(normalise(key), gpu.id);
                assert!(
                    previous.is_none() || previous == Some(gpu.id),
                    "{key:?} belongs to both {previous:?} and {}",
                    gpu.id
                );
            }
        }
    }

    #[test]
    fn every_entry_documents_its_source() {
        for gpu in all() {
            assert!(!gpu.name.is_empty() && !gpu.vendor.is_empty(), "{}", gpu.id);
            assert!(gpu.source.len() > 20, "{} has no real source", gpu.id);
        }
    }

    #[test]
    fn memory_size_and_bandwidth_are_plausible_and_sourced() {
        for gpu in all() {
            let gib = gpu.memory_bytes() as f64 / GIB as f64;
            assert!((8.0..=1024.0).contains(&gib), "{}: {gib} GiB", gpu.id);
            let bandwidth = gpu.memory_bandwidth_bytes_per_second();
            assert!(
                bandwidth.is_finite() && (1e11..=2e13).contains(&bandwidth),
                "{}: {bandwidth}",
                gpu.id
            );
            assert!(
                gpu.memory_source.len() > 20,
                "{} has no memory source",
                gpu.id
            );
        }
    }

    #[test]
    fn published_memory_figures_hold() {
        // nvidia-smi reports 81,559 MiB on an H100 80GB HBM3: within 1 % of 80 GiB, reserved
        // memory aside.
        let h100 = spec("NVIDIA H100 80GB HBM3");
        assert_eq!(h100.memory_bytes(), 80 * GIB);
        assert!((h100.memory_bytes() as f64 - 81_559.0 * 1024.0 * 1024.0).abs() / 1e9 < 1.0);
        assert_eq!(h100.memory_bandwidth_bytes_per_second(), 3.35e12);
        assert_eq!(spec("h200").memory_bytes(), 141 * GIB);
        assert_eq!(spec("h200").memory_bandwidth_bytes_per_second(), 4.8e12);
        assert_eq!(spec("mi300x").memory_bytes(), 192 * GIB);
        assert_eq!(spec("mi300x").memory_bandwidth_bytes_per_second(), 5.3e12);
        // One entry for the 40 GB and 80 GB A100 modules gives the smaller one.
        assert_eq!(spec("NVIDIA A100-SXM4-80GB").memory_bytes(), 40 * GIB);
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("h100", "h100"), 0);
        assert_eq!(edit_distance("h100-sxn", "h100-sxm"), 1);
        assert_eq!(edit_distance("l4", "l40s"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
