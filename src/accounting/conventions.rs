//! Owns training FLOPs per token as each framework counts them: torchtitan, Megatron-LM,
//! MaxText, OLMo-core, nanoGPT and the PaLM appendix, so that a trainer's own MFU can be
//! compared with ours line by line.
//!
//! Each function below is our own implementation of the framework's code, read at these
//! commits (the formulas differ in what they count, not in arithmetic):
//! - torchtitan `torchtitan/models/utils.py` `get_dense_model_nparams_and_flops` and
//!   `get_moe_model_nparams_and_flops`, pytorch/torchtitan@b5bcd76c66d0acb1a08b176d9639425bc55e0b2a;
//! - Megatron-LM `megatron/training/training.py` `num_floating_point_operations` (and
//!   `megatron/core/tokenizers/utils/build_tokenizer.py` `vocab_size_with_padding`),
//!   NVIDIA/Megatron-LM@d98e8a64ddf34856e74b24714e3bedb2f5a39553;
//! - MaxText `src/maxtext/utils/maxtext_utils.py` `calculate_tflops_training_per_device`,
//!   AI-Hypercomputer/maxtext@e591f30cbbf217ed67ef71263ec0538239f9c3b8;
//! - OLMo-core `num_flops_per_token` of `Transformer`, `TransformerBlock`, `Attention`,
//!   `FeedForward`, `MoEBase`, `ParallelMLPBase` and `LMHead` (`src/olmo_core/nn/`),
//!   allenai/OLMo-core@fa6c5014c9f6e9ee789da2d9c20d5126fee8df0d;
//! - nanoGPT `model.py` `estimate_mfu` and `get_num_params`,
//!   karpathy/nanoGPT@3adf61e154c3fe3fca428ad6bc3818b27a3b8291;
//! - PaLM (Chowdhery et al. 2022), appendix B: `6N + 12·L·H·Q·T`, which is [`flops::palm`]
//!   with full attention.
//!
//! Every count is training (forward and backward) FLOPs per token of a `seq_len`-token
//! sequence. `tools/reference/conventions.py` evaluates each framework's formula
//! independently and writes the fixture the tests compare against.

use std::fmt;

use super::flops::{self, AttentionCounting, FlopOptions};
use super::model::{Attention, AttentionWindow, FeedForward, Mixer, Model};
use super::params::ParameterCounts;

/// A framework's way of counting model FLOPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Convention {
    Torchtitan,
    Megatron,
    Maxtext,
    OlmoCore,
    NanoGpt,
    Palm,
}

impl Convention {
    pub const ALL: [Convention; 6] = [
        Convention::Torchtitan,
        Convention::Megatron,
        Convention::Maxtext,
        Convention::OlmoCore,
        Convention::NanoGpt,
        Convention::Palm,
    ];

    /// The key in `calc --format json` and the `formula` label value.
    pub fn key(self) -> &'static str {
        match self {
            Convention::Torchtitan => "torchtitan",
            Convention::Megatron => "megatron",
            Convention::Maxtext => "maxtext",
            Convention::OlmoCore => "olmo_core",
            Convention::NanoGpt => "nanogpt",
            Convention::Palm => "palm",
        }
    }

    /// The convention whose key is `text`, if any.
    pub fn from_key(text: &str) -> Option<Convention> {
        Convention::ALL.into_iter().find(|c| c.key() == text)
    }

    /// One line on what the framework's count includes.
    pub fn includes(self) -> &'static str {
        match self {
            Convention::Torchtitan => {
                "get_num_flop_per_token: 6·N (parameters less embeddings, LM head in; MoE: routed \
                 experts × top-k/E) + 6·L·H·(Qk+Qv)·T, full attention on every layer, no MTP"
            }
            Convention::Megatron => {
                "num_floating_point_operations: projections (with an output gate), gated or plain \
                 MLP, routed and shared experts (no router), MLA, Gated DeltaNet, Mamba (inner \
                 width 2·d), MTP, LM head on the vocabulary padded to 128; attention halved for \
                 the causal mask, no sliding windows"
            }
            Convention::Maxtext => {
                "calculate_tflops_training_per_device: projections, MLP, router, shared and top-k \
                 experts, MLA, Gated DeltaNet, MTP, unembedding (no term for Mamba layers); \
                 causal attention, exact sliding windows where local and global layers mix"
            }
            Convention::OlmoCore => {
                "num_flops_per_token: 6 × the parameters of attention, feed-forward (experts × \
                 top-k/E, router) and LM head (with the final norm, not the block norms) + \
                 12·H·Q·min(W, T) per layer, full attention"
            }
            Convention::NanoGpt => {
                "estimate_mfu: 6·N (every parameter but learned positions: input embedding and, \
                 for MoE, every expert) + 12·L·H·(d/H)·T"
            }
            Convention::Palm => {
                "PaLM appendix B: 6·N (parameters in matmuls, LM head in, active experts) + \
                 12·L·H·Q·T, full attention"
            }
        }
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.key())
    }
}

