//! FLOPs per token by two formulas, PaLM's and a detailed per-component count.
//!
//! Every count is per token of a sequence of `seq_len` tokens, in FLOPs (a
//! multiply-add is two), matmuls only: norms, activations, softmax and the
//! embedding lookup cost nothing here, as in every MFU convention.
//! Training is forward plus backward, and backward is twice forward.
//!
//! `palm` is `6N + 12·L·H·Q·T` (PaLM appendix B, nanoGPT's `estimate_mfu`), with `N`
//! the parameters that take part in a matmul (for MoE, those one token uses).
//! `detailed` counts each matmul the reference implementation runs; its forward
//! equals what `torch.utils.flop_counter.FlopCounterMode` measures on the eager
//! reference implementation with full attention.

use std::fmt;
use std::str::FromStr;

use super::model::{
    Attention, AttentionLayer, AttentionWindow, DeepseekV4Attention, DeltaDecay, DsaIndexer,
    FeedForward, GatedDeltaNet, HyperConnections, KeyValue, KvCompression, Layer,
    LightningAttention, Mamba1, Mamba2, Mixer, Model,
};
use super::params::ParameterCounts;

/// How the attention-matrix matmuls are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionCounting {
    /// Every query against every key of the sequence (PaLM, nanoGPT, torchtitan).
    Full,
    /// Half of that, for the causal mask (Megatron since 2025, MaxText, FlashAttention).
    Causal,
}

impl AttentionCounting {
    pub fn as_str(self) -> &'static str {
        match self {
            AttentionCounting::Full => "full",
            AttentionCounting::Causal => "causal",
        }
    }
}

impl fmt::Display for AttentionCounting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for AttentionCounting {
    type Err = String;

    fn from_str(text: &str) -> Result<AttentionCounting, String> {
        match text {
            "full" => Ok(AttentionCounting::Full),
            "causal" => Ok(AttentionCounting::Causal),
            _ => Err("use full or causal".into()),
        }
    }
}

/// Activation recomputation, which adds hardware FLOPs but no model FLOPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recompute {
    None,
    /// The attention core (scores and weighted values) is recomputed in the backward pass.
    Selective,
    /// Every decoder layer's forward pass is recomputed in the backward pass.
    Full,
}

impl Recompute {
    pub fn as_str(self) -> &'static str {
        match self {
            Recompute::None => "none",
            Recompute::Selective => "selective",
            Recompute::Full => "full",
        }
    }
}

impl fmt::Display for Recompute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Recompute {
    type Err = String;

    fn from_str(text: &str) -> Result<Recompute, String> {
        match text {
            "none" => Ok(Recompute::None),
            "selective" => Ok(Recompute::Selective),
            "full" => Ok(Recompute::Full),
            _ => Err("use none, selective or full".into()),
        }
    }
}

/// The longest training sequence accepted, in tokens (2^25, past every context length trained
/// today): beyond it a value is a typo, and the attention terms would lose all meaning.
pub const MAX_SEQ_LEN: u64 = 1 << 25;

/// What the FLOP counts depend on besides the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlopOptions {
    pub seq_len: u64,
    pub attention: AttentionCounting,
    /// Count DeepSeek-V3's multi-token-prediction modules (off by default).
    pub include_mtp: bool,
    pub recompute: Recompute,
}

/// One formula's counts, in FLOPs per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FormulaFlops {
    pub forward: f64,
    /// Forward + backward: the model FLOPs of a training step.
    pub training: f64,
    /// Training plus recomputed forward work: what the hardware executes.
    pub hardware: f64,
}

/// A named part of the forward pass, summed over all layers, in FLOPs per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    pub name: &'static str,
    pub forward: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetailedFlops {
    pub totals: FormulaFlops,
    /// Forward FLOPs per token by component, in the order they run.
    pub components: Vec<Component>,
}

