//! Owns the table of dense peak tensor FLOP/s per precision for real accelerators, and the lookup
//! from the names that `nvidia-smi`, `rocm-smi`, `hl-smi`, JAX and the Neuron tools print to an entry
//! of that table, with each device's memory size and bandwidth.
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
        "unknown gpu {name:?}{}; known ids: {known}; pass one of these ids or the exact device name that nvidia-smi, rocm-smi, hl-smi, jax.devices() or the neuron tools print",
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

/// Where a chip's peaks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakBasis {
    /// The vendor's printed figures (datasheet, whitepaper or documentation), halved where they
    /// are printed with sparsity.
    Datasheet,
    /// Computed where the vendor prints none: SM or CU count x boost clock x FLOPs per clock, or
    /// the figures of a sibling part with the same compute configuration (named in the source).
    Derived,
}

impl PeakBasis {
    /// The lowercase word `gpus` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            PeakBasis::Datasheet => "datasheet",
            PeakBasis::Derived => "derived",
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
    /// Whether the peaks are the vendor's printed figures or derived from the chip's configuration.
    pub basis: PeakBasis,
    /// The vendor document the figures come from, or how they were derived.
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
        source: "NVIDIA A10 Tensor Core GPU datasheet (2021)",
        note: "the AWS A10G is a different part and is its own entry",
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
        source: "NVIDIA L40S GPU datasheet (2023)",
        note: "the L40 without the S is a slower part and is its own entry",
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
        source: "NVIDIA H200 Tensor Core GPU datasheet (2024), H200 SXM column; dense values from the NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022)",
        note: "SXM part; the H200 NVL card (\"NVIDIA H200 NVL\") has lower clocks and is its own entry",
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
        basis: PeakBasis::Derived,
        source: "NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022), H100 SXM5 column, whose SM count and clocks the H800 SXM5 shares",
        note: "SXM5 part; the H800 PCIe card (\"NVIDIA H800 PCIe\") is slower and is its own entry",
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
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
        basis: PeakBasis::Datasheet,
        source: "Google Cloud TPU v5p documentation (2023)",
        note: "per chip; JAX reports it as \"TPU v5\"",
    },
    // The HGX page prints FP4 both ways (144 sparse, 108 dense for 8 GPUs) and the rest with
    // sparsity; every figure is divided by 8 GPUs and the sparse ones halved. nvidia-smi and
    // torch.cuda.get_device_name() print "NVIDIA B300 SXM6 AC" (pytorch/ao#3640,
    // NVIDIA/cosmos-framework#114). Checked against torchtitan's get_peak_flops (2.25e15 BF16,
    // pytorch/torchtitan#2884).
    GpuSpec {
        id: "b300",
        name: "NVIDIA B300 (HGX, Blackwell Ultra)",
        aliases: &["NVIDIA B300 SXM6 AC", "NVIDIA B300"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(75e12),
            tf32: Some(1.125e15),
            fp16: Some(2.25e15),
            bf16: Some(2.25e15),
            fp8: Some(4.5e15),
            fp4: Some(13.5e15),
        },
        memory_bytes: 270 * GIB,
        memory_bandwidth_bytes_per_second: 7.7e12,
        memory_source: "NVIDIA Blackwell Ultra datasheet, HGX B300 per GPU: 270 GB HBM3e at 7.7 TB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA HGX platform specifications (2025), HGX B300 column for 8 GPUs: FP4 144 | 108 PFLOPS (sparse | dense), FP8 72, BF16 36, TF32 18 PFLOPS sparse, FP32 600 TFLOPS; https://www.nvidia.com/en-us/data-center/hgx/",
        note: "per GPU; \"NVIDIA GB300\" is the faster Grace-attached part and is its own entry",
    },
    // Per GPU: each rack figure divided by 72, the sparse ones halved. The CUDA name is "NVIDIA
    // GB300" (compute capability 10.3), which must never match "NVIDIA B300".
    GpuSpec {
        id: "gb300",
        name: "NVIDIA GB300 Blackwell Ultra GPU",
        aliases: &["NVIDIA GB300"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: Some(1.25e15),
            fp16: Some(2.5e15),
            bf16: Some(2.5e15),
            fp8: Some(5e15),
            fp4: Some(15e15),
        },
        memory_bytes: 279 * GIB,
        memory_bandwidth_bytes_per_second: 8e12,
        memory_source: "NVIDIA GB300 NVL72 specifications: 20 TB HBM3e at 576 TB/s for 72 GPUs, 279 GB at 8 TB/s each",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA GB300 NVL72 specifications (2025) for 72 GPUs: FP4 1,440 | 1,080 PFLOPS (sparse | dense), FP8 720, BF16 360, TF32 180 PFLOPS sparse; https://www.nvidia.com/en-us/data-center/gb300-nvl72/",
        note: "per Blackwell Ultra GPU; NVIDIA prints no FP32 figure for GB300, so FP32 is refused rather than guessed",
    },
    // The figures are the dense column of NVIDIA's H20 specification (the sparse column doubles
    // them). Checked against volcengine/verl's get_device_flops, which uses 148e12 for "NVIDIA
    // H20", and a measured 136.5 TFLOP/s BF16 GEMM on it.
    GpuSpec {
        id: "h20",
        name: "NVIDIA H20 96GB",
        aliases: &["NVIDIA H20"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(44e12),
            tf32: Some(74e12),
            fp16: Some(148e12),
            bf16: Some(148e12),
            fp8: Some(296e12),
            fp4: None,
        },
        memory_bytes: 96 * GIB,
        memory_bandwidth_bytes_per_second: 4.0e12,
        memory_source: "NVIDIA H20 product specification (2024): 96 GB HBM3 at 4.0 TB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA H20 product specification (2024) as distributed to OEMs, not published on nvidia.com: FP32 44, TF32 74, FP16/BF16 148, FP8 296 TFLOPS dense",
        note: "the export part with 78 SMs; the 141 GB H20 refresh is not covered",
    },
    // The H800 PCIe cuts only NVLink and FP64 from the H100 PCIe (114 SMs, as device logs print),
    // so it takes the H100 PCIe dense figures.
    GpuSpec {
        id: "h800-pcie",
        name: "NVIDIA H800 PCIe 80GB",
        aliases: &["NVIDIA H800 PCIe"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(51e12),
            tf32: Some(378e12),
            fp16: Some(756.5e12),
            bf16: Some(756.5e12),
            fp8: Some(1.513e15),
            fp4: None,
        },
        memory_bytes: 80 * GIB,
        memory_bandwidth_bytes_per_second: 2.0e12,
        memory_source: "NVIDIA H800 PCIe product brief: 80 GB HBM2e at 2 TB/s, as the H100 PCIe",
        basis: PeakBasis::Derived,
        source: "NVIDIA H100 Tensor Core GPU datasheet (2023), H100 PCIe column, whose 114 SMs and clocks the H800 PCIe shares",
        note: "",
    },
    // The A800 cuts only NVLink bandwidth (400 GB/s) from the A100, so it takes the A100 dense
    // figures.
    GpuSpec {
        id: "a800-sxm",
        name: "NVIDIA A800 SXM4 80GB",
        aliases: &["NVIDIA A800-SXM4-80GB", "A800-SXM4-80GB"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(19.5e12),
            tf32: Some(156e12),
            fp16: Some(312e12),
            bf16: Some(312e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 80 * GIB,
        memory_bandwidth_bytes_per_second: 2.039e12,
        memory_source: "NVIDIA A800 product brief: 80 GB HBM2e at 2,039 GB/s, as the A100 SXM4 80GB",
        basis: PeakBasis::Derived,
        source: "NVIDIA A100 Tensor Core GPU datasheet (2021), SXM4 column, whose 108 SMs and clocks the A800 shares",
        note: "",
    },
    // The A800 PCIe keeps the A100 PCIe compute; nvidia-smi prints "NVIDIA A800 80GB PCIe".
    GpuSpec {
        id: "a800-pcie",
        name: "NVIDIA A800 PCIe 80GB",
        aliases: &["NVIDIA A800 80GB PCIe"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(19.5e12),
            tf32: Some(156e12),
            fp16: Some(312e12),
            bf16: Some(312e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 80 * GIB,
        memory_bandwidth_bytes_per_second: 1.935e12,
        memory_source: "NVIDIA A800 PCIe product brief: 80 GB HBM2e at 1,935 GB/s, as the A100 80GB PCIe",
        basis: PeakBasis::Derived,
        source: "NVIDIA A100 Tensor Core GPU datasheet (2021), PCIe column, whose 108 SMs and clocks the A800 PCIe shares",
        note: "",
    },
    // The datasheet prints the NVL card's tensor figures with sparsity; halved here. Checked
    // against torchtitan's H100 NVL figure (835e12), the same clocks.
    GpuSpec {
        id: "h200-nvl",
        name: "NVIDIA H200 NVL 141GB",
        aliases: &["NVIDIA H200 NVL"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(60e12),
            tf32: Some(417.5e12),
            fp16: Some(835.5e12),
            bf16: Some(835.5e12),
            fp8: Some(1.6705e15),
            fp4: None,
        },
        memory_bytes: 141 * GIB,
        memory_bandwidth_bytes_per_second: 4.8e12,
        memory_source: "NVIDIA H200 datasheet (2024), H200 NVL column: 141 GB HBM3e at 4.8 TB/s (nvidia-smi reports 143,771 MiB)",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA H200 Tensor Core GPU datasheet (2024), H200 NVL column: TF32 835, BF16/FP16 1,671, FP8 3,341 TFLOPS with sparsity",
        note: "the PCIe card, with lower clocks than the H200 SXM",
    },
    // The datasheet prints dense and sparse side by side; the dense column is used.
    GpuSpec {
        id: "l40",
        name: "NVIDIA L40",
        aliases: &["NVIDIA L40"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(90.5e12),
            tf32: Some(90.5e12),
            fp16: Some(181.05e12),
            bf16: Some(181.05e12),
            fp8: Some(362e12),
            fp4: None,
        },
        memory_bytes: 48 * GIB,
        memory_bandwidth_bytes_per_second: 864e9,
        memory_source: "NVIDIA L40 datasheet (2022): 48 GB GDDR6 at 864 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA L40 GPU datasheet (2022): TF32 90.5 | 181, BF16/FP16 181.05 | 362.1, FP8 362 | 724 TFLOPS (dense | sparse), FP32 90.5",
        note: "not the L40S (faster) nor the L4 (smaller)",
    },
    // The datasheet prints dense and sparse side by side; the dense column is used.
    GpuSpec {
        id: "a40",
        name: "NVIDIA A40",
        aliases: &["NVIDIA A40"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(37.4e12),
            tf32: Some(74.8e12),
            fp16: Some(149.7e12),
            bf16: Some(149.7e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 48 * GIB,
        memory_bandwidth_bytes_per_second: 696e9,
        memory_source: "NVIDIA A40 datasheet (2021): 48 GB GDDR6 at 696 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA A40 datasheet (2021): TF32 74.8 | 149.6, BF16/FP16 149.7 | 299.4 TFLOPS (dense | sparse), FP32 37.4",
        note: "",
    },
    // The datasheet prints dense and sparse side by side; the dense column is used.
    GpuSpec {
        id: "a30",
        name: "NVIDIA A30",
        aliases: &["NVIDIA A30"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(10.3e12),
            tf32: Some(82e12),
            fp16: Some(165e12),
            bf16: Some(165e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 24 * GIB,
        memory_bandwidth_bytes_per_second: 933e9,
        memory_source: "NVIDIA A30 datasheet (2021): 24 GB HBM2 at 933 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA A30 datasheet (2021): TF32 82 | 165, BF16/FP16 165 | 330 TFLOPS (dense | sparse), FP32 10.3",
        note: "",
    },
    // AWS publishes no tensor figures, so they are derived. The A10G runs FP16/BF16 with FP32
    // accumulate at half the FP16-accumulate rate, as GeForce GA102 does: a BF16 GEMM measured at
    // 69.5 TFLOP/s and TF32 at 34.7 on an A10G (zzc0721/torch-performance-test-data#126) fit
    // these, and no full-rate figure (140e12) would.
    GpuSpec {
        id: "a10g",
        name: "NVIDIA A10G (AWS)",
        aliases: &["NVIDIA A10G"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(35.02e12),
            tf32: Some(35.02e12),
            fp16: Some(70.04e12),
            bf16: Some(70.04e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 24 * GIB,
        memory_bandwidth_bytes_per_second: 600e9,
        memory_source: "AWS EC2 G5 instance documentation: 24 GB GDDR6 per A10G at 600 GB/s",
        basis: PeakBasis::Derived,
        source: "derived: 80 SMs x 1710 MHz boost x 512 FP16 FLOPs/clock/SM with FP32 accumulate (256 for TF32; 10,240 FP32 lanes x 2); AWS publishes no per-precision figures",
        note: "AWS's GA102 part; not the NVIDIA A10 (72 SMs, full-rate FP32 accumulate)",
    },
    // Turing has no structured sparsity, so the datasheet's figures are dense. nvidia-smi prints
    // "Tesla T4".
    GpuSpec {
        id: "t4",
        name: "NVIDIA Tesla T4",
        aliases: &["Tesla T4"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(8.1e12),
            tf32: None,
            fp16: Some(65e12),
            bf16: None,
            fp8: None,
            fp4: None,
        },
        memory_bytes: 16 * GIB,
        memory_bandwidth_bytes_per_second: 320e9,
        memory_source: "NVIDIA T4 datasheet (2019): 16 GB GDDR6 at 320 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA T4 Tensor Core GPU datasheet (2019): FP32 8.1, mixed-precision FP16/FP32 65 TFLOPS",
        note: "Turing tensor cores take FP16 only: BF16 and TF32 are refused",
    },
    // GeForce cards run FP16/BF16 tensor math with FP32 accumulate at half the FP16-accumulate
    // rate; training accumulates in FP32, so those figures are used.
    GpuSpec {
        id: "rtx-4090",
        name: "NVIDIA GeForce RTX 4090",
        aliases: &["NVIDIA GeForce RTX 4090"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(82.6e12),
            tf32: Some(82.6e12),
            fp16: Some(165.2e12),
            bf16: Some(165.2e12),
            fp8: Some(330.3e12),
            fp4: None,
        },
        memory_bytes: 24 * GIB,
        memory_bandwidth_bytes_per_second: 1008e9,
        memory_source: "NVIDIA Ada whitepaper (2022): 24 GB GDDR6X at 1,008 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA Ada GPU Architecture whitepaper (2022), Appendix A, RTX 4090: FP16/BF16 tensor with FP32 accumulate 165.2 | 330.4, FP8 330.3 | 660.6, TF32 82.6 | 165.2 TFLOPS (dense | sparse)",
        note: "FP32-accumulate rates, which training uses; GeForce runs FP16 accumulate at twice these",
    },
    // As for the RTX 4090, the FP32-accumulate column is used (nvidia-smi: "NVIDIA GeForce RTX
    // 3090", pytorch/pytorch#75198).
    GpuSpec {
        id: "rtx-3090",
        name: "NVIDIA GeForce RTX 3090",
        aliases: &["NVIDIA GeForce RTX 3090"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(35.6e12),
            tf32: Some(35.6e12),
            fp16: Some(71e12),
            bf16: Some(71e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 24 * GIB,
        memory_bandwidth_bytes_per_second: 936e9,
        memory_source: "NVIDIA GA102 whitepaper (2020): 24 GB GDDR6X at 936 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA Ampere GA102 GPU Architecture whitepaper (2020), Appendix A, RTX 3090: FP16/BF16 tensor with FP32 accumulate 71 | 142, TF32 35.6 | 71 TFLOPS (dense | sparse)",
        note: "FP32-accumulate rates, which training uses",
    },
    // The datasheet's 309.7 TFLOPS is FP16 with sparsity; halved here, and TF32 is half of that.
    GpuSpec {
        id: "rtx-a6000",
        name: "NVIDIA RTX A6000",
        aliases: &["NVIDIA RTX A6000"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(38.7e12),
            tf32: Some(77.4e12),
            fp16: Some(154.85e12),
            bf16: Some(154.85e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 48 * GIB,
        memory_bandwidth_bytes_per_second: 768e9,
        memory_source: "NVIDIA RTX A6000 datasheet (2021): 48 GB GDDR6 at 768 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA RTX A6000 datasheet (2021): tensor performance 309.7 TFLOPS with sparsity, FP32 38.7 TFLOPS",
        note: "torchtitan's table (pytorch/torchtitan#2884) uses 309.7e12, the sparse figure",
    },
    // The datasheet's 1,457 TFLOPS is FP8 with sparsity; halved here, and professional Ada runs
    // FP32 accumulate at full rate, so BF16 is half of FP8 and TF32 a quarter.
    GpuSpec {
        id: "rtx-6000-ada",
        name: "NVIDIA RTX 6000 Ada Generation",
        aliases: &["NVIDIA RTX 6000 Ada Generation"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(91.1e12),
            tf32: Some(182.1e12),
            fp16: Some(364.25e12),
            bf16: Some(364.25e12),
            fp8: Some(728.5e12),
            fp4: None,
        },
        memory_bytes: 48 * GIB,
        memory_bandwidth_bytes_per_second: 960e9,
        memory_source: "NVIDIA RTX 6000 Ada datasheet (2023): 48 GB GDDR6 at 960 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA RTX 6000 Ada Generation datasheet (2023): FP8 tensor 1,457 TFLOPS with sparsity, FP32 91.1; Ada whitepaper ratios for TF32 and BF16",
        note: "",
    },
    // NVIDIA prints only the FP4 figure with sparsity and FP32, so the tensor rates are derived
    // from the SM count and boost clock; the derived FP4 (2,015 dense, 4,030 sparse) agrees with
    // the printed 4,000.
    GpuSpec {
        id: "rtx-pro-6000",
        name: "NVIDIA RTX PRO 6000 Blackwell",
        aliases: &["NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "NVIDIA RTX PRO 6000 Blackwell Server Edition"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(125e12),
            tf32: Some(251.9e12),
            fp16: Some(503.8e12),
            bf16: Some(503.8e12),
            fp8: Some(1.0076e15),
            fp4: Some(2.0152e15),
        },
        memory_bytes: 96 * GIB,
        memory_bandwidth_bytes_per_second: 1792e9,
        memory_source: "NVIDIA RTX PRO 6000 Blackwell datasheet (2025): 96 GB GDDR7 at 1,792 GB/s",
        basis: PeakBasis::Derived,
        source: "derived: 188 SMs x 2617 MHz boost x 1,024 FP16 FLOPs/clock/SM with FP32 accumulate (x2 for FP8, x4 for FP4); matches the datasheet's 4,000 FP4 AI TOPS with sparsity and 125 TFLOPS FP32",
        note: "the 600 W Workstation and Server Editions; the 300 W Max-Q card has lower clocks and is not covered",
    },
    // The one vendor figure, 1 PFLOP FP4 with sparsity, is halved; its clock and per-SM rates for
    // other precisions are not published.
    GpuSpec {
        id: "gb10",
        name: "NVIDIA GB10 (DGX Spark)",
        aliases: &["NVIDIA GB10"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: None,
            fp8: None,
            fp4: Some(500e12),
        },
        memory_bytes: 128 * GIB,
        memory_bandwidth_bytes_per_second: 273e9,
        memory_source: "NVIDIA DGX Spark datasheet (2025): 128 GB LPDDR5x unified memory at 273 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA DGX Spark datasheet (2025): up to 1 PFLOP FP4 with sparsity",
        note: "NVIDIA publishes only the FP4 figure, so every other precision is refused rather than guessed",
    },
    // As for the RTX 4090, the FP32-accumulate column is used; FP4 has no half-rate mode.
    GpuSpec {
        id: "rtx-5090",
        name: "NVIDIA GeForce RTX 5090",
        aliases: &["NVIDIA GeForce RTX 5090"],
        vendor: "NVIDIA",
        peak_flops_per_second: PeakFlops {
            fp32: Some(104.8e12),
            tf32: Some(104.8e12),
            fp16: Some(209.5e12),
            bf16: Some(209.5e12),
            fp8: Some(419e12),
            fp4: Some(1.676e15),
        },
        memory_bytes: 32 * GIB,
        memory_bandwidth_bytes_per_second: 1792e9,
        memory_source: "NVIDIA RTX Blackwell whitepaper (2025): 32 GB GDDR7 at 1,792 GB/s",
        basis: PeakBasis::Datasheet,
        source: "NVIDIA RTX Blackwell GPU Architecture whitepaper (2025), Appendix A, RTX 5090: FP16/BF16 tensor with FP32 accumulate 209.5 | 419, FP8 with FP32 accumulate 419 | 838, FP4 1,676 | 3,352 TFLOPS (dense | sparse)",
        note: "FP32-accumulate rates, which training uses",
    },
    // The data sheet prints dense figures and doubles them for sparsity; the dense ones are used.
    GpuSpec {
        id: "mi300a",
        name: "AMD Instinct MI300A",
        aliases: &["AMD Instinct MI300A"],
        vendor: "AMD",
        peak_flops_per_second: PeakFlops {
            fp32: Some(122.6e12),
            tf32: Some(490.3e12),
            fp16: Some(980.6e12),
            bf16: Some(980.6e12),
            fp8: Some(1.9612e15),
            fp4: None,
        },
        memory_bytes: 128 * GIB,
        memory_bandwidth_bytes_per_second: 5.3e12,
        memory_source: "AMD Instinct MI300A data sheet (2023): 128 GB HBM3 unified at 5.3 TB/s",
        basis: PeakBasis::Datasheet,
        source: "AMD Instinct MI300A APU data sheet (2023): FP32 matrix 122.6, TF32 490.3, FP16/BF16 980.6, FP8 1,961.2 TFLOPS dense",
        note: "228 CUs at 2100 MHz",
    },
    // AMD prints dense figures to one decimal of a petaFLOP; the exact values come from the CU
    // count and peak clock the data sheet gives.
    GpuSpec {
        id: "mi350x",
        name: "AMD Instinct MI350X",
        aliases: &["AMD Instinct MI350X"],
        vendor: "AMD",
        peak_flops_per_second: PeakFlops {
            fp32: Some(144.2e12),
            tf32: None,
            fp16: Some(2.3069e15),
            bf16: Some(2.3069e15),
            fp8: Some(4.6137e15),
            fp4: Some(9.2275e15),
        },
        memory_bytes: 288 * GIB,
        memory_bandwidth_bytes_per_second: 8e12,
        memory_source: "AMD Instinct MI350X data sheet (2025): 288 GB HBM3E at 8 TB/s",
        basis: PeakBasis::Datasheet,
        source: "AMD Instinct MI350X data sheet (2025): FP16/BF16 2.3, FP8 4.6, MXFP4 9.2 PFLOPS dense, FP32 matrix 144.2 TFLOPS; exact values 256 CUs x 2200 MHz x 4,096 BF16 FLOPs/clock/CU",
        note: "CDNA 4 has no TF32 matrix rate, so TF32 is refused",
    },
    // As for the MI350X, at the MI355X's 2400 MHz peak clock.
    GpuSpec {
        id: "mi355x",
        name: "AMD Instinct MI355X",
        aliases: &["AMD Instinct MI355X"],
        vendor: "AMD",
        peak_flops_per_second: PeakFlops {
            fp32: Some(157.3e12),
            tf32: None,
            fp16: Some(2.5166e15),
            bf16: Some(2.5166e15),
            fp8: Some(5.0332e15),
            fp4: Some(10.0663e15),
        },
        memory_bytes: 288 * GIB,
        memory_bandwidth_bytes_per_second: 8e12,
        memory_source: "AMD Instinct MI355X data sheet (2025): 288 GB HBM3E at 8 TB/s",
        basis: PeakBasis::Datasheet,
        source: "AMD Instinct MI355X data sheet (2025): FP16/BF16 2.5, FP8 5.0, MXFP4 10.1 PFLOPS dense, FP32 matrix 157.3 TFLOPS; exact values 256 CUs x 2400 MHz x 4,096 BF16 FLOPs/clock/CU",
        note: "CDNA 4 has no TF32 matrix rate, so TF32 is refused",
    },
    // One CDNA 2 die (104 CUs), as one MI250X GCD but at its own clock.
    GpuSpec {
        id: "mi210",
        name: "AMD Instinct MI210",
        aliases: &["AMD Instinct MI210"],
        vendor: "AMD",
        peak_flops_per_second: PeakFlops {
            fp32: Some(45.3e12),
            tf32: None,
            fp16: Some(181e12),
            bf16: Some(181e12),
            fp8: None,
            fp4: None,
        },
        memory_bytes: 64 * GIB,
        memory_bandwidth_bytes_per_second: 1.6384e12,
        memory_source: "AMD Instinct MI210 data sheet (2022): 64 GB HBM2e at 1.6384 TB/s",
        basis: PeakBasis::Datasheet,
        source: "AMD Instinct MI210 data sheet (2022): FP32 matrix 45.3, FP16/BF16 181 TFLOPS",
        note: "CDNA 2 has no TF32 or FP8 matrix rate",
    },
    // JAX's device_kind is "TPU v6 lite" (as MaxText and JAX's own tests spell it).
    GpuSpec {
        id: "tpu-v6e",
        name: "Google Cloud TPU v6e (Trillium)",
        aliases: &["TPU v6 lite", "TPU v6e", "v6e"],
        vendor: "Google",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: Some(918e12),
            fp8: Some(918e12),
            fp4: None,
        },
        memory_bytes: 32 * GIB,
        memory_bandwidth_bytes_per_second: 1.64e12,
        memory_source: "Google Cloud TPU v6e documentation: 32 GiB HBM at 1,640 GB/s per chip",
        basis: PeakBasis::Datasheet,
        source: "Google Cloud TPU v6e documentation (2024) and the TPU7x comparison table: 918 TFLOPs BF16 and 918 FP8 per chip; https://docs.cloud.google.com/tpu/docs/tpu7x",
        note: "per chip; JAX reports it as \"TPU v6 lite\"; FP8 runs at the BF16 rate",
    },
    // JAX's device_kind is "TPU7x" (JAX's tests and MaxText).
    GpuSpec {
        id: "tpu-v7",
        name: "Google Cloud TPU7x (Ironwood)",
        aliases: &["TPU7x", "TPU v7", "TPU v7x"],
        vendor: "Google",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: None,
            fp16: None,
            bf16: Some(2.307e15),
            fp8: Some(4.614e15),
            fp4: None,
        },
        memory_bytes: 192 * GIB,
        memory_bandwidth_bytes_per_second: 7.37e12,
        memory_source: "Google Cloud TPU7x documentation: 192 GiB HBM per chip at 7.37 TB/s",
        basis: PeakBasis::Datasheet,
        source: "Google Cloud TPU7x (Ironwood) documentation (2025): 2,307 TFLOPs BF16 and 4,614 FP8 per chip; https://docs.cloud.google.com/tpu/docs/tpu7x",
        note: "per chip of two TensorCores; where JAX lists each TensorCore as its own device, each device has half of this",
    },
    // AWS prints dense and sparse separately; the dense ones are used.
    GpuSpec {
        id: "trainium2",
        name: "AWS Trainium2 (one chip)",
        aliases: &["Trainium2", "trn2"],
        vendor: "AWS",
        peak_flops_per_second: PeakFlops {
            fp32: Some(181e12),
            tf32: Some(667e12),
            fp16: Some(667e12),
            bf16: Some(667e12),
            fp8: Some(1.299e15),
            fp4: None,
        },
        memory_bytes: 96 * GIB,
        memory_bandwidth_bytes_per_second: 2.9e12,
        memory_source: "AWS Neuron documentation, Trainium2: 96 GiB HBM at 2.9 TB/s per chip",
        basis: PeakBasis::Datasheet,
        source: "AWS Neuron documentation, Trainium2 architecture: eight NeuronCore-v3 deliver 1,299 FP8, 667 BF16/FP16/TF32 and 181 FP32 TFLOPS dense (2,563 sparse); https://awsdocs-neuron.readthedocs-hosted.com/en/latest/about-neuron/arch/neuron-hardware/trainium2.html",
        note: "per chip of eight NeuronCore-v3; TF32 runs at the BF16 rate. The Neuron frameworks list logical NeuronCores, which are the trainium2-lnc2 entry",
    },
    // Neuron frameworks show each logical NeuronCore as a device; the Tensor Engine figures are
    // per physical core, doubled for LNC=2, as torchtitan's get_peak_flops does
    // (pytorch/torchtitan#2382).
    GpuSpec {
        id: "trainium2-lnc2",
        name: "AWS Trainium2 logical NeuronCore (LNC=2)",
        aliases: &["NC_v3d"],
        vendor: "AWS",
        peak_flops_per_second: PeakFlops {
            fp32: None,
            tf32: Some(158e12),
            fp16: Some(158e12),
            bf16: Some(158e12),
            fp8: Some(316e12),
            fp4: None,
        },
        memory_bytes: 24 * GIB,
        memory_bandwidth_bytes_per_second: 725e9,
        memory_source: "a quarter of the Trainium2 chip's 96 GiB and 2.9 TB/s, since LNC=2 makes four logical cores of its eight",
        basis: PeakBasis::Datasheet,
        source: "AWS Neuron documentation, NeuronCore-v3: 79 BF16/FP16/TF32 and 158 cFP8 TFLOPS per physical core, two per logical core at LNC=2; https://awsdocs-neuron.readthedocs-hosted.com/en/latest/about-neuron/arch/neuron-hardware/neuron-core-v3.html",
        note: "the device jax-neuronx and torch-neuronx list on Trainium2 with the default LNC=2 (device_kind \"NC_v3d\"); tensor engine only, as torchtitan counts it",
    },
    // AWS prints one figure for the 16-bit, TF32 and cFP8 tensor rates.
    GpuSpec {
        id: "trainium1",
        name: "AWS Trainium (one chip)",
        aliases: &["Trainium", "trn1"],
        vendor: "AWS",
        peak_flops_per_second: PeakFlops {
            fp32: Some(47.5e12),
            tf32: Some(190e12),
            fp16: Some(190e12),
            bf16: Some(190e12),
            fp8: Some(190e12),
            fp4: None,
        },
        memory_bytes: 32 * GIB,
        memory_bandwidth_bytes_per_second: 820e9,
        memory_source: "AWS Neuron documentation, Trainium: 32 GiB HBM at 820 GiB/s per chip",
        basis: PeakBasis::Datasheet,
        source: "AWS Neuron documentation, Trainium architecture: two NeuronCore-v2 deliver 190 FP16/BF16/cFP8/TF32 and 47.5 FP32 TFLOPS; https://awsdocs-neuron.readthedocs-hosted.com/en/latest/general/arch/neuron-hardware/trainium.html",
        note: "per chip of two NeuronCore-v2; TF32 and cFP8 run at the BF16 rate",
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
            // Names as real tools print them; the issue or log each was read from is cited in
            // the comment above its entry.
            ("NVIDIA B300 SXM6 AC", "b300"),
            ("NVIDIA GB300", "gb300"),
            ("NVIDIA H20", "h20"),
            ("NVIDIA H800 PCIe", "h800-pcie"),
            ("NVIDIA A800-SXM4-80GB", "a800-sxm"),
            ("NVIDIA A800 80GB PCIe", "a800-pcie"),
            ("NVIDIA H200 NVL", "h200-nvl"),
            ("NVIDIA L40", "l40"),
            ("NVIDIA A40", "a40"),
            ("NVIDIA A30", "a30"),
            ("NVIDIA A10G", "a10g"),
            ("Tesla T4", "t4"),
            ("NVIDIA GeForce RTX 4090", "rtx-4090"),
            ("NVIDIA GeForce RTX 3090", "rtx-3090"),
            ("NVIDIA GeForce RTX 5090", "rtx-5090"),
            ("NVIDIA RTX A6000", "rtx-a6000"),
            ("NVIDIA RTX 6000 Ada Generation", "rtx-6000-ada"),
            (
                "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
                "rtx-pro-6000",
            ),
            (
                "NVIDIA RTX PRO 6000 Blackwell Server Edition",
                "rtx-pro-6000",
            ),
            ("NVIDIA GB10", "gb10"),
            ("AMD Instinct MI300A", "mi300a"),
            ("AMD Instinct MI350X", "mi350x"),
            ("AMD Instinct MI355X", "mi355x"),
            ("AMD Instinct MI210", "mi210"),
            ("TPU v6 lite", "tpu-v6e"),
            ("TPU7x", "tpu-v7"),
            ("NC_v3d", "trainium2-lnc2"),
            ("Trainium2", "trainium2"),
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
            "NVIDIA L4S",
            "NVIDIA L40G",
            "NVIDIA H20-3e",
            "NVIDIA B300 SXM6",
            "NVIDIA GB300 NVL",
            "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
            "NVIDIA GeForce RTX 4090 Laptop GPU",
            "AMD Instinct MI250X / MI250",
            "AMD Instinct MI350",
            "TPU v4 lite",
            "TPU v7 lite",
        ];
        for near in near_misses {
            let (_, _, message) = unknown_gpu(near);
            assert!(message.contains(&format!("{near:?}")), "{message}");
        }
        let (suggestion, _, _) = unknown_gpu("NVIDIA L40G");
        assert_eq!(suggestion.as_deref(), Some("l40s or l40"));
    }

    #[test]
    fn names_that_contain_another_chips_name_resolve_to_their_own_chip() {
        // Substring matching gets each of these wrong: GB300 contains B300, L40S contains L40 and
        // L4, H200 NVL contains H200, A10G contains A10, the RTX PRO 6000 contains "RTX 6000".
        let cases = [
            ("NVIDIA GB300", "gb300"),
            ("NVIDIA B300", "b300"),
            ("NVIDIA GB200", "gb200"),
            ("NVIDIA B200", "b200"),
            ("NVIDIA L40S", "l40s"),
            ("NVIDIA L40", "l40"),
            ("NVIDIA L4", "l4"),
            ("NVIDIA H200 NVL", "h200-nvl"),
            ("NVIDIA H200", "h200"),
            ("NVIDIA H20", "h20"),
            ("NVIDIA H800 PCIe", "h800-pcie"),
            ("NVIDIA H800", "h800"),
            ("NVIDIA A10G", "a10g"),
            ("NVIDIA A10", "a10"),
            ("NVIDIA RTX 6000 Ada Generation", "rtx-6000-ada"),
            (
                "NVIDIA RTX PRO 6000 Blackwell Server Edition",
                "rtx-pro-6000",
            ),
            ("AMD Instinct MI300A", "mi300a"),
            ("AMD Instinct MI300X", "mi300x"),
        ];
        for (name, id) in cases {
            assert_eq!(spec(name).id, id, "{name:?}");
        }
        assert_ne!(
            spec("gb300").peak(Dtype::Bf16),
            spec("b300").peak(Dtype::Bf16)
        );
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
        assert_eq!(suggestion.as_deref(), Some("mi300x or mi300a"));
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
        // The GB10's vendor prints only an FP4 figure, so it alone has no 16-bit peak.
        for gpu in all().iter().filter(|gpu| gpu.id != "gb10") {
            let peaks = gpu.peak_flops_per_second;
            assert!(peaks.bf16.is_some() || peaks.fp16.is_some(), "{}", gpu.id);
        }
        assert_eq!(spec("gb10").available_dtypes(), vec![Dtype::Fp4]);
        assert!(spec("gb10").peak(Dtype::Bf16).is_err());
    }

    #[test]
    fn the_table_covers_the_chips_people_train_on() {
        assert!(all().len() >= 45, "{} entries", all().len());
        for id in [
            "b300",
            "gb300",
            "h20",
            "h800-pcie",
            "a800-sxm",
            "a800-pcie",
            "h200-nvl",
            "l40",
            "a40",
            "a30",
            "a10g",
            "t4",
            "rtx-4090",
            "rtx-3090",
            "rtx-a6000",
            "rtx-6000-ada",
            "rtx-pro-6000",
            "gb10",
            "mi300a",
            "mi350x",
            "mi355x",
            "tpu-v6e",
            "tpu-v7",
            "trainium2",
        ] {
            assert!(all().iter().any(|gpu| gpu.id == id), "{id} is missing");
        }
    }

    #[test]
    fn derived_figures_follow_from_units_clock_and_rate() {
        // Recomputed here from the configuration each source names: units x clock x FLOPs per
        // clock per unit, so a typo in the table's figure cannot pass.
        let cases = [
            ("a10g", Dtype::Bf16, 80.0 * 1.710e9 * 512.0),
            ("a10g", Dtype::Tf32, 80.0 * 1.710e9 * 256.0),
            ("rtx-pro-6000", Dtype::Bf16, 188.0 * 2.617e9 * 1024.0),
            ("rtx-pro-6000", Dtype::Fp4, 188.0 * 2.617e9 * 4096.0),
            ("mi350x", Dtype::Bf16, 256.0 * 2.2e9 * 4096.0),
            ("mi355x", Dtype::Bf16, 256.0 * 2.4e9 * 4096.0),
            ("mi355x", Dtype::Fp8, 256.0 * 2.4e9 * 8192.0),
            ("mi300a", Dtype::Bf16, 228.0 * 2.1e9 * 2048.0),
            ("mi300x", Dtype::Bf16, 304.0 * 2.1e9 * 2048.0),
        ];
        for (id, dtype, expected) in cases {
            let peak = spec(id).peak(dtype).unwrap_or_default();
            assert!(
                (peak / expected - 1.0).abs() < 2e-3,
                "{id} {dtype}: {peak} vs {expected}"
            );
        }
        for gpu in all() {
            if gpu.basis == PeakBasis::Derived {
                let source = gpu.source.to_lowercase();
                assert!(
                    source.starts_with("derived") || source.contains("shares"),
                    "{} is derived but its source does not say how: {}",
                    gpu.id,
                    gpu.source
                );
            }
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
            // a sparse figure with a dense one breaks this ratio. Trainium runs TF32 at the
            // BF16 rate, so the check is for GPUs.
            let gpu_vendor = gpu.vendor == "NVIDIA" || gpu.vendor == "AMD";
            if let (Some(tf32), Some(bf16), true) = (peaks.tf32, peaks.bf16, gpu_vendor) {
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
        // torchtitan's get_peak_flops (pytorch/torchtitan#2884, #2382): B300 2.25e15, GB300
        // 2.5e15, a Trainium2 logical core at LNC=2 2 x 79e12; verl's get_device_flops: H20 148e12;
        // MaxText's table: TPU v6 lite 918e12.
        assert_eq!(spec("NVIDIA B300 SXM6 AC").peak(Dtype::Bf16), Ok(2.25e15));
        assert_eq!(spec("NVIDIA GB300").peak(Dtype::Bf16), Ok(2.5e15));
        assert_eq!(spec("NC_v3d").peak(Dtype::Bf16), Ok(158e12));
        assert_eq!(spec("NVIDIA H20").peak(Dtype::Bf16), Ok(148e12));
        assert_eq!(spec("TPU v6 lite").peak(Dtype::Bf16), Ok(918e12));
        // Sparse figures halved: the RTX A6000's datasheet 309.7e12 is with sparsity.
        assert_eq!(spec("NVIDIA RTX A6000").peak(Dtype::Bf16), Ok(154.85e12));
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
        // Precisions a chip lacks stay refused: Turing has no BF16, CDNA 4 no TF32, the GB300
        // no published FP32.
        assert!(spec("t4").peak(Dtype::Bf16).is_err());
        assert!(spec("mi355x").peak(Dtype::Tf32).is_err());
        assert!(spec("gb300").peak(Dtype::Fp32).is_err());
        assert!(spec("rtx-3090").peak(Dtype::Fp8).is_err());
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