/// Training FLOPs per token under `convention`, for `model` whose parameters are `params`.
///
/// `options.seq_len` is the sequence length every convention uses; `options.include_mtp`
/// counts the MTP modules where the framework does (Megatron, MaxText and PaLM); the
/// conventions fix their own attention counting, so `options.attention` only reaches ours.
pub fn training_flops_per_token(
    convention: Convention,
    model: &Model,
    params: &ParameterCounts,
    options: &FlopOptions,
) -> f64 {
    let shape = Shape::of(model);
    let seq_len = options.seq_len as f64;
    let mtp_modules = if options.include_mtp {
        shape.mtp_modules
    } else {
        0.0
    };
    match convention {
        Convention::Torchtitan => torchtitan(&shape, params, seq_len),
        Convention::Megatron => megatron(&shape, seq_len, mtp_modules),
        Convention::Maxtext => maxtext(&shape, seq_len, mtp_modules),
        Convention::OlmoCore => olmo_core(&shape, params, seq_len),
        Convention::NanoGpt => nanogpt(&shape, params, seq_len),
        Convention::Palm => {
            let palm_options = FlopOptions {
                attention: AttentionCounting::Full,
                ..*options
            };
            flops::palm(model, params, &palm_options).training
        }
    }
}

/// Every convention's training FLOPs per token, in the order of [`Convention::ALL`].
pub fn all(
    model: &Model,
    params: &ParameterCounts,
    options: &FlopOptions,
) -> Vec<(Convention, f64)> {
    Convention::ALL
        .into_iter()
        .map(|c| (c, training_flops_per_token(c, model, params, options)))
        .collect()
}

// Reading the model. This is the only place that looks at `Model`'s fields, so that a change
// of the model's representation touches the conventions here alone.

/// The shapes the conventions read, as floats.
struct Shape {
    hidden: f64,
    vocab: f64,
    tied: bool,
    /// The two pre-norms of every decoder block (OLMo-core counts none of them).
    block_norm_params: f64,
    attention: AttentionShape,
    layers: Vec<LayerShape>,
    mtp_modules: f64,
}

#[derive(Clone, Copy)]
enum AttentionShape {
    Standard {
        heads: f64,
        kv_heads: f64,
        head_dim: f64,
        /// The value head width (MiMo-V2-Flash's `v_head_dim`; `head_dim` elsewhere).
        v_head_dim: f64,
    },
    Latent {
        heads: f64,
        q_lora_rank: Option<f64>,
        kv_lora_rank: f64,
        nope: f64,
        rope: f64,
        v: f64,
    },
    /// DeepSeek-V4's attention, which no framework's formula describes: its heads and head
    /// width for the attention core, and the weights of its own projection matrices (`q_a`,
    /// `q_b`, `kv`, the grouped `o_a` and `o_b`) for the frameworks that count projections
    /// matrix by matrix. The compressor, the indexer and the hyper-connections are in no
    /// formula's terms.
    DeepseekV4 {
        heads: f64,
        head_dim: f64,
        projection_weights: f64,
    },
}

impl AttentionShape {
    fn heads(self) -> f64 {
        match self {
            AttentionShape::Standard { heads, .. }
            | AttentionShape::Latent { heads, .. }
            | AttentionShape::DeepseekV4 { heads, .. } => heads,
        }
    }

    /// The query/key head width plus the value head width (`2Q` when they are equal).
    fn qk_plus_v(self) -> f64 {
        match self {
            AttentionShape::Standard {
                head_dim,
                v_head_dim,
                ..
            } => head_dim + v_head_dim,
            AttentionShape::Latent { nope, rope, v, .. } => nope + rope + v,
            AttentionShape::DeepseekV4 { head_dim, .. } => 2.0 * head_dim,
        }
    }
}

#[derive(Clone, Copy)]
struct MlpShape {
    matrices: f64,
    intermediate: f64,
}

#[derive(Clone, Copy)]
enum FfnShape {
    None,
    Dense(MlpShape),
    Moe {
        experts: f64,
        top_k: f64,
        expert: MlpShape,
        shared: Option<MlpShape>,
        /// The latent width the routed experts run on (Nemotron 3's latent MoE).
        latent: Option<f64>,
    },
}

/// The token mixer of a layer, with the widths the frameworks' linear-mixer terms read.
#[derive(Clone, Copy)]
enum MixerShape {
    /// Softmax attention; `output_gate` when `q_proj` also produces a gate (Qwen3-Next).
    Attention {
        output_gate: bool,
    },
    GatedDeltaNet {
        key_heads: f64,
        value_heads: f64,
        key_head_dim: f64,
        value_head_dim: f64,
        conv_kernel: f64,
    },
    Mamba2 {
        heads: f64,
        state_size: f64,
        groups: f64,
    },
    /// LFM2's gated short convolution, for which no convention has a term.
    ShortConv,
    /// Attention and a Mamba-2 mixer in one layer (Falcon-H1): each counted with the
    /// convention's own term for its kind.
    Parallel {
        output_gate: bool,
        heads: f64,
        state_size: f64,
        groups: f64,
    },
    None,
}

#[derive(Clone, Copy)]
struct LayerShape {
    mixer: MixerShape,
    ffn: FfnShape,
    sliding_window: Option<f64>,
}

impl LayerShape {
    /// The layer has softmax attention.
    fn attention(&self) -> bool {
        matches!(
            self.mixer,
            MixerShape::Attention { .. } | MixerShape::Parallel { .. }
        )
    }
}