/// Keys one query is counted against in a layer whose queries see `window`.
pub fn keys_per_query(seq_len: u64, window: AttentionWindow, counting: AttentionCounting) -> f64 {
    let t = seq_len as f64;
    match window {
        AttentionWindow::Full | AttentionWindow::Sliding(_) | AttentionWindow::TopK(_) => {
            let window = match window {
                // A DSA query attends to the k keys its indexer selects, all while there
                // are fewer: a causal query i sees min(i + 1, k), as in a sliding window.
                AttentionWindow::Sliding(w) | AttentionWindow::TopK(w) => (w as f64).min(t),
                _ => t,
            };
            match counting {
                AttentionCounting::Full => window,
                // With a causal mask query i sees min(i + 1, window) keys; in the continuous
                // limit the mean is window − window²/(2T), which is T/2 without a window.
                AttentionCounting::Causal => window - window * window / (2.0 * t),
            }
        }
        AttentionWindow::Chunked(c) => {
            let chunk = (c as f64).min(t);
            match counting {
                AttentionCounting::Full => chunk,
                // Query j of its chunk sees j + 1 keys: half the chunk on average.
                AttentionCounting::Causal => chunk / 2.0,
            }
        }
    }
}

/// PaLM's `6N + 12·L·H·Q·T`, as nanoGPT and torchtitan compute it.
///
/// `T` is the sequence length in every layer: the formula knows nothing of sliding
/// windows (the detailed count does). For latent attention, whose score and value heads
/// differ in width, `2Q` is the query/key head width plus the value head width.
/// With MTP counted, each module adds its own active weights and the shared LM head to
/// `N` (the head runs again) and one layer to `L`.
pub fn palm(model: &Model, params: &ParameterCounts, options: &FlopOptions) -> FormulaFlops {
    let lm_head = model.vocab_size as f64 * model.hidden_size as f64;
    let mtp = options.include_mtp && model.mtp_modules > 0;
    let mtp_modules = if mtp { model.mtp_modules as f64 } else { 0.0 };
    let mtp_weights = if mtp {
        params.mtp_active as f64 + mtp_modules * lm_head
    } else {
        0.0
    };
    let n = params.matmul_active as f64 + mtp_weights;
    let keys = keys_per_query(options.seq_len, AttentionWindow::Full, options.attention);
    // Σ over attention layers of H·2Q (the MTP modules' layers are shaped like the last).
    let heads_times_width = |layer: &Layer| match &layer.mixer {
        Mixer::Attention(a) => {
            a.attention.num_heads() as f64
                * (a.attention.qk_head_dim() + a.attention.v_head_dim()) as f64
        }
        // Linear attention and Mamba layers have no T-proportional term in PaLM's formula.
        Mixer::Parallel(p) => {
            p.attention.attention.num_heads() as f64
                * (p.attention.attention.qk_head_dim() + p.attention.attention.v_head_dim()) as f64
        }
        Mixer::GatedDeltaNet(_)
        | Mixer::Mamba2(_)
        | Mixer::ShortConv(_)
        | Mixer::Lightning(_)
        | Mixer::Mamba1(_)
        | Mixer::None => 0.0,
    };
    let mtp_layers = model.layers.last().map_or(0.0, heads_times_width) * mtp_modules;
    let layers: f64 = model.layers.iter().map(heads_times_width).sum::<f64>() + mtp_layers;
    let attention_forward = layers * 2.0 * keys;
    let forward = 2.0 * n + attention_forward;
    let training = 3.0 * forward;
    let hardware = match options.recompute {
        Recompute::None => training,
        Recompute::Selective => training + attention_forward,
        // The layers are recomputed, not the LM head (as in the detailed count).
        Recompute::Full => training + forward - 2.0 * lm_head,
    };
    FormulaFlops {
        forward,
        training,
        hardware,
    }
}

/// Accumulates components by name, keeping first-seen order.
#[derive(Default)]
struct Tally {
    components: Vec<Component>,
}

impl Tally {
    fn add(&mut self, name: &'static str, flops: f64) {
        if flops == 0.0 {
            return;
        }
        match self.components.iter_mut().find(|c| c.name == name) {
            Some(component) => component.forward += flops,
            None => self.components.push(Component {
                name,
                forward: flops,
            }),
        }
    }

    fn sum_of(&self, names: &[&str]) -> f64 {
        self.components
            .iter()
            .filter(|c| names.contains(&c.name))
            .map(|c| c.forward)
            .sum()
    }
}