impl Shape {
    fn of(model: &Model) -> Shape {
        let mlp = |m: &super::model::Mlp| MlpShape {
            matrices: m.matrices() as f64,
            intermediate: m.intermediate_size as f64,
        };
        // Every attention layer of the models these conventions describe has one shape; a model
        // without softmax attention (none is supported today) would have no attention terms.
        let no_attention = Attention::Standard(super::model::StandardAttention {
            num_heads: 0,
            num_kv_heads: 0,
            head_dim: 0,
            v_head_dim: 0,
            qkv_bias: false,
            output_bias: false,
            qk_norm: super::model::QkNorm::None,
        });
        let first = model
            .first_attention()
            .map_or(no_attention, |a| a.attention);
        let attention = match first {
            Attention::Standard(a) => AttentionShape::Standard {
                heads: a.num_heads as f64,
                kv_heads: a.num_kv_heads as f64,
                head_dim: a.head_dim as f64,
                v_head_dim: a.v_head_dim as f64,
            },
            Attention::Latent(a) => AttentionShape::Latent {
                heads: a.num_heads as f64,
                q_lora_rank: a.q_lora_rank.map(|r| r as f64),
                kv_lora_rank: a.kv_lora_rank as f64,
                nope: a.qk_nope_head_dim as f64,
                rope: a.qk_rope_head_dim as f64,
                v: a.v_head_dim as f64,
            },
            Attention::DeepseekV4(a) => {
                let (d, h, hd) = (
                    model.hidden_size as f64,
                    a.num_heads as f64,
                    a.head_dim as f64,
                );
                let (rank, o_rank) = (a.q_lora_rank as f64, a.o_lora_rank as f64);
                AttentionShape::DeepseekV4 {
                    heads: h,
                    head_dim: hd,
                    projection_weights: d * rank
                        + rank * h * hd
                        + d * hd
                        + h * hd * o_rank
                        + a.o_groups as f64 * o_rank * d,
                }
            }
        };
        let layers = model
            .layers
            .iter()
            .map(|layer| LayerShape {
                ffn: match &layer.ffn {
                    FeedForward::None => FfnShape::None,
                    FeedForward::Dense(m) => FfnShape::Dense(mlp(m)),
                    // Zero-computation experts (LongCat-Flash): no framework here has them;
                    // their MoE terms at the router's full width and the real experts a token
                    // runs on average.
                    FeedForward::MixtureOfExperts(moe) => FfnShape::Moe {
                        experts: moe.router_width() as f64,
                        top_k: moe.real_experts_per_token(),
                        expert: mlp(&moe.expert),
                        shared: moe.shared.as_ref().map(mlp),
                        latent: moe.latent.map(|latent| latent.size as f64),
                    },
                },
                mixer: match &layer.mixer {
                    Mixer::Attention(a) => MixerShape::Attention {
                        output_gate: a.output_gate,
                    },
                    // Kimi Delta Attention (a per-channel decay) too: no framework here has
                    // a term of its own for it, and their Gated DeltaNet terms read the same
                    // head shape (its low-rank gates count as their full-width z and a).
                    Mixer::GatedDeltaNet(g) => MixerShape::GatedDeltaNet {
                        key_heads: g.num_key_heads as f64,
                        value_heads: g.num_value_heads as f64,
                        key_head_dim: g.key_head_dim as f64,
                        value_head_dim: g.value_head_dim as f64,
                        conv_kernel: g.conv_kernel as f64,
                    },
                    Mixer::Mamba2(m) => MixerShape::Mamba2 {
                        heads: m.num_heads as f64,
                        state_size: m.state_size as f64,
                        groups: m.num_groups as f64,
                    },
                    Mixer::Parallel(p) => MixerShape::Parallel {
                        output_gate: p.attention.output_gate,
                        heads: p.mamba.num_heads as f64,
                        state_size: p.mamba.state_size as f64,
                        groups: p.mamba.num_groups as f64,
                    },
                    Mixer::ShortConv(_) => MixerShape::ShortConv,
                    // Mamba-1: the frameworks' Mamba term (Megatron's hybrid path is
                    // Mamba-2's) at its state, with one group (B and C once) and no heads.
                    Mixer::Mamba1(m) => MixerShape::Mamba2 {
                        heads: 0.0,
                        state_size: m.state_size as f64,
                        groups: 1.0,
                    },
                    // MiniMax's lightning attention: no framework here has a term of its own
                    // for it; their Gated DeltaNet terms at its heads (keys and values alike),
                    // with no convolution, are the nearest linear-attention count.
                    Mixer::Lightning(l) => MixerShape::GatedDeltaNet {
                        key_heads: l.num_heads as f64,
                        value_heads: l.num_heads as f64,
                        key_head_dim: l.head_dim as f64,
                        value_head_dim: l.head_dim as f64,
                        conv_kernel: 0.0,
                    },
                    Mixer::None => MixerShape::None,
                },
                // A query of a chunked layer sees at most its chunk, as of a sliding one its
                // window; a DSA layer's selected keys are no window the frameworks know.
                sliding_window: layer.mixer.attention().and_then(|a| match a.window {
                    AttentionWindow::Sliding(w) | AttentionWindow::Chunked(w) => Some(w as f64),
                    AttentionWindow::Full | AttentionWindow::TopK(_) => None,
                }),
            })
            .collect::<Vec<_>>();
        Shape {
            hidden: model.hidden_size as f64,
            vocab: model.vocab_size as f64,
            tied: model.tie_word_embeddings,
            block_norm_params: model.layers.iter().map(|l| l.norms).sum::<u64>() as f64
                * model.norm.params(model.hidden_size) as f64,
            attention,
            layers,
            mtp_modules: model.mtp_modules as f64,
        }
    }

    fn num_layers(&self) -> f64 {
        self.layers.len() as f64
    }

    /// Megatron-LM takes a model with Mamba layers through its hybrid path
    /// (`hybrid_layer_pattern`, Nemotron-H); Gated DeltaNet alone goes through its
    /// transformer path (`experimental_attention_variant`, `linear_attention_freq`).
    fn has_mamba(&self) -> bool {
        self.layers.iter().any(|l| {
            matches!(
                l.mixer,
                MixerShape::Mamba2 { .. } | MixerShape::Parallel { .. }
            )
        })
    }

    /// Whether the softmax attention has a gated `q_proj` (`attention_output_gate`).
    fn attention_output_gate(&self) -> bool {
        self.layers.iter().any(|l| {
            matches!(
                l.mixer,
                MixerShape::Attention { output_gate: true }
                    | MixerShape::Parallel {
                        output_gate: true,
                        ..
                    }
            )
        })
    }
}

// The conventions.

/// torchtitan: `6·N + 6·L·H·(Qk+Qv)·T`. `N` is `model.parameters()` less every `nn.Embedding`
/// (token and learned positions) unless the embedding is tied to the LM head; for MoE the routed
/// experts count `top_k / num_experts` of their parameters, router and shared experts in full.
fn torchtitan(shape: &Shape, params: &ParameterCounts, seq_len: f64) -> f64 {
    let n = if shape.tied {
        params.active as f64
    } else {
        params.active as f64 - params.embedding as f64
    };
    let attention =
        6.0 * shape.num_layers() * shape.attention.heads() * shape.attention.qk_plus_v() * seq_len;
    6.0 * n + attention
}

/// nanoGPT: `6·N + 12·L·H·Q·T` with `N = get_num_params()`, every parameter less the learned
/// position table, and `Q = n_embd // n_head`.
fn nanogpt(shape: &Shape, params: &ParameterCounts, seq_len: f64) -> f64 {
    let positions = params.embedding as f64 - shape.vocab * shape.hidden;
    let n = params.total as f64 - positions;
    let heads = shape.attention.heads();
    let q = (shape.hidden / heads).floor();
    6.0 * n + 12.0 * shape.num_layers() * heads * q * seq_len
}

/// OLMo-core: the sum over its modules, each `6 × its parameters`: attention (projections,
/// biases, q/k norms), feed-forward (MoE: router, shared MLP, experts × top_k/E) and the LM head
/// with its norm; the blocks' own norms and the embedding are in no module that counts. Each
/// attention layer adds `12·H·Q·min(W, T)`.
fn olmo_core(shape: &Shape, params: &ParameterCounts, seq_len: f64) -> f64 {
    // `active` counts a tied head once, as the embedding; OLMo-core's LM head is its own matrix.
    let head_if_tied = if shape.tied {
        shape.vocab * shape.hidden
    } else {
        0.0
    };
    let n = params.active as f64 - params.embedding as f64 + head_if_tied - shape.block_norm_params;
    let attention: f64 = shape
        .layers
        .iter()
        .filter(|layer| layer.attention())
        .map(|layer| {
            let keys = layer.sliding_window.map_or(seq_len, |w| w.min(seq_len));
            6.0 * shape.attention.heads() * shape.attention.qk_plus_v() * keys
        })
        .sum();
    6.0 * n + attention
}

/// Megatron's vocabulary padding with its default `--make-vocab-size-divisible-by 128` and
/// tensor parallelism 1.
pub fn megatron_padded_vocab(vocab_size: u64) -> u64 {
    vocab_size.div_ceil(128) * 128
}