/// Adds the forward matmuls of one decoder layer.
fn add_layer(tally: &mut Tally, model: &Model, layer: &Layer, options: &FlopOptions) {
    let d = model.hidden_size as f64;
    // DeepSeek-V4's two hyper-connections, before the attention and the feed-forward block.
    if let Some(hc) = model.hyper_connections {
        tally.add("hyper_connections", 2.0 * hyper_connection_flops(d, hc));
    }
    match &layer.mixer {
        Mixer::Attention(attention) => add_attention_layer(tally, d, attention, options),
        Mixer::GatedDeltaNet(gdn) => add_gated_delta_net(tally, d, gdn, options.seq_len),
        Mixer::Mamba2(mamba) => add_mamba2(tally, d, mamba, options.seq_len),
        Mixer::Parallel(p) => {
            add_attention_layer(tally, d, &p.attention, options);
            add_mamba2(tally, d, &p.mamba, options.seq_len);
        }
        Mixer::Lightning(lightning) => {
            let inner = lightning.inner_dim() as f64;
            // qkv_proj and output_gate.
            tally.add("linear_attention_in", 2.0 * d * 4.0 * inner);
            tally.add(
                "linear_attention_core",
                lightning_core(lightning, options.seq_len),
            );
            tally.add("linear_attention_output", 2.0 * inner * d);
        }
        Mixer::Mamba1(mamba) => {
            let inner = mamba.inner as f64;
            tally.add("mamba_in", 2.0 * d * 2.0 * inner);
            tally.add("mamba_conv", 2.0 * inner * mamba.conv_kernel as f64);
            tally.add("mamba_scan", mamba1_scan(mamba));
            tally.add("mamba_output", 2.0 * inner * d);
        }
        Mixer::ShortConv(conv) => {
            tally.add("short_conv_in", 2.0 * d * 3.0 * d);
            tally.add("short_conv_conv", 2.0 * d * conv.kernel as f64);
            tally.add("short_conv_output", 2.0 * d * d);
        }
        Mixer::None => {}
    }
    add_feed_forward(tally, d, &layer.ffn);
    // Gemma 4's per-layer input: its gate (hidden → width) and projection (width → hidden).
    if let Some(ple) = model.per_layer_input {
        tally.add("per_layer_input", 2.0 * 2.0 * d * ple.width as f64);
    }
}

/// Adds the forward matmuls of one softmax-attention mixer: its projections and scores over
/// the keys its window leaves, its gates and its DSA indexer.
fn add_attention_layer(
    tally: &mut Tally,
    d: f64,
    attention: &AttentionLayer,
    options: &FlopOptions,
) {
    let mut keys = keys_per_query(options.seq_len, attention.window, options.attention);
    if let Attention::DeepseekV4(a) = &attention.attention {
        keys += compressed_keys_per_query(options.seq_len, a, options.attention);
    }
    add_attention(tally, d, &attention.attention, attention.key_value, keys);
    if let Attention::DeepseekV4(a) = &attention.attention {
        add_compression(tally, d, a, options);
    }
    // The gate half of a gated q_proj (only standard attention has one).
    if let (true, Attention::Standard(a)) = (attention.output_gate, attention.attention) {
        tally.add(
            "attention_gate",
            2.0 * d * a.num_heads as f64 * a.head_dim as f64,
        );
    }
    // Step-3.7's per-head gate projection (hidden → heads).
    if attention.head_gate {
        tally.add(
            "attention_gate",
            2.0 * d * attention.attention.num_heads() as f64,
        );
    }
    if let Some(indexer) = attention.indexer {
        let all_keys = keys_per_query(options.seq_len, AttentionWindow::Full, options.attention);
        add_dsa_indexer(tally, d, &indexer, all_keys);
    }
}

/// The compressed entries one query of a DeepSeek-V4 layer attends to, on top of its sliding
/// window: with `T / rate` complete windows compressed, every causally visible entry of an
/// HCA layer (all of them with full counting, as full attention over the compressed
/// sequence) and the `index_topk` its indexer selects on a CSA layer, all while there are
/// fewer (as a DSA layer over the compressed sequence).
pub fn compressed_keys_per_query(
    seq_len: u64,
    attention: &DeepseekV4Attention,
    counting: AttentionCounting,
) -> f64 {
    let Some(compression) = attention.compression else {
        return 0.0;
    };
    let entries = seq_len / compression.rate().max(1);
    if entries == 0 {
        return 0.0;
    }
    let window = match compression {
        KvCompression::Sparse { indexer, .. } => AttentionWindow::TopK(indexer.top_k),
        KvCompression::Heavy { .. } => AttentionWindow::Full,
    };
    keys_per_query(entries, window, counting)
}