/// Megatron-LM's `num_floating_point_operations` for one token of an unpacked (BSHD) batch:
/// `transformer_flops`, or `hybrid_flops` for a model with Mamba layers.
fn megatron(shape: &Shape, seq_len: f64, mtp_modules: f64) -> f64 {
    let d = shape.hidden;
    // 3 (forward, wgrad, dgrad) × 2 (multiply-add).
    let gemm = 6.0;
    let hybrid = shape.has_mamba();
    let ffn = |ffn: &FfnShape| match *ffn {
        FfnShape::None => 0.0,
        FfnShape::Dense(m) => gemm * d * m.intermediate * m.matrices,
        FfnShape::Moe {
            top_k,
            expert,
            shared,
            latent,
            ..
        } => {
            let shared = shared.map_or(0.0, |s| s.intermediate * s.matrices);
            let routed = expert.intermediate * top_k * expert.matrices;
            match latent {
                None => gemm * d * (routed + shared),
                // `moe_latent_size`: the routed experts run on the latent width, plus the
                // down and up projections; the shared expert on the hidden width.
                Some(latent) => gemm * (latent * routed + 2.0 * d * latent + d * shared),
            }
        }
    };
    let (attention_linear, attention_core) = match shape.attention {
        AttentionShape::Standard {
            heads,
            kv_heads,
            head_dim,
            v_head_dim,
        } => {
            let q = heads * head_dim;
            // Keys and values, and the heads' values o_proj reads (wider keys than values
            // for MiMo-V2-Flash; the same width elsewhere).
            let kv = kv_heads * (head_dim + v_head_dim);
            let o = heads * v_head_dim;
            // `attention_output_gate` widens the QKV projection by the query width; the
            // hybrid path's `attn_layer_flops` has no gate.
            let gate = if shape.attention_output_gate() && !hybrid {
                q
            } else {
                0.0
            };
            (
                gemm * (d * (q + kv + gate) + o * d),
                // Halved for the causal mask, for QKᵀ and (QKᵀ)V.
                gemm * (q + o) / 2.0 * seq_len,
            )
        }
        AttentionShape::Latent {
            heads,
            q_lora_rank,
            kv_lora_rank,
            nope,
            rope,
            v,
        } => {
            let q_term = match q_lora_rank {
                None => d * heads * (nope + rope),
                Some(rank) => rank * (d + heads * (nope + rope) + 1.0),
            };
            (
                gemm * (q_term
                    + kv_lora_rank * (d + heads * (nope + v) + 1.0)
                    + d * rope
                    + heads * v * d),
                gemm * (heads * (nope + rope) / 2.0 + heads * v / 2.0) * seq_len,
            )
        }
        // Each projection matrix as Megatron counts a linear layer; the core as standard
        // attention's, halved for the causal mask, over the whole sequence.
        AttentionShape::DeepseekV4 {
            heads,
            head_dim,
            projection_weights,
        } => (
            gemm * projection_weights,
            gemm * heads * head_dim / 2.0 * 2.0 * seq_len,
        ),
    };
    // `mamba_layer_flops`, which takes the inner width as 2·d (Mamba's `expand` 2) whatever
    // the heads say: in_proj, the scan (7·d_in·N), out_proj.
    let mamba = |heads: f64, state_size: f64, groups: f64| {
        let d_in = 2.0 * d;
        3.0 * (2.0 * d * (2.0 * d_in + 2.0 * groups * state_size + heads)
            + 7.0 * d_in * state_size
            + 2.0 * d_in * d)
    };
    let mixer = |mixer: &MixerShape| match *mixer {
        MixerShape::Attention { .. } => attention_linear + attention_core,
        // `gdn_layer_flops` (hybrid) and the transformer path's `linear_self_attn_term` are
        // one formula: in_proj (q, k, v, z and the per-head a, b), the convolution over q, k
        // and v, four head_v² products of the delta rule, out_proj.
        MixerShape::GatedDeltaNet {
            key_heads,
            value_heads,
            key_head_dim,
            value_head_dim,
            conv_kernel,
        } => {
            let qk = key_heads * key_head_dim;
            let v = value_heads * value_head_dim;
            gemm * (d * (2.0 * qk + 2.0 * v + 2.0 * value_heads)
                + conv_kernel * (2.0 * qk + v)
                + value_heads * value_head_dim * value_head_dim * 4.0
                + d * v)
        }
        MixerShape::Mamba2 {
            heads,
            state_size,
            groups,
        } => mamba(heads, state_size, groups),
        // Megatron has no parallel hybrid layer: its attention layer's and its Mamba layer's
        // terms, summed.
        MixerShape::Parallel {
            heads,
            state_size,
            groups,
            ..
        } => attention_linear + attention_core + mamba(heads, state_size, groups),
        // Megatron has no short-convolution layer and no term for one.
        MixerShape::ShortConv | MixerShape::None => 0.0,
    };
    let layers: f64 = shape
        .layers
        .iter()
        .map(|l| ffn(&l.ffn) + mixer(&l.mixer))
        .sum();
    let logits = gemm * d * megatron_padded_vocab(shape.vocab as u64) as f64 * (mtp_modules + 1.0);
    let Some(last) = shape.layers.last() else {
        return logits;
    };
    let mtp = if hybrid {
        // `hybrid_flops` counts MTP layers as pattern layers and their extra logits, nothing else.
        (ffn(&last.ffn) + mixer(&last.mixer)) * mtp_modules
    } else {
        // MTP modules repeat the last layer's feed-forward kind with softmax attention, plus
        // their norms and projection.
        (ffn(&last.ffn) + attention_linear + attention_core + gemm * (3.0 * d + 2.0 * d * d))
            * mtp_modules
    };
    layers + mtp + logits
}