/// A DeepSeek-V4 layer's compressor (`kv_proj` and `gate_proj`, over every token; the gated
/// pooling of each window is elementwise) and, on a CSA layer, its indexer, forward only: its
/// own compressor at its head width, `q_b_proj` from the query latent, `weights_proj`, and the
/// scores of every head against every compressed entry (their weighted sum over heads is
/// elementwise).
fn add_compression(
    tally: &mut Tally,
    d: f64,
    attention: &DeepseekV4Attention,
    options: &FlopOptions,
) {
    let hd = attention.head_dim as f64;
    // Shorter than one window, the compressor's output is empty: it runs forward, and nothing
    // is back-propagated through it.
    let compressor = |rate: u64| {
        if options.seq_len / rate.max(1) == 0 {
            "attention_compressor_no_window"
        } else {
            "attention_compressor"
        }
    };
    match attention.compression {
        Some(KvCompression::Sparse { rate, indexer }) => {
            tally.add(compressor(rate), 2.0 * 2.0 * d * 2.0 * hd);
            let (h, ihd) = (indexer.num_heads as f64, indexer.head_dim as f64);
            let entries = options.seq_len / rate.max(1);
            let scored = if entries == 0 {
                0.0
            } else {
                keys_per_query(entries, AttentionWindow::Full, options.attention)
            };
            let projections = 2.0 * 2.0 * d * 2.0 * ihd
                + 2.0 * attention.q_lora_rank as f64 * h * ihd
                + 2.0 * d * h;
            tally.add("csa_indexer", projections + 2.0 * scored * h * ihd);
        }
        Some(KvCompression::Heavy { rate }) => {
            tally.add(compressor(rate), 2.0 * 2.0 * d * hd);
        }
        None => {}
    }
}

/// One hyper-connection's matmuls per token: `fn` over the flattened streams
/// (`streams · hidden` → `(2 + streams) · streams`) and the mixing of the streams by the
/// `streams × streams` matrix (`streams² · hidden` multiply-adds).
fn hyper_connection_flops(d: f64, hc: HyperConnections) -> f64 {
    let n = hc.streams as f64;
    2.0 * n * d * (2.0 + n) * n + 2.0 * n * n * d
}

/// DSA indexer, forward only (it runs without gradients): its projections (`wq_b` from the
/// query latent, `wk`, `weights_proj`), the scores `q·k` of every head against every key,
/// and their weighted sum over heads.
fn add_dsa_indexer(tally: &mut Tally, d: f64, indexer: &DsaIndexer, keys: f64) {
    let (h, hd, rank) = (
        indexer.num_heads as f64,
        indexer.head_dim as f64,
        indexer.query_rank as f64,
    );
    let projections = 2.0 * rank * h * hd + 2.0 * d * hd + 2.0 * d * h;
    let scores = 2.0 * keys * h * hd + 2.0 * keys * h;
    tally.add("dsa_indexer", projections + scores);
}

/// Gated DeltaNet, the matmuls of `torch_chunk_gated_delta_rule` per value head and
/// token, with chunk `C` (64, or the sequence when shorter), key width `dk`, value
/// width `dv`: `k_β·kᵀ` and `q·kᵀ` within the chunk (`4·C·dk`), the intra-chunk
/// attention times the new values (`2·C·dv`), and the state's three products
/// (read by the keys, read by the queries, update: `6·dk·dv`). The two triangular
/// solves of the UT transform are not counted (the reference's solver is not a matmul).
///
/// Kimi Delta Attention ([`DeltaDecay::PerChannel`]), the matmuls of
/// `chunk_kimi_delta_attention`: its `k_β·kᵀ` and `q·kᵀ` are elementwise (per-channel decay)
/// and its forward substitution a loop of elementwise products, none of them counted; the
/// attention times `v_β` and times the decayed `k_β` (`2·C·dv + 2·C·dk`), times the new
/// values (`2·C·dv`), and the state's three products (`6·dk·dv`). Its projections are q, k,
/// v and b, and the low-rank decay and gate: `hidden → dk → key width` and
/// `hidden → dv → value width`.
fn add_gated_delta_net(tally: &mut Tally, d: f64, gdn: &GatedDeltaNet, seq_len: u64) {
    tally.add("linear_attention_in", gated_delta_net_input(d, gdn));
    tally.add(
        "linear_attention_conv",
        2.0 * gdn.conv_dim() as f64 * gdn.conv_kernel as f64,
    );
    tally.add("linear_attention_core", gated_delta_net_core(gdn, seq_len));
    tally.add("linear_attention_output", 2.0 * gdn.value_dim() as f64 * d);
}

/// The forward FLOPs per token of a Gated DeltaNet's input projections (see
/// [`add_gated_delta_net`]).
pub(crate) fn gated_delta_net_input(d: f64, gdn: &GatedDeltaNet) -> f64 {
    let (dk, dv) = (gdn.key_head_dim as f64, gdn.value_head_dim as f64);
    let (key_dim, value_dim) = (gdn.key_dim() as f64, gdn.value_dim() as f64);
    let heads = gdn.num_value_heads as f64;
    match gdn.decay {
        DeltaDecay::PerHead => 2.0 * d * (2.0 * key_dim + 2.0 * value_dim + 2.0 * heads),
        DeltaDecay::PerChannel => {
            2.0 * d * (2.0 * key_dim + value_dim + heads + dk + dv)
                + 2.0 * (dk * key_dim + dv * value_dim)
        }
    }
}

/// The forward FLOPs per token of a Gated DeltaNet's chunked delta rule, every head (see
/// [`add_gated_delta_net`]).
pub(crate) fn gated_delta_net_core(gdn: &GatedDeltaNet, seq_len: u64) -> f64 {
    let (dk, dv) = (gdn.key_head_dim as f64, gdn.value_head_dim as f64);
    let chunk = GatedDeltaNet::CHUNK.min(seq_len) as f64;
    let per_head = match gdn.decay {
        DeltaDecay::PerHead => 4.0 * chunk * dk + 2.0 * chunk * dv + 6.0 * dk * dv,
        DeltaDecay::PerChannel => 2.0 * chunk * dk + 4.0 * chunk * dv + 6.0 * dk * dv,
    };
    gdn.num_value_heads as f64 * per_head
}

/// MiniMax's lightning attention, the matmuls of `MiniMaxLightningAttention`'s block loop per
/// token, every head: a block of `b` tokens costs, per head, `q·kᵀ` and the decayed scores
/// times `v` (`2·b²·d_h` each), the decayed queries times the state and the state's update
/// `kᵀ·v` (`2·b·d_h²` each). The blocks are `block_size` tokens and a shorter last one, so
/// per token `h·(4·d_h·Σb²/T + 4·d_h²)`.
pub(crate) fn lightning_core(lightning: &LightningAttention, seq_len: u64) -> f64 {
    let t = seq_len.max(1);
    let block = lightning.block_size.max(1);
    let (full, rest) = ((t / block) as f64, (t % block) as f64);
    let squares = full * (block as f64) * (block as f64) + rest * rest;
    let hd = lightning.head_dim as f64;
    lightning.num_heads as f64 * (4.0 * hd * squares / t as f64 + 4.0 * hd * hd)
}

/// Mamba-1, the matmuls of `JambaMambaMixer` between its convolution and `out_proj`, per
/// token: `x_proj` (`2·i·(r + 2·n)`, inner width `i`, dt rank `r`, state `n`), `dt_proj`'s
/// weight times dt (`2·r·i`), and the sequential `mamba_selective_scan`'s read of the state by
/// C (`2·i·n`). Its discretisation and state update (`exp(A·dt)·h + dt·B·x`) are elementwise,
/// as are the `D` skip and the `silu(z)` gate: not counted.
pub(crate) fn mamba1_scan(mamba: &Mamba1) -> f64 {
    let (i, r, n) = (
        mamba.inner as f64,
        mamba.dt_rank as f64,
        mamba.state_size as f64,
    );
    2.0 * i * (r + 2.0 * n) + 2.0 * r * i + 2.0 * i * n
}

/// Mamba-2, the matmuls of `mamba2_chunk_scan` (SSD) per head and token, with chunk `L`
/// (`chunk_size`, or the sequence when shorter), head width `p`, state `n` and
/// `c = ⌈T/L⌉` chunks: `C·Bᵀ` within the chunk (`2·L·n`), its product with `x`
/// (`2·L·p`), the chunk states and their read by `C` (`2·p·n` each), and the recurrence
/// over chunk states, `2·(c+1)²·p·n` per sequence.
fn add_mamba2(tally: &mut Tally, d: f64, mamba: &Mamba2, seq_len: u64) {
    let (p, n) = (mamba.head_dim as f64, mamba.state_size as f64);
    let t = seq_len.max(1) as f64;
    let chunk = mamba.chunk_size.min(seq_len).max(1) as f64;
    let chunks = seq_len.div_ceil(mamba.chunk_size.max(1)) as f64;
    let inner = mamba.inner_dim() as f64;
    let in_width = (mamba.inner_dim() + mamba.conv_dim() + mamba.num_heads) as f64;
    tally.add("mamba_in", 2.0 * d * in_width);
    tally.add(
        "mamba_conv",
        2.0 * mamba.conv_dim() as f64 * mamba.conv_kernel as f64,
    );
    let per_head = 2.0 * chunk * n
        + 2.0 * chunk * p
        + 4.0 * p * n
        + 2.0 * (chunks + 1.0) * (chunks + 1.0) * p * n / t;
    tally.add("mamba_scan", mamba.num_heads as f64 * per_head);
    tally.add("mamba_output", 2.0 * inner * d);
}