/// MaxText's `calculate_tflops_training_per_device`, per token.
fn maxtext(shape: &Shape, seq_len: f64, mtp_modules: f64) -> f64 {
    let d = shape.hidden;
    // `calculate_ffn_mamtul_tflops_per_device`: 2·d·I per matrix (len(mlp_activations) + 1 of them).
    let mlp = |m: MlpShape| 2.0 * d * m.intermediate * m.matrices;
    let ffn = |ffn: &FfnShape| match *ffn {
        FfnShape::None => 0.0,
        FfnShape::Dense(m) => mlp(m),
        FfnShape::Moe {
            experts,
            top_k,
            expert,
            shared,
            latent,
        } => {
            // MaxText has no latent MoE; its expert term is taken at the width the experts run on.
            let routed = match latent {
                None => top_k * mlp(expert),
                Some(latent) => {
                    top_k * 2.0 * latent * expert.intermediate * expert.matrices
                        + 2.0 * 2.0 * d * latent
                }
            };
            2.0 * d * experts + routed + shared.map_or(0.0, mlp)
        }
    };
    // Keys per query under the causal mask: T/2, or T·W − W²/2 over T on a sliding-window layer.
    let causal_keys = |window: Option<f64>| {
        let w = window.map_or(seq_len, |w| w.min(seq_len));
        w - w * w / (2.0 * seq_len)
    };
    let heads = shape.attention.heads();
    let projections = match shape.attention {
        AttentionShape::Standard {
            heads,
            kv_heads,
            head_dim,
            v_head_dim,
        } => {
            2.0 * d * (heads * head_dim + kv_heads * (head_dim + v_head_dim))
                + 2.0 * d * heads * v_head_dim
        }
        AttentionShape::Latent {
            heads,
            q_lora_rank,
            kv_lora_rank,
            nope,
            rope,
            v,
        } => {
            let q = match q_lora_rank {
                None => 2.0 * d * heads * (nope + rope),
                Some(rank) => 2.0 * (d * rank + rank * heads * (nope + rope)),
            };
            let kv = 2.0 * (d * (kv_lora_rank + rope) + kv_lora_rank * heads * (nope + v));
            q + kv + 2.0 * d * heads * v
        }
        AttentionShape::DeepseekV4 {
            projection_weights, ..
        } => 2.0 * projection_weights,
    };
    let core =
        |window: Option<f64>| 2.0 * heads * shape.attention.qk_plus_v() * causal_keys(window);
    // MaxText counts windows in the decoders that mix local and global layers (Gemma 2 and 3,
    // GPT-OSS); a model with one window on every layer (Mistral) takes its default path, which
    // counts every layer as global.
    let windowed = shape
        .layers
        .iter()
        .filter(|l| l.sliding_window.is_some())
        .count();
    let mixed = windowed > 0 && windowed < shape.layers.len();
    let layers: f64 = shape
        .layers
        .iter()
        .map(|l| {
            let window = if mixed { l.sliding_window } else { None };
            let mixer = match l.mixer {
                // MaxText has no Mamba term: a parallel layer counts as its attention.
                MixerShape::Attention { .. } | MixerShape::Parallel { .. } => {
                    projections + core(window)
                }
                MixerShape::GatedDeltaNet {
                    key_heads,
                    value_heads,
                    key_head_dim,
                    value_head_dim,
                    conv_kernel,
                } => maxtext_gated_delta_net(
                    d,
                    key_heads,
                    value_heads,
                    key_head_dim,
                    value_head_dim,
                    conv_kernel,
                ),
                // MaxText has no Mamba decoder and no term for one.
                MixerShape::Mamba2 { .. } | MixerShape::ShortConv | MixerShape::None => 0.0,
            };
            ffn(&l.ffn) + mixer
        })
        .sum();
    let mtp = shape
        .layers
        .last()
        .map_or(0.0, |l| ffn(&l.ffn) + projections + core(None))
        * mtp_modules;
    let embedding = 2.0 * d * shape.vocab;
    3.0 * (layers + mtp + embedding)
}

/// MaxText's `calculate_gated_delta_net_flops_per_device` for one token, forward: in_proj
/// (q, k, v, z and the per-head a, b), out_proj, the convolution over q, k and v, and
/// `8·H_v·D_k·D_v` for the delta rule.
fn maxtext_gated_delta_net(
    d: f64,
    key_heads: f64,
    value_heads: f64,
    key_head_dim: f64,
    value_head_dim: f64,
    conv_kernel: f64,
) -> f64 {
    let k = key_heads * key_head_dim;
    let v = value_heads * value_head_dim;
    let projections = 2.0 * d * (2.0 * k + 2.0 * v + 2.0 * value_heads) + 2.0 * d * v;
    let conv = 2.0 * conv_kernel * (2.0 * k + v);
    let core = value_heads * key_head_dim * value_head_dim * 8.0;
    projections + conv + core
}

#[cfg(test)]
mod tests {
    use super::super::model::{
        AttentionLayer, Family, LatentAttention, Layer, Mixer, MixtureOfExperts, Mlp, Norm, QkNorm,
        RouterCorrection, StandardAttention,
    };
    use super::super::params;
    use super::*;

    /// Changes the attention of an attention layer.
    fn set_attention(layer: &mut Layer, change: impl Fn(&mut AttentionLayer)) {
        if let Mixer::Attention(attention) = &mut layer.mixer {
            change(attention);
        }
    }

    /// A small Llama-shaped model: d 64, 2 layers, 4 heads of 16, 2 KV heads, I 128, vocab 1000.
    fn llama(tied: bool, window: Option<u64>) -> Model {
        let attention = Attention::Standard(StandardAttention {
            num_heads: 4,
            num_kv_heads: 2,
            head_dim: 16,
            v_head_dim: 16,
            qkv_bias: false,
            output_bias: false,
            qk_norm: QkNorm::None,
        });
        Model {
            family: Family::Llama,
            hidden_size: 64,
            vocab_size: 1000,
            tie_word_embeddings: tied,
            lm_head_bias: false,
            learned_positions: None,
            norm: Norm::RmsNorm,
            layers: vec![
                Layer::new(
                    Mixer::Attention(
                        AttentionLayer::full(attention)
                            .with_window(AttentionWindow::sliding(window)),
                    ),
                    FeedForward::Dense(Mlp {
                        gated: true,
                        intermediate_size: 128,
                        bias: false,
                    }),
                );
                2
            ],
            vision: None,
            hyper_connections: None,
            ffn_activation_params: 0,
            mtp_modules: 0,
            per_layer_input: None,
            default_seq_len: 256,
        }
    }