/// Adds the forward matmuls of one softmax-attention layer whose queries see `keys` keys.
/// Attention sinks and logit soft-capping are elementwise: they cost nothing here.
/// A layer without its own value projection (`KeyIsValue`) or key and value projections
/// (`Shared`, Gemma 4's KV-shared layers) skips those matmuls but attends as any other.
fn add_attention(tally: &mut Tally, d: f64, attention: &Attention, key_value: KeyValue, keys: f64) {
    match *attention {
        Attention::Standard(a) => {
            let (h, kv) = (a.num_heads as f64, a.num_kv_heads as f64);
            let (hd, vd) = (a.head_dim as f64, a.v_head_dim as f64);
            // The widths of the key and value projections this layer runs.
            let (keys_width, values_width) = match key_value {
                KeyValue::Own => (kv * hd, kv * vd),
                KeyValue::KeyIsValue => (kv * hd, 0.0),
                KeyValue::Shared => (0.0, 0.0),
            };
            tally.add(
                "attention_qkv",
                2.0 * d * (h * hd + keys_width + values_width),
            );
            tally.add("attention_scores", 2.0 * keys * h * hd);
            tally.add("attention_values", 2.0 * keys * h * vd);
            tally.add("attention_output", 2.0 * h * vd * d);
        }
        Attention::Latent(a) => {
            let h = a.num_heads as f64;
            let qk = (a.qk_nope_head_dim + a.qk_rope_head_dim) as f64;
            let (nope, rope, v) = (
                a.qk_nope_head_dim as f64,
                a.qk_rope_head_dim as f64,
                a.v_head_dim as f64,
            );
            let kv_rank = a.kv_lora_rank as f64;
            match a.q_lora_rank {
                Some(rank) => {
                    let rank = rank as f64;
                    tally.add("attention_q_down", 2.0 * d * rank);
                    tally.add("attention_q_up", 2.0 * rank * h * qk);
                }
                None => tally.add("attention_q", 2.0 * d * h * qk),
            }
            tally.add("attention_kv_down", 2.0 * d * kv_rank);
            tally.add("attention_rope_key", 2.0 * d * rope);
            tally.add("attention_kv_up", 2.0 * kv_rank * h * (nope + v));
            tally.add("attention_scores", 2.0 * keys * h * qk);
            tally.add("attention_values", 2.0 * keys * h * v);
            tally.add("attention_output", 2.0 * h * v * d);
        }
        Attention::DeepseekV4(a) => {
            let (h, hd) = (a.num_heads as f64, a.head_dim as f64);
            let rank = a.q_lora_rank as f64;
            tally.add("attention_q_down", 2.0 * d * rank);
            tally.add("attention_q_up", 2.0 * rank * h * hd);
            // One head that is both the key and the value.
            tally.add("attention_kv", 2.0 * d * hd);
            tally.add("attention_scores", 2.0 * keys * h * hd);
            tally.add("attention_values", 2.0 * keys * h * hd);
            // o_a_proj: each group's heads · head_dim / groups channels to o_lora_rank.
            let o_rank = a.o_lora_rank as f64;
            tally.add("attention_output_groups", 2.0 * h * hd * o_rank);
            tally.add("attention_output", 2.0 * a.o_groups as f64 * o_rank * d);
        }
    }
}