    fn options(seq_len: u64) -> FlopOptions {
        FlopOptions {
            seq_len,
            attention: AttentionCounting::Full,
            include_mtp: false,
            recompute: flops::Recompute::None,
        }
    }

    fn count(convention: Convention, model: &Model, seq_len: u64) -> f64 {
        training_flops_per_token(convention, model, &params::count(model), &options(seq_len))
    }

    // Hand-computed per-token counts of the small model at T = 256, each from the framework's
    // formula written out: attention weights 64·(64 + 2·32) + 64·64 = 12,288; MLP 3·64·128 =
    // 24,576; norms 2·64 per layer; final norm 64; head 64,000; embedding 64,000.
    #[test]
    fn each_convention_matches_its_formula_written_out() {
        let model = llama(false, None);
        let layer_weights = 12_288.0 + 24_576.0;
        let head = 64_000.0;
        let t = 256.0;
        // torchtitan: N = everything less the embedding (norms in), 6·L·H·2Q·T.
        let n = 2.0 * (layer_weights + 128.0) + 64.0 + head;
        assert_eq!(
            count(Convention::Torchtitan, &model, 256),
            6.0 * n + 6.0 * 2.0 * 4.0 * 32.0 * t
        );
        // nanoGPT: every parameter, the input embedding too.
        assert_eq!(
            count(Convention::NanoGpt, &model, 256),
            6.0 * (n + 64_000.0) + 12.0 * 2.0 * 4.0 * 16.0 * t
        );
        // OLMo-core: no block norms.
        let olmo_n = 2.0 * layer_weights + 64.0 + head;
        assert_eq!(
            count(Convention::OlmoCore, &model, 256),
            6.0 * olmo_n + 2.0 * 12.0 * 4.0 * 16.0 * t
        );
        // Megatron: no norms, causal core, vocabulary padded to 1024.
        let megatron = 2.0 * (6.0 * layer_weights + 6.0 * 64.0 * t) + 6.0 * 64.0 * 1024.0;
        assert_eq!(count(Convention::Megatron, &model, 256), megatron);
        // MaxText: no norms, causal core (T/2 keys), unpadded vocabulary.
        let maxtext = 3.0 * (2.0 * (2.0 * layer_weights + 4.0 * 4.0 * 16.0 * t / 2.0) + 2.0 * head);
        assert_eq!(count(Convention::Maxtext, &model, 256), maxtext);
    }

    #[test]
    fn sliding_windows_reach_olmo_core_and_maxtext_only() {
        let full = llama(false, None);
        let windowed = llama(false, Some(64));
        let mut mixed = llama(false, None);
        set_attention(&mut mixed.layers[0], |a| {
            a.window = AttentionWindow::Sliding(64)
        });
        for convention in [
            Convention::Torchtitan,
            Convention::Megatron,
            Convention::NanoGpt,
        ] {
            assert_eq!(
                count(convention, &full, 256),
                count(convention, &windowed, 256),
                "{convention}"
            );
        }
        // OLMo-core: 12·H·Q·min(W, T) per layer, on every windowed layer.
        let olmo_saving_per_layer = 12.0 * 4.0 * 16.0 * (256.0 - 64.0);
        assert_eq!(
            count(Convention::OlmoCore, &full, 256) - count(Convention::OlmoCore, &windowed, 256),
            2.0 * olmo_saving_per_layer
        );
        assert_eq!(
            count(Convention::OlmoCore, &full, 256) - count(Convention::OlmoCore, &mixed, 256),
            olmo_saving_per_layer
        );
        // MaxText: one window on every layer is its default path (Mistral), which counts none;
        // where local and global layers mix, a local layer's forward is 4·(T·W − W²/2)/T·H·Q
        // instead of 2·T·H·Q.
        assert_eq!(
            count(Convention::Maxtext, &full, 256),
            count(Convention::Maxtext, &windowed, 256)
        );
        let local = 4.0 * (256.0 * 64.0 - 0.5 * 64.0 * 64.0) / 256.0 * 4.0 * 16.0;
        let global = 2.0 * 256.0 * 4.0 * 16.0;
        assert_eq!(
            count(Convention::Maxtext, &full, 256) - count(Convention::Maxtext, &mixed, 256),
            3.0 * (global - local)
        );
    }

    #[test]
    fn tied_embeddings_keep_the_head_in_every_count() {
        let untied = llama(false, None);
        let tied = llama(true, None);
        // The head is still a matmul; only nanoGPT's untied input embedding disappears.
        for convention in [
            Convention::Torchtitan,
            Convention::OlmoCore,
            Convention::Megatron,
            Convention::Maxtext,
            Convention::Palm,
        ] {
            assert_eq!(
                count(convention, &untied, 256),
                count(convention, &tied, 256),
                "{convention}"
            );
        }
        assert_eq!(
            count(Convention::NanoGpt, &untied, 256) - count(Convention::NanoGpt, &tied, 256),
            6.0 * 64_000.0
        );
    }