/// Adds the forward matmuls of one feed-forward block (a MoE block: the routed top-k only).
fn add_feed_forward(tally: &mut Tally, d: f64, ffn: &FeedForward) {
    match *ffn {
        FeedForward::Dense(mlp) => {
            tally.add(
                "mlp",
                2.0 * mlp.matrices() as f64 * d * mlp.intermediate_size as f64,
            );
        }
        FeedForward::MixtureOfExperts(moe) => {
            tally.add("moe_router", 2.0 * d * moe.router_width() as f64);
            let width = moe.latent.map_or(d, |latent| latent.size as f64);
            let expert =
                2.0 * moe.expert.matrices() as f64 * width * moe.expert.intermediate_size as f64;
            // Picks of a zero-computation expert cost nothing: the real experts a token runs on
            // average (`top_k` where there are none).
            tally.add("moe_experts", moe.real_experts_per_token() * expert);
            if let Some(latent) = moe.latent {
                tally.add("moe_latent_projections", 2.0 * 2.0 * d * latent.size as f64);
            }
            let shared = moe.shared.map_or(0.0, |shared| {
                2.0 * shared.matrices() as f64 * d * shared.intermediate_size as f64
            });
            let gate = if moe.shared_expert_gate { 2.0 * d } else { 0.0 };
            tally.add("moe_shared_experts", shared + gate);
        }
        FeedForward::None => {}
    }
}

const LAYER_COMPONENTS: &[&str] = &[
    "attention_qkv",
    "attention_q",
    "attention_q_down",
    "attention_q_up",
    "attention_kv_down",
    "attention_rope_key",
    "attention_kv_up",
    "attention_kv",
    "attention_compressor",
    "attention_compressor_no_window",
    "csa_indexer",
    "attention_scores",
    "attention_values",
    "attention_output_groups",
    "attention_output",
    "attention_gate",
    "dsa_indexer",
    "linear_attention_in",
    "linear_attention_conv",
    "linear_attention_core",
    "linear_attention_output",
    "mamba_in",
    "mamba_conv",
    "mamba_scan",
    "mamba_output",
    "short_conv_in",
    "short_conv_conv",
    "short_conv_output",
    "mlp",
    "moe_router",
    "moe_experts",
    "moe_latent_projections",
    "moe_shared_experts",
    "per_layer_input",
    "hyper_connections",
];

/// Components that run without gradients: forward only, no backward.
pub const FORWARD_ONLY_COMPONENTS: &[&str] = &[
    "dsa_indexer",
    "csa_indexer",
    "attention_compressor_no_window",
];