    #[test]
    fn moe_counts_routed_top_k_and_megatron_skips_the_router() {
        let mut model = llama(false, None);
        let expert = Mlp {
            gated: true,
            intermediate_size: 32,
            bias: false,
        };
        for layer in &mut model.layers {
            layer.ffn = FeedForward::MixtureOfExperts(MixtureOfExperts {
                zero_experts: 0,
                num_experts: 8,
                top_k: 2,
                expert,
                shared: None,
                shared_expert_gate: false,
                router_bias: false,
                router_correction: RouterCorrection::None,
                router_scales: false,
                latent: None,
            });
        }
        let dense = llama(false, None);
        let per_layer_moe = 2.0 * 3.0 * 64.0 * 32.0; // two experts of 3·d·I
        let per_layer_dense = 3.0 * 64.0 * 128.0;
        let router = 64.0 * 8.0;
        let expected_difference = 2.0 * 6.0 * (per_layer_dense - per_layer_moe - router);
        for convention in [
            Convention::Torchtitan,
            Convention::OlmoCore,
            Convention::Palm,
        ] {
            let difference = count(convention, &dense, 256) - count(convention, &model, 256);
            assert!(
                (difference - expected_difference).abs() < 1e-6,
                "{convention}: {difference}"
            );
        }
        let megatron =
            count(Convention::Megatron, &dense, 256) - count(Convention::Megatron, &model, 256);
        assert_eq!(megatron, 2.0 * 6.0 * (per_layer_dense - per_layer_moe));
        let maxtext =
            count(Convention::Maxtext, &dense, 256) - count(Convention::Maxtext, &model, 256);
        assert_eq!(
            maxtext,
            2.0 * 6.0 * (per_layer_dense - per_layer_moe - router)
        );
        // nanoGPT counts every expert.
        let nanogpt =
            count(Convention::NanoGpt, &dense, 256) - count(Convention::NanoGpt, &model, 256);
        assert_eq!(
            nanogpt,
            2.0 * 6.0 * (per_layer_dense - 4.0 * per_layer_moe - router)
        );
    }

    #[test]
    fn latent_attention_and_mtp_follow_megatron_and_maxtext() {
        let mut model = llama(false, None);
        let latent = Attention::Latent(LatentAttention {
            num_heads: 4,
            q_lora_rank: Some(32),
            kv_lora_rank: 16,
            qk_nope_head_dim: 16,
            qk_rope_head_dim: 8,
            v_head_dim: 16,
            bias: false,
        });
        for layer in &mut model.layers {
            set_attention(layer, |a| a.attention = latent);
        }
        model.mtp_modules = 1;
        let p = params::count(&model);
        let without = training_flops_per_token(Convention::Megatron, &model, &p, &options(256));
        let with_mtp = FlopOptions {
            include_mtp: true,
            ..options(256)
        };
        let with = training_flops_per_token(Convention::Megatron, &model, &p, &with_mtp);
        // One more layer (attention and MLP), its norms and projection, and the logits again.
        let (d, h, t) = (64.0, 4.0, 256.0);
        let linear = 6.0
            * (32.0 * (d + h * 24.0 + 1.0) + 16.0 * (d + h * 32.0 + 1.0) + d * 8.0 + h * 16.0 * d);
        let core = 6.0 * (h * 24.0 / 2.0 + h * 16.0 / 2.0) * t;
        let mlp = 6.0 * d * 128.0 * 3.0;
        let expected = linear + core + mlp + 6.0 * (3.0 * d + 2.0 * d * d) + 6.0 * d * 1024.0;
        assert!(
            (with - without - expected).abs() < 1e-6,
            "{}",
            with - without
        );
        // torchtitan never counts MTP.
        assert_eq!(
            training_flops_per_token(Convention::Torchtitan, &model, &p, &options(256)),
            training_flops_per_token(Convention::Torchtitan, &model, &p, &with_mtp)
        );
    }

    #[test]
    fn palm_convention_is_full_attention_whatever_the_option() {
        let model = llama(false, None);
        let p = params::count(&model);
        let causal = FlopOptions {
            attention: AttentionCounting::Causal,
            ..options(256)
        };
        let palm = training_flops_per_token(Convention::Palm, &model, &p, &causal);
        assert_eq!(palm, flops::palm(&model, &p, &options(256)).training);
    }

    #[test]
    fn vocabulary_padding_rounds_up_to_128() {
        assert_eq!(megatron_padded_vocab(128_256), 128_256);
        assert_eq!(megatron_padded_vocab(50_257), 50_304);
        assert_eq!(megatron_padded_vocab(151_936), 151_936);
        assert_eq!(megatron_padded_vocab(1), 128);
    }

    #[test]
    fn keys_round_trip_and_unknown_keys_are_none() {
        for convention in Convention::ALL {
            assert_eq!(Convention::from_key(convention.key()), Some(convention));
            assert!(!convention.includes().is_empty());
        }
        assert_eq!(Convention::from_key("detailed"), None);
        assert_eq!(Convention::from_key("Megatron"), None);
    }
}