/// Counts every matmul of the forward pass, component by component.
pub fn detailed(model: &Model, options: &FlopOptions) -> DetailedFlops {
    let d = model.hidden_size as f64;
    let mut tally = Tally::default();
    for layer in &model.layers {
        add_layer(&mut tally, model, layer, options);
    }
    // Gemma 4's per_layer_model_projection (hidden → layers · width), once before the layers.
    if let Some(ple) = model.per_layer_input {
        let width = model.layers.len() as f64 * ple.width as f64;
        tally.add("per_layer_input_projection", 2.0 * d * width);
    }
    // DeepSeek-V4's hyper-connection head, once after the layers.
    if let Some(hc) = model.hyper_connections {
        let n = hc.streams as f64;
        tally.add("hyper_connection_head", 2.0 * n * d * n);
    }
    let layers_forward = tally.sum_of(LAYER_COMPONENTS);
    let attention_core = tally.sum_of(&["attention_scores", "attention_values"]);
    // The embedding lookup is a gather; the LM head is a matmul whether or not it is tied.
    tally.add("lm_head", 2.0 * d * model.vocab_size as f64);
    if options.include_mtp && model.mtp_modules > 0 {
        // Each module projects [norm(h); norm(emb)] from 2d to d, runs one decoder layer
        // shaped like the last one, and the shared LM head.
        let mut block = Tally::default();
        if let Some(last) = model.layers.last() {
            add_layer(&mut block, model, last, options);
        }
        let block_forward: f64 = block.components.iter().map(|c| c.forward).sum();
        let per_module = 2.0 * 2.0 * d * d + block_forward + 2.0 * d * model.vocab_size as f64;
        tally.add("mtp", model.mtp_modules as f64 * per_module);
    }
    let forward: f64 = tally.components.iter().map(|c| c.forward).sum();
    // Backward is twice the forward of every matmul that is back-propagated; the DSA
    // indexer runs without gradients, and nothing is back-propagated through DeepSeek-V4's
    // indexer (its output is indices) (training = forward + 2 × (forward − indexer)).
    let training = 3.0 * forward - 2.0 * tally.sum_of(FORWARD_ONLY_COMPONENTS);
    let hardware = match options.recompute {
        Recompute::None => training,
        Recompute::Selective => training + attention_core,
        Recompute::Full => training + layers_forward,
    };
    DetailedFlops {
        totals: FormulaFlops {
            forward,
            training,
            hardware,
        },
        components: tally.components,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::model::{
        AttentionLayer, FeedForward, Mlp, Norm, QkNorm, StandardAttention,
    };
    use crate::accounting::model::{Family, Model};
    use crate::accounting::params;

    /// A small Mistral-like model: 2 layers, d=64, 4 heads of 16, 2 KV heads, window `w`.
    fn model(window: Option<u64>) -> Model {
        Model {
            family: Family::Mistral,
            hidden_size: 64,
            vocab_size: 100,
            tie_word_embeddings: false,
            lm_head_bias: false,
            learned_positions: None,
            norm: Norm::RmsNorm,
            layers: vec![
                Layer::new(
                    Mixer::Attention(
                        AttentionLayer::full(Attention::Standard(StandardAttention {
                            num_heads: 4,
                            num_kv_heads: 2,
                            head_dim: 16,
                            v_head_dim: 16,
                            qkv_bias: false,
                            output_bias: false,
                            qk_norm: QkNorm::None,
                        }))
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
            mtp_modules: 0,
            per_layer_input: None,
            default_seq_len: 64,
            vision: None,
            hyper_connections: None,
            ffn_activation_params: 0,
        }
    }

    fn options(seq_len: u64, attention: AttentionCounting) -> FlopOptions {
        FlopOptions {
            seq_len,
            attention,
            include_mtp: false,
            recompute: Recompute::None,
        }
    }

    fn component(d: &DetailedFlops, name: &str) -> f64 {
        d.components
            .iter()
            .find(|c| c.name == name)
            .map_or(0.0, |c| c.forward)
    }

    #[test]
    fn sliding_window_caps_detailed_attention_but_not_palm() {
        let (windowed, plain) = (model(Some(16)), model(None));
        let o = options(64, AttentionCounting::Full);
        let scores = component(&detailed(&windowed, &o), "attention_scores");
        // 2 layers × 2 · keys · H · Q with keys = 16, not 64.
        assert_eq!(scores, 2.0 * 2.0 * 16.0 * 4.0 * 16.0);
        assert_eq!(
            component(&detailed(&plain, &o), "attention_scores"),
            4.0 * scores
        );
        let p = params::count(&windowed);
        assert_eq!(palm(&windowed, &p, &o), palm(&plain, &p, &o));
    }

    #[test]
    fn causal_counting_averages_keys_per_query() {
        let m = model(None);
        let full = component(
            &detailed(&m, &options(64, AttentionCounting::Full)),
            "attention_values",
        );
        let causal = component(
            &detailed(&m, &options(64, AttentionCounting::Causal)),
            "attention_values",
        );
        assert_eq!(causal * 2.0, full);
        // With a window of 16 in 64 tokens: 16 − 16²/128 = 14 keys per query on average.
        let windowed = model(Some(16));
        let values = component(
            &detailed(&windowed, &options(64, AttentionCounting::Causal)),
            "attention_values",
        );
        assert_eq!(values, 2.0 * 2.0 * 14.0 * 4.0 * 16.0);
    }

    #[test]
    fn recomputation_adds_hardware_flops_only() {
        let m = model(None);
        let p = params::count(&m);
        let base = options(64, AttentionCounting::Full);
        let none = detailed(&m, &base).totals;
        let selective = detailed(
            &m,
            &FlopOptions {
                recompute: Recompute::Selective,
                ..base
            },
        );
        let full = detailed(
            &m,
            &FlopOptions {
                recompute: Recompute::Full,
                ..base
            },
        )
        .totals;
        assert_eq!(selective.totals.training, none.training);
        let core =
            component(&selective, "attention_scores") + component(&selective, "attention_values");
        assert_eq!(selective.totals.hardware, none.training + core);
        // Full recomputation re-runs every layer but not the LM head.
        assert_eq!(
            full.hardware,
            none.training + none.forward - 2.0 * 64.0 * 100.0
        );
        let palm_full = palm(
            &m,
            &p,
            &FlopOptions {
                recompute: Recompute::Full,
                ..base
            },
        );
        assert_eq!(
            palm_full.hardware,
            4.0 * palm_full.forward - 2.0 * 64.0 * 100.0
        );
    }
}
