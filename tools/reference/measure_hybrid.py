#!/usr/bin/env python3
"""Reference measurements for the hybrid and sparse layer kinds of mfu-exporter.

README
======

What this measures
------------------
The same quantities as ``measure.py`` (read its README first), for the model types
whose layers are not all softmax attention plus an MLP:

* ``llama4`` / ``llama4_text``: top-1 routed expert plus a shared expert, MoE every
  ``interleave_moe_layer_step`` layers, dense layers ``intermediate_size_mlp`` wide,
  chunked attention on the RoPE layers, full attention on the NoPE layers;
* ``qwen3_next``, ``qwen3_5_moe`` / ``qwen3_5_moe_text``: Gated DeltaNet linear
  attention on most layers (``layer_types``), gated query projection on the others,
  a shared expert with its sigmoid gate; ``qwen3_5`` / ``qwen3_5_text`` the same
  layers with a dense gated MLP;
* ``deepseek_v32``, ``glm_moe_dsa``: DeepSeek Sparse Attention, MLA plus a per-layer
  indexer that scores every key and runs under ``torch.no_grad()``;
* ``deepseek_v4``: DeepSeek-V4's attention (one K=V head, a sliding window plus
  compressed entries: CSA layers with a lightning indexer, HCA layers without),
  the grouped output projection and the hyper-connection streams;
* ``nemotron_h``: one mixer per block (Mamba-2, attention, MLP or MoE) chosen by
  ``hybrid_override_pattern``;
* ``granitemoehybrid``: Bamba's Mamba-2 mixer or NoPE (or RoPE) attention per layer from
  ``layer_types``, then a MoE block with a shared expert, or the shared MLP alone when
  ``num_local_experts`` is 0;
* ``bamba``: the same Mamba-2 mixer on every layer but ``attn_layer_indices`` (attention),
  and a gated MLP on every layer;
* ``mamba2``: pure Mamba-2, the same mixer behind one norm on every layer, no MLP;
* ``falcon_h1``: attention and the Mamba-2 mixer side by side on every layer, then a gated MLP;
* ``lfm2``: gated short convolutions or attention per layer (``layer_types`` or
  ``full_attn_idxs``), a SwiGLU MLP on every layer;
* ``kimi_linear``: Kimi Delta Attention (a Gated DeltaNet with a per-channel decay) or
  DeepSeek-V3's latent attention without RoPE per layer, DeepSeek-V3's MoE with a shared
  expert on the ``sparse`` layers;
* ``minimax``: MiniMax's lightning attention or softmax attention per layer
  (``layer_types``), a MoE without shared expert on every layer;
* ``jamba``: a Mamba-1 mixer or attention per layer (``attn_layer_period`` and
  ``_offset``), a MoE every ``expert_layer_period`` layers and a gated MLP elsewhere;
* ``longcat_flash``: two MLA-and-MLP sublayers per layer and a shortcut MoE with
  zero-computation experts.
* ``lfm2_moe``: LFM2's short convolutions or attention per layer (``layer_types``), dense
  MLPs on the first ``num_dense_layers`` layers and sigmoid-routed experts on the others;
* ``olmo_hybrid``: Gated DeltaNet (separate q/k/v/a/b/g projections) or OLMo 3 attention
  per layer (``layer_types``, else every fourth layer attention), a gated MLP on every layer.

For every case it records ``params`` (as ``measure.py``; for a multimodal
``model_type`` built with its ``*ForConditionalGeneration`` class, ``params.total``
is the language model -- the decoder, its embeddings and LM head -- and
``params.vision`` is the rest: vision tower, projector, audio tower), and, for the
small CPU cases, ``flops`` at each sequence length of ``seq_lens``:

* ``forward`` / ``forward_backward`` and ``by_op`` / ``by_op_forward_backward``:
  ``FlopCounterMode`` totals, exactly as ``measure.py`` measures them (eager
  attention, eager experts, the model's own causal-LM loss);
* ``modules``: forward FLOPs per module, the decoder layer index replaced by ``*``
  (so ``model.layers.*.linear_attn`` is the sum over the layers that have it);
  a module's figure includes its children;
* ``parts``: the figures the Rust tests compare component by component, each
  derived from ``modules`` / ``by_op`` only (never from a formula): for example
  ``gdn_core`` is ``linear_attn`` minus its input and output projections minus the
  convolution, and ``indexer`` is the ``self_attn.indexer`` modules.

What the reference computes that the model does not need, and the reverse
-------------------------------------------------------------------------
Each fixture's ``notes`` say which of these apply; the Rust tests subtract them
from the measured figures explicitly.

* **Depthwise conv1d** (Gated DeltaNet and Mamba-2): ``FlopCounterMode`` counts the
  forward over ``T + K - 1`` output positions (the causal padding, cut afterwards)
  and the backward as if the convolution were dense (``aten.convolution_backward``
  is ``channels + 1`` times the forward for a depthwise kernel). The model costs
  ``2 * channels * K`` per token forward and twice that backward.
* **Gated DeltaNet triangular solves**: ``torch.linalg.solve_triangular`` is not a
  counted operator (0 FLOPs forward), but its backward's ``grad_A = -grad_B @ X^T``
  is a counted matmul. The model count leaves the solves out, forward and backward.
* **Kimi Delta Attention** (``chunk_kimi_delta_attention``): the per-channel decay makes
  the within-chunk ``k_beta . k`` and ``q . k`` products elementwise-and-sum, and the
  forward substitution is a loop of elementwise products: ``FlopCounterMode`` counts none
  of them, forward or backward, nor does the model count. The same zero initial state and
  unused final state as Gated DeltaNet's skip part of the backward (``boundaries``).
* **Lightning attention** (MiniMax): the block loop's four matmuls per block are counted
  on both sides; the zero initial state needs no gradient (the first block's state read
  loses its grad-of-state half) and the last block's state update is never used (no
  backward), which the model count (backward = 2 x forward) does not know (``boundaries``).
* **Mamba-1** (Jamba): the sequential ``mamba_selective_scan`` (the associative scan runs only
  under ``torch.compile``) has one counted matmul per token, the state read by C; the
  discretisation and the state update are elementwise, counted by neither side.
* **Zero-computation experts** (LongCat-Flash): a token's ``moe_topk`` picks land on real or
  identity experts as the router decides; the reference runs the real ones only. The model
  counts ``top_k * E / (E + Z)`` real experts per token (picks spread evenly); the fixtures
  record the picks the measured forward made (``zero_experts``) and adjust by the difference.
* **Gated DeltaNet chunk padding**: the reference pads the sequence to a multiple
  of its chunk (64); the cases here use multiples of 64.
* **Llama 4 experts**: ``Llama4TextExperts`` runs every expert on every token
  (``torch.bmm`` over ``num_local_experts`` copies of the tokens, most multiplied by
  a zero router score); the model FLOPs are the routed ``top_k`` experts only.
  ``flops[*].experts`` records both figures.
* **DSA indexer**: runs under ``torch.no_grad()``: it appears in the forward and
  never in the backward. The main attention in eager mode multiplies every key
  (the indexer's top-k becomes a mask), so at ``seq_len <= index_topk`` it computes
  what the model needs; past ``index_topk`` the model attends to ``index_topk`` keys.
* **DeepSeek-V4 attention**: eager attention multiplies every uncompressed key under
  the sliding-window mask and every compressed entry (``T // rate`` of them) under the
  causal block bias or, on a CSA layer, the indexer's top-k mask; the model needs
  ``sliding_window`` keys plus ``index_topk`` entries on a CSA layer. Past either, the
  fixtures subtract the difference (``deepseek_v4_attention``). The CSA indexer returns
  top-k indices, so autograd never runs backward through it: it is in the forward only,
  as the model count has it. The compressors' gated pooling, the Sinkhorn iterations,
  the hyper-connections' collapse and expand and the indexer's weighted head sum are
  elementwise (no FLOPs counted, none in the model count).
* **Chunked attention** (Llama 4): eager attention multiplies the full ``T x T``
  scores under a chunk mask; at ``seq_len <= attention_chunk_size`` that is what the
  model needs.

Requirements and how to re-run
------------------------------
Python 3.11, torch 2.15.0 (CPU), transformers 5.24.0, as ``measure.py``. From the
repository root::

    python3 tools/reference/measure_hybrid.py            # all cases
    python3 tools/reference/measure_hybrid.py tiny-qwen3-next   # only these
    python3 tools/reference/measure_hybrid.py --list

Output goes to ``tests/fixtures/reference/hybrid/``. The real configs are built on
the meta device (parameters only); the small ones on CPU in float32. A full run
takes a few minutes on 2 cores and under 4 GiB of memory.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import time
from collections import OrderedDict

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText
from transformers.configuration_utils import PreTrainedConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import ROOT, group_name  # noqa: E402

OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "reference", "hybrid")
MULTIMODAL = {"llama4", "qwen3_5_moe", "qwen3_5", "gemma4"}
# Parameter-name prefixes of the language model inside a *ForConditionalGeneration.
LANGUAGE_PREFIXES = ("model.language_model.", "language_model.", "lm_head.")


def make_config(cfg: dict):
    # {"__float__": "Infinity"} (transformers 5's save_pretrained) decoded as from_pretrained does.
    d = PreTrainedConfig._decode_special_floats(copy.deepcopy(cfg))
    return AutoConfig.for_model(d.pop("model_type"), **d)


def build(cfg: dict, method: str):
    config = make_config(cfg)
    kwargs = dict(attn_implementation="eager", experts_implementation="eager", dtype=torch.float32)
    auto = AutoModelForImageTextToText if cfg["model_type"] in MULTIMODAL else AutoModelForCausalLM
    if method == "meta":
        with torch.device("meta"):
            model = auto.from_config(config, **kwargs)
    else:
        torch.manual_seed(0)
        model = auto.from_config(config, **kwargs)
    model.eval()
    return model


def count_all_params(model):
    """(every parameter, by module, persistent buffers): the language model and any vision
    tower together, which `split_params` tells apart by module prefix."""
    by = OrderedDict()
    for name, p in model.named_parameters():
        k = group_name(name)
        by[k] = by.get(k, 0) + p.numel()
    param_names = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    state = set(model.state_dict().keys())
    buffers = OrderedDict()
    for name, b in model.named_buffers():
        if name in state and name not in param_names:
            k = group_name(name)
            buffers[k] = buffers.get(k, 0) + b.numel()
    return sum(p.numel() for p in model.parameters()), by, buffers


def split_params(model, cfg):
    total, by, buffers = count_all_params(model)
    params = OrderedDict()
    if cfg["model_type"] in MULTIMODAL:
        language = sum(n for k, n in by.items() if k.startswith(LANGUAGE_PREFIXES))
        vision = OrderedDict((k, n) for k, n in by.items() if not k.startswith(LANGUAGE_PREFIXES))
        params["total"] = language
        params["vision"] = sum(vision.values())
        params["vision_by_module"] = vision
        params["model_total"] = total
        params["by_module"] = OrderedDict((k, n) for k, n in by.items() if k.startswith(LANGUAGE_PREFIXES))
    else:
        params["total"] = total
        params["by_module"] = by
    if buffers:
        params["buffers_not_counted"] = buffers
    return params


LAYER_RE = re.compile(r"(^|\.)(layers)\.\d+\.")


def module_key(name: str) -> str:
    # FlopCounterMode names modules "<Class>.model.layers.0.mlp"; drop the class.
    name = name.split(".", 1)[1] if "." in name else ""
    name = LAYER_RE.sub(r"\1\2.*.", name + ".").rstrip(".")
    return name


def language_input_ids(model, batch, seq_len):
    config = model.config
    text = getattr(config, "text_config", None) or config
    g = torch.Generator().manual_seed(1)
    # Stay clear of special image/video/audio token ids, which a multimodal model
    # would try to replace with vision features.
    high = min(text.vocab_size, 1000)
    return torch.randint(0, high, (batch, seq_len), generator=g)


def measure(model, batch, seq_len):
    ids = language_input_ids(model, batch, seq_len)
    mask = torch.ones(batch, seq_len, dtype=torch.long)

    def collect(counter):
        counts = counter.get_flop_counts()
        glob = counts.get("Global", {})
        by_op = OrderedDict(sorted((str(k), int(v)) for k, v in glob.items()))
        modules = OrderedDict()
        for name, ops in counts.items():
            if name == "Global":
                continue
            key = module_key(name)
            if not key:
                continue
            modules[key] = modules.get(key, 0) + sum(int(v) for v in ops.values())
        conv = sum(int(v) for k, v in glob.items() if str(k) == "aten.convolution")
        return int(counter.get_total_flops()), by_op, modules, conv

    with torch.no_grad():
        fc = FlopCounterMode(display=False)
        with fc:
            model(input_ids=ids, attention_mask=mask, use_cache=False)
    fwd, fwd_by_op, modules, _ = collect(fc)
    model.zero_grad(set_to_none=True)
    fc = FlopCounterMode(display=False)
    with fc:
        out = model(input_ids=ids, attention_mask=mask, labels=ids, use_cache=False)
        out.loss.backward()
    fb, fb_by_op, _, _ = collect(fc)
    model.zero_grad(set_to_none=True)
    return OrderedDict(
        seq_len=seq_len,
        batch=batch,
        forward=fwd,
        forward_backward=fb,
        by_op=fwd_by_op,
        by_op_forward_backward=fb_by_op,
        modules=OrderedDict(sorted(modules.items())),
    )


def parts(model_type, m):
    """Figures derived from the measured modules, for component-level comparisons."""
    mods = m["modules"]
    get = lambda k: mods.get(k, 0)  # noqa: E731
    p = OrderedDict()
    conv = m["by_op"].get("aten.convolution", 0)
    if conv:
        p["conv1d_forward"] = conv
        p["conv1d_backward"] = m["by_op_forward_backward"].get("aten.convolution_backward", 0)
    if "model.layers.*.linear_attn" in mods or "model.language_model.layers.*.linear_attn" in mods:
        base = "model.layers.*.linear_attn" if "model.layers.*.linear_attn" in mods else "model.language_model.layers.*.linear_attn"
        projections = sum(
            v for k, v in mods.items() if k.startswith(base + ".") and k.count(".") == base.count(".") + 1
        )
        p["gdn_projections"] = projections
        p["gdn_core"] = get(base) - projections - conv
    if "model.layers.*.mixer" in mods:
        # Nemotron-H: the Mamba-2 mixers are the blocks with an in_proj.
        p["mamba_projections"] = get("model.layers.*.mixer.in_proj") + get("model.layers.*.mixer.out_proj")
    if "model.layers.*.mamba" in mods:
        # Bamba and Granite 4.0-H: the Mamba-2 mixer of a layer is its `mamba`.
        p["mamba_projections"] = get("model.layers.*.mamba.in_proj") + get("model.layers.*.mamba.out_proj")
    for suffix in ("self_attn.indexer", "self_attn.compressor.indexer", "feed_forward.experts", "mlp.experts",
                   "mixer.experts"):
        for prefix in ("model.layers.*.", "model.language_model.layers.*."):
            if prefix + suffix in mods:
                p[suffix.replace(".", "_")] = get(prefix + suffix)
    return p


def run_case(case):
    t0 = time.time()
    cfg = case["config"]
    model = build(cfg, case["method"])
    params = split_params(model, cfg)
    flops = []
    if case["method"] == "cpu":
        for seq_len in case.get("seq_lens", []):
            m = measure(model, case.get("batch", 1), seq_len)
            m["parts"] = parts(cfg["model_type"], m)
            extra = case.get("experts")
            if extra:
                m["experts"] = extra(model, m)
            m["reconciliation"] = reconcile(model, m)
            flops.append(m)
    fixture = OrderedDict(
        case=case["name"],
        description=case["description"],
        source=case.get("source"),
        config=cfg,
        params=params,
        flops=flops,
        notes=case.get("notes", []),
        method=case["method"],
        dtype="float32",
        attn_implementation="eager",
        experts_implementation="eager",
        model_class=type(model).__name__,
        torch=torch.__version__,
        transformers=transformers.__version__,
    )
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, f"{case['name']}.json"), "w") as f:
        json.dump(fixture, f, indent=2)
        f.write("\n")
    summary = " ".join(f"T={m['seq_len']}:fwd={m['forward']},fb={m['forward_backward']}" for m in flops)
    print(f"{case['name']}: params={params['total']} vision={params.get('vision')} {summary} ({time.time() - t0:.1f}s)")
    del model


def text_config(model):
    return getattr(model.config, "text_config", None) or model.config


def reconcile(model, m):
    """From the measured FLOPs to the model FLOPs, one explained adjustment at a time.

    Every ``adjustments`` entry has the FLOPs to subtract from the measured forward
    (``forward``) and from the measured forward+backward (``training``). The result,
    ``model_forward`` / ``model_training``, is what the model itself costs under the
    README's counting rules: the routed experts only, each depthwise convolution at
    2*channels*K per token forward and twice that backward, no triangular solves,
    backward = 2 x forward for every other matmul, the DSA indexer forward only.
    """
    text = text_config(model)
    tokens = m["seq_len"] * m["batch"]
    T, B = m["seq_len"], m["batch"]
    adj = []

    convs = [mod for name, mod in model.named_modules() if isinstance(mod, torch.nn.Conv1d) and "language" not in name and ("linear_attn" in name or "mixer" in name or ".mamba" in name or name.endswith(".conv.conv") or name.endswith(".self_attn.conv1d"))]
    if convs:
        counted_fwd = m["by_op"].get("aten.convolution", 0)
        counted_bwd = m["by_op_forward_backward"].get("aten.convolution_backward", 0)
        model_fwd = sum(2 * mod.weight.shape[0] * mod.weight.shape[-1] * tokens for mod in convs)
        adj.append(OrderedDict(
            what="depthwise conv1d: the reference counts T+K-1 output positions forward and a dense "
            "convolution backward; the model 2*channels*K per token forward, twice that backward",
            forward=counted_fwd - model_fwd,
            training=(counted_fwd + counted_bwd) - 3 * model_fwd,
        ))
    gdn = [mod for name, mod in model.named_modules() if type(mod).__name__.endswith("GatedDeltaNet")]
    if gdn:
        C = 64
        chunks = -(-T // C)
        assert T % C == 0, "the GDN cases use multiples of the chunk"
        g = gdn[0]
        hv, dk, dv = g.num_v_heads, g.head_k_dim, g.head_v_dim
        n = len(gdn)
        solve = n * B * hv * chunks * 2 * C * C * (dk + dv)
        # First chunk: the zero initial state needs no gradient (two matmuls lose their
        # grad-of-state half); last chunk: the final state update is unused (no backward).
        boundaries = n * B * hv * (2 + 2) * 2 * C * dk * dv
        adj.append(OrderedDict(
            what="Gated DeltaNet: backward matmul of each triangular solve (grad_A = -grad_B @ X^T; the "
            "solves themselves are not counted forward)",
            forward=0,
            training=solve,
        ))
        adj.append(OrderedDict(
            what="Gated DeltaNet: the zero initial state and the unused final state skip part of the "
            "backward of the first and last chunk's state matmuls (model: backward = 2 x forward)",
            forward=0,
            training=-boundaries,
        ))
    kda = [mod for name, mod in model.named_modules() if type(mod).__name__ == "KimiLinearDeltaAttention"]
    if kda:
        C = 64
        assert T % C == 0, "the KDA cases use multiples of the chunk"
        g = kda[0]
        h, dk = g.num_heads, g.head_dim
        boundaries = len(kda) * B * h * (2 + 2) * 2 * C * dk * dk
        adj.append(OrderedDict(
            what="Kimi Delta Attention: the zero initial state and the unused final state skip part of the "
            "backward of the first and last chunk's state matmuls (model: backward = 2 x forward)",
            forward=0,
            training=-boundaries,
        ))
    lightning = [mod for name, mod in model.named_modules() if type(mod).__name__ == "MiniMaxLightningAttention"]
    if lightning:
        g = lightning[0]
        h, hd, blk = g.num_attention_heads, g.head_dim, g.block_size
        first, last = min(T, blk), T - (-(-T // blk) - 1) * blk
        boundaries = len(lightning) * B * h * 2 * hd * hd * (first + 2 * last)
        adj.append(OrderedDict(
            what="lightning attention: the zero initial state needs no gradient (the first block's state read "
            "loses its grad-of-state half) and the last block's state update is unused (no backward); the "
            "model: backward = 2 x forward",
            forward=0,
            training=-boundaries,
        ))
    if type(model).__name__.startswith("LongcatFlash"):
        z = longcat_zero_experts(model, m)
        if z["zero_expert_num"]:
            extra = (z["real_picks"] - z["expected_real_picks"]) * z["flops_per_pick"]
            adj.append(OrderedDict(
                what="zero-computation experts: the measured forward ran the real experts its router picked; "
                "the model counts top_k * E / (E + Z) real experts per token",
                forward=extra,
                training=3 * extra,
            ))
    # The DSA indexer runs under torch.no_grad(): the measured backward already leaves it out,
    # as the model count does (training = forward + 2 x (forward - indexer forward)).
    if type(model).__name__.startswith("Llama4"):
        e = llama4_experts(model, m)
        extra = e["dense_evaluation_forward"] - e["routed_top_k_forward"]
        adj.append(OrderedDict(
            what="Llama 4 experts: the reference evaluates every expert on every token; the model its "
            "top_k routed experts",
            forward=extra,
            training=3 * extra,
        ))
        chunk = getattr(text, "attention_chunk_size", None)
        if chunk and T > chunk:
            chunked = [i for i, t in enumerate(text.layer_types) if t == "chunked_attention"]
            h, hd = text.num_attention_heads, text.head_dim
            # Eager: T keys per query. Model: the query's chunk (T a multiple of chunk).
            assert T % chunk == 0
            extra = len(chunked) * B * 2 * 2 * h * hd * T * (T - chunk)
            adj.append(OrderedDict(
                what="chunked attention: eager multiplies all T keys under a chunk mask; the model the "
                "attention_chunk_size keys of the query's chunk",
                forward=extra,
                training=3 * extra,
            ))
    if type(model).__name__.startswith("DeepseekV4"):
        adj.extend(deepseek_v4_attention(text, T, B))
    topk = getattr(text, "index_topk", None)
    if topk and T > topk and not type(model).__name__.startswith("DeepseekV4"):
        layers = text.num_hidden_layers
        h = text.num_attention_heads
        qk = text.qk_nope_head_dim + text.qk_rope_head_dim
        extra = layers * B * 2 * h * (qk + text.v_head_dim) * T * (T - topk)
        adj.append(OrderedDict(
            what="DSA main attention: eager multiplies all T keys under the top-k mask; the model "
            "index_topk keys per query",
            forward=extra,
            training=3 * extra,
        ))
    out = OrderedDict(adjustments=adj)
    out["model_forward"] = m["forward"] - sum(a["forward"] for a in adj)
    out["model_training"] = m["forward_backward"] - sum(a["training"] for a in adj)
    return out


def deepseek_v4_attention(text, T, B):
    """Eager DeepSeek-V4 attention against what the model needs: the sliding-window keys and,
    on a CSA layer, the index_topk selected compressed entries (eager multiplies every key)."""
    adj = []
    h, hd = text.num_attention_heads, text.head_dim
    window = text.sliding_window
    if T > window:
        extra = text.num_hidden_layers * B * 2 * 2 * h * hd * T * (T - window)
        adj.append(OrderedDict(
            what="DeepSeek-V4 sliding window: eager multiplies all T keys under the sliding mask; the "
            "model sliding_window keys per query",
            forward=extra,
            training=3 * extra,
        ))
    rate = text.compress_rates["compressed_sparse_attention"]
    csa = sum(1 for t in text.layer_types if t == "compressed_sparse_attention")
    entries = T // rate
    if csa and entries > text.index_topk:
        extra = csa * B * 2 * 2 * h * hd * T * (entries - text.index_topk)
        adj.append(OrderedDict(
            what="DeepSeek-V4 CSA: eager multiplies every compressed entry under the top-k mask; the "
            "model index_topk entries per query",
            forward=extra,
            training=3 * extra,
        ))
    return adj


def longcat_zero_experts(model, m):
    """The real-expert picks of the measured forward (the same input and weights, run again
    with hooks on the routers), against the model count's top_k * E / (E + Z) per token."""
    text = text_config(model)
    routed, zero, top_k = text.n_routed_experts, text.zero_expert_num or 0, text.moe_topk
    picks = []
    hooks = [mod.register_forward_hook(lambda _m, _i, out: picks.append(out[2]))
             for mod in model.modules() if type(mod).__name__ == "LongcatFlashTopkRouter"]
    try:
        ids = language_input_ids(model, m["batch"], m["seq_len"])
        with torch.no_grad():
            model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False)
    finally:
        for h in hooks:
            h.remove()
    real = int(sum(int((p < routed).sum()) for p in picks))
    tokens = m["seq_len"] * m["batch"]
    return OrderedDict(
        n_routed_experts=routed,
        zero_expert_num=zero,
        moe_topk=top_k,
        moe_layers=len(picks),
        real_picks=real,
        expected_real_picks=len(picks) * tokens * top_k * routed / (routed + zero),
        flops_per_pick=3 * 2 * text.hidden_size * text.expert_ffn_hidden_size,
    )


def llama4_experts(model, m):
    """Dense evaluation of every expert (the reference) against the routed top-k."""
    text = getattr(model.config, "text_config", None) or model.config
    moe_layers = len(text.moe_layers)
    tokens = m["seq_len"] * m["batch"]
    per_expert_token = 3 * 2 * text.hidden_size * text.intermediate_size
    measured = m["parts"].get("feed_forward_experts", 0)
    return OrderedDict(
        moe_layers=moe_layers,
        num_local_experts=text.num_local_experts,
        top_k=text.num_experts_per_tok,
        measured_forward_all_experts=measured,
        dense_evaluation_forward=moe_layers * tokens * text.num_local_experts * per_expert_token,
        routed_top_k_forward=moe_layers * tokens * text.num_experts_per_tok * per_expert_token,
        note="transformers' Llama4TextExperts multiplies every token by every expert (torch.bmm over "
        "num_local_experts copies of the input, the unrouted ones scaled by a zero router score); the "
        "model computes only its top_k routed experts, which is what mfu-exporter counts.",
    )


def cases():
    out = []

    def add(name, description, config, method="cpu", seq_lens=(), **kw):
        out.append(dict(name=name, description=description, config=config, method=method, seq_lens=list(seq_lens), **kw))

    conv_note = (
        "Depthwise conv1d: FlopCounterMode counts its forward over T+K-1 positions and its backward "
        "as a dense convolution (parts.conv1d_backward); the model costs 2*channels*K per token "
        "forward and twice that backward."
    )
    solve_note = (
        "Gated DeltaNet: torch.linalg.solve_triangular is not counted forward; the backward of each "
        "solve contains one counted matmul (grad_A = -grad_B @ X^T, 2*C*C*n per chunk and head, n = "
        "head_k_dim for the key solve and head_v_dim for the value solve). Left out of the model count."
    )

    # ---- Qwen3-Next -------------------------------------------------------------------------
    q3n = {
        "model_type": "qwen3_next",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "linear_num_key_heads": 2,
        "linear_num_value_heads": 4,
        "linear_key_head_dim": 16,
        "linear_value_head_dim": 24,
        "linear_conv_kernel_dim": 4,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
        "shared_expert_intermediate_size": 48,
        "full_attention_interval": 2,
        "mlp_only_layers": [2],
    }
    add(
        "tiny-qwen3-next",
        "Qwen3-Next, 4 layers (linear, full, linear, full from full_attention_interval 2), Gated "
        "DeltaNet with 2 key heads of 16 and 4 value heads of 24, gated q_proj, layer 2 dense "
        "(mlp_only_layers), 4 experts top-2 with a 48-wide gated shared expert.",
        q3n,
        seq_lens=(64, 128),
        notes=[conv_note, solve_note],
    )
    d = copy.deepcopy(q3n)
    d.update({"layer_types": ["linear_attention", "linear_attention", "full_attention"], "num_hidden_layers": 3,
              "decoder_sparse_step": 2, "mlp_only_layers": [], "attention_bias": True, "tie_word_embeddings": True})
    add(
        "tiny-qwen3-next-layer-types",
        "Qwen3-Next with explicit layer_types (linear, linear, full), decoder_sparse_step 2 (layer 1 "
        "MoE, layers 0 and 2 dense), attention_bias, tied embeddings.",
        d,
        seq_lens=(64, 128),
        notes=[conv_note, solve_note],
    )
    add(
        "qwen3-next-80b-a3b",
        "Qwen3-Next-80B-A3B-Instruct config.json (shape fields), built on the meta device.",
        {
            "model_type": "qwen3_next",
            "vocab_size": 151936,
            "hidden_size": 2048,
            "intermediate_size": 5120,
            "num_hidden_layers": 48,
            "num_attention_heads": 16,
            "num_key_value_heads": 2,
            "head_dim": 256,
            "hidden_act": "silu",
            "linear_conv_kernel_dim": 4,
            "linear_key_head_dim": 128,
            "linear_num_key_heads": 16,
            "linear_num_value_heads": 32,
            "linear_value_head_dim": 128,
            "full_attention_interval": 4,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "moe_intermediate_size": 512,
            "shared_expert_intermediate_size": 512,
            "num_experts": 512,
            "num_experts_per_tok": 10,
            "norm_topk_prob": True,
            "attention_bias": False,
            "tie_word_embeddings": False,
            "max_position_embeddings": 262144,
            "partial_rotary_factor": 0.25,
            "rope_theta": 10000000,
            "rms_norm_eps": 1e-06,
        },
        method="meta",
        source="Qwen/Qwen3-Next-80B-A3B-Instruct config.json; see SOURCES.md in this directory.",
    )

    q3n_real = copy.deepcopy(out[-1]["config"])
    q3n_real.update({"num_hidden_layers": 4, "num_experts": 16})
    add(
        "qwen3-next-80b-a3b-4layer-16experts",
        "qwen3-next-80b-a3b with 4 layers (3 Gated DeltaNet, 1 gated attention) and 16 experts "
        "(top-10 kept): every width real, on CPU so that routing runs.",
        q3n_real,
        seq_lens=(64, 128),
        notes=[conv_note, solve_note],
        source="Reduced from qwen3-next-80b-a3b (same widths).",
    )

    # ---- Qwen3.5-MoE --------------------------------------------------------------------------
    q35 = {
        "model_type": "qwen3_5_moe_text",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "linear_num_key_heads": 2,
        "linear_num_value_heads": 4,
        "linear_key_head_dim": 16,
        "linear_value_head_dim": 24,
        "linear_conv_kernel_dim": 4,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
        "shared_expert_intermediate_size": 48,
        "full_attention_interval": 2,
    }
    add(
        "tiny-qwen3-5-moe-text",
        "Qwen3.5-MoE text model: as tiny-qwen3-next but every layer MoE (no dense layers, no "
        "decoder_sparse_step), Gated DeltaNet with separate in_proj_qkv / z / b / a.",
        q35,
        seq_lens=(64, 128),
        notes=[conv_note, solve_note],
    )
    add(
        "tiny-qwen3-5-moe",
        "Qwen3.5-MoE multimodal config: the text model of tiny-qwen3-5-moe-text in text_config, a "
        "2-block vision tower; params.total is the language model, params.vision the tower and merger.",
        {
            "model_type": "qwen3_5_moe",
            "text_config": {k: v for k, v in q35.items() if k != "model_type"},
            "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
                              "out_hidden_size": 64, "patch_size": 16, "spatial_merge_size": 2,
                              "temporal_patch_size": 2, "num_position_embeddings": 64},
        },
        method="meta",
        notes=["Parameters only: the language model's FLOPs are those of tiny-qwen3-5-moe-text."],
    )

    add(
        "qwen3.5-35b-a3b",
        "Qwen3.5-35B-A3B (qwen3_5_moe): the defaults of Qwen3_5MoeTextConfig and "
        "Qwen3_5MoeVisionConfig, which transformers documents as that checkpoint's, built on the meta "
        "device; params.total is the language model, params.vision the vision tower and merger.",
        {"model_type": "qwen3_5_moe", "text_config": {}, "vision_config": {}},
        method="meta",
        source="transformers 5.24 configuration_qwen3_5_moe.py defaults (checkpoint Qwen/Qwen3.5-35B-A3B); "
        "see SOURCES.md in this directory.",
    )

    # ---- Qwen3.5 (dense) -----------------------------------------------------------------------
    q35d = {
        "model_type": "qwen3_5_text",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "linear_num_key_heads": 2,
        "linear_num_value_heads": 4,
        "linear_key_head_dim": 16,
        "linear_value_head_dim": 24,
        "linear_conv_kernel_dim": 4,
        "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"],
    }
    add(
        "tiny-qwen3-5-text",
        "Qwen3.5 (dense) text model: Gated DeltaNet on three layers, gated full attention on the "
        "fourth, a dense gated MLP on every layer.",
        q35d,
        seq_lens=(64, 128),
        notes=[conv_note, solve_note],
    )
    add(
        "tiny-qwen3-5",
        "Qwen3.5 multimodal config: the text model of tiny-qwen3-5-text in text_config, a 2-block "
        "vision tower; params.total is the language model, params.vision the tower and merger.",
        {
            "model_type": "qwen3_5",
            "text_config": {k: v for k, v in q35d.items() if k != "model_type"},
            "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
                              "out_hidden_size": 64, "patch_size": 16, "spatial_merge_size": 2,
                              "temporal_patch_size": 2, "num_position_embeddings": 64},
        },
        method="meta",
        notes=["Parameters only: the language model's FLOPs are those of tiny-qwen3-5-text."],
    )
    add(
        "qwen3.5-9b",
        "Qwen3.5-9B (qwen3_5): the defaults of Qwen3_5TextConfig and Qwen3_5VisionConfig, built on "
        "the meta device; params.total is the language model, params.vision the vision tower and merger.",
        {"model_type": "qwen3_5", "text_config": {}, "vision_config": {}},
        method="meta",
        source="transformers 5.24 configuration_qwen3_5.py defaults, the layout Qwen publishes for "
        "Qwen3.5-9B (hidden 4096, 32 layers, FFN 12288, 16/4 attention heads, 32/16 linear heads); "
        "see SOURCES.md in this directory.",
    )

    # ---- Llama 4 -----------------------------------------------------------------------------
    l4 = {
        "model_type": "llama4_text",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 32,
        "intermediate_size_mlp": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "num_local_experts": 4,
        "num_experts_per_tok": 1,
        "interleave_moe_layer_step": 2,
        "no_rope_layer_interval": 2,
        "attention_chunk_size": 32,
        "use_qk_norm": True,
    }
    experts_note = (
        "Llama 4 experts: the reference evaluates all num_local_experts experts on every token "
        "(flops[*].experts.measured_forward_all_experts); the model FLOPs count the top_k routed "
        "experts (experts.routed_top_k_forward)."
    )
    add(
        "tiny-llama4-text",
        "Llama 4 text model: 4 layers, MoE on layers 1 and 3 (interleave_moe_layer_step 2) with 4 "
        "experts top-1 of 32 plus a 32-wide shared expert, dense layers 0 and 2 of "
        "intermediate_size_mlp 96, RoPE + chunked attention (chunk 32) on layers 0 and 2, NoPE + full "
        "attention on layers 1 and 3 (no_rope_layer_interval 2), L2 qk norm. seq_len <= chunk.",
        l4,
        seq_lens=(16, 32),
        notes=[experts_note],
        experts=llama4_experts,
    )
    add(
        "tiny-llama4-text-past-chunk",
        "tiny-llama4-text at seq_len 64 = 2 chunks: eager attention still multiplies all 64 keys on "
        "the chunked layers (the mask drops half); the model's chunked layers see 32.",
        l4,
        seq_lens=(64,),
        notes=[experts_note, "Chunked layers: eager multiplies T keys, the model min(T, chunk)."],
        experts=llama4_experts,
    )
    d = copy.deepcopy(l4)
    d.update({"moe_layers": [0, 3], "no_rope_layers": [1, 0, 0, 1], "use_qk_norm": False, "attention_bias": True,
              "tie_word_embeddings": True, "num_local_experts": 3, "num_experts_per_tok": 2})
    add(
        "tiny-llama4-text-explicit-layers",
        "Llama 4 text model with explicit moe_layers [0, 3] and no_rope_layers [1, 0, 0, 1], 3 experts "
        "top-2, attention_bias, no qk norm, tied embeddings.",
        d,
        seq_lens=(16, 32),
        notes=[experts_note],
        experts=llama4_experts,
    )
    add(
        "tiny-llama4",
        "Llama 4 multimodal config: the text model of tiny-llama4-text in text_config and a 2-layer "
        "vision tower with its projector; params.total is the language model, params.vision the rest.",
        {
            "model_type": "llama4",
            "text_config": {k: v for k, v in l4.items() if k != "model_type"},
            "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                              "num_attention_heads": 2, "image_size": 56, "patch_size": 14,
                              "vision_output_dim": 64, "projector_input_dim": 64,
                              "projector_output_dim": 64, "pixel_shuffle_ratio": 0.5},
        },
        method="meta",
        notes=["Parameters only: Llama4ForConditionalGeneration.forward fails in transformers 5.24 "
               "(it reads outputs.image_outputs from the text model's output), and the language model's "
               "FLOPs are those of tiny-llama4-text."],
    )

    scout_text = {
        "vocab_size": 202048, "hidden_size": 5120, "intermediate_size": 8192,
        "intermediate_size_mlp": 16384, "num_hidden_layers": 48, "num_attention_heads": 40,
        "num_key_value_heads": 8, "head_dim": 128, "num_local_experts": 16, "num_experts_per_tok": 1,
        "interleave_moe_layer_step": 1, "use_qk_norm": True, "no_rope_layer_interval": 4,
        "attention_chunk_size": 8192, "attention_bias": False, "tie_word_embeddings": False,
        "max_position_embeddings": 10485760,
    }
    vision = {
        "hidden_size": 1408, "intermediate_size": 5632, "num_hidden_layers": 34, "num_attention_heads": 16,
        "image_size": 336, "patch_size": 14, "vision_output_dim": 4096, "projector_input_dim": 4096,
        "projector_output_dim": 4096, "pixel_shuffle_ratio": 0.5, "num_channels": 3,
    }
    add(
        "llama-4-scout-17b-16e",
        "Llama-4-Scout-17B-16E config.json shape fields (text_config and vision_config), built on the "
        "meta device; params.total is the language model, params.vision the vision tower and projector.",
        {"model_type": "llama4", "text_config": scout_text, "vision_config": vision},
        method="meta",
        source="meta-llama/Llama-4-Scout-17B-16E config.json; see SOURCES.md in this directory.",
    )
    maverick_text = dict(scout_text, num_local_experts=128, interleave_moe_layer_step=2, use_qk_norm=False,
                         max_position_embeddings=1048576)
    add(
        "llama-4-maverick-17b-128e",
        "Llama-4-Maverick-17B-128E config.json shape fields: 128 experts on every other layer, dense "
        "layers of intermediate_size_mlp 16384, no qk norm; built on the meta device.",
        {"model_type": "llama4", "text_config": maverick_text, "vision_config": vision},
        method="meta",
        source="meta-llama/Llama-4-Maverick-17B-128E config.json; see SOURCES.md in this directory.",
    )

    # ---- DeepSeek-V3.2 / GLM-5 (DSA) -----------------------------------------------------------
    dsa = {
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 160,
        "moe_intermediate_size": 24,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "q_lora_rank": 32,
        "kv_lora_rank": 16,
        "qk_nope_head_dim": 16,
        "qk_rope_head_dim": 8,
        "v_head_dim": 12,
        "n_routed_experts": 8,
        "num_experts_per_tok": 2,
        "n_group": 4,
        "topk_group": 2,
        "n_shared_experts": 1,
        "first_k_dense_replace": 1,
        "index_n_heads": 4,
        "index_head_dim": 16,
        "index_topk": 128,
    }
    indexer_note = (
        "DSA indexer: runs under torch.no_grad(), so it is in forward and absent from backward "
        "(parts.self_attn_indexer is its forward). Main attention: eager multiplies every key; the "
        "model attends to min(T, index_topk) keys, equal here (T <= index_topk)."
    )
    add(
        "tiny-deepseek-v32",
        "DeepSeek-V3.2: tiny-deepseek-v3's MLA and MoE (layer 0 dense) plus a DSA indexer per layer "
        "with 4 heads of 16 (wq_b from the q_lora_rank latent, wk, LayerNorm k_norm with bias, "
        "weights_proj), index_topk 128 >= seq_len.",
        {"model_type": "deepseek_v32", **dsa},
        seq_lens=(32, 64),
        notes=[indexer_note],
    )
    add(
        "tiny-deepseek-v32-past-topk",
        "tiny-deepseek-v32 with index_topk 16 at seq_len 64: eager attention multiplies all 64 keys, "
        "the model 16 per query.",
        {"model_type": "deepseek_v32", **dsa, "index_topk": 16},
        seq_lens=(64,),
        notes=[indexer_note.replace("equal here (T <= index_topk)", "here 16 of 64")],
    )
    add(
        "tiny-glm-moe-dsa",
        "GLM-MoE-DSA (GLM-5): the DSA layers of tiny-deepseek-v32 with indexer_types "
        "[full, shared, full]: the shared layer reuses the previous layer's top-k and has no indexer.",
        {"model_type": "glm_moe_dsa", **dsa, "n_group": 1, "topk_group": 1,
         "indexer_types": ["full", "shared", "full"]},
        seq_lens=(32, 64),
        notes=[indexer_note],
    )
    add(
        "tiny-glm-moe-dsa-topk-freq",
        "GLM-MoE-DSA with index_topk_freq 2 and index_skip_topk_offset 1 over 4 layers (no "
        "indexer_types): the config derives [full, full, shared, full].",
        {"model_type": "glm_moe_dsa", **dsa, "num_hidden_layers": 4, "n_group": 1, "topk_group": 1,
         "index_topk_freq": 2, "index_skip_topk_offset": 1},
        seq_lens=(32,),
        notes=[indexer_note],
    )
    add(
        "deepseek-v3.2-exp",
        "DeepSeek-V3.2-Exp config.json (shape fields), built on the meta device.",
        {
            "model_type": "deepseek_v32",
            "vocab_size": 129280,
            "hidden_size": 7168,
            "intermediate_size": 18432,
            "moe_intermediate_size": 2048,
            "num_hidden_layers": 61,
            "num_attention_heads": 128,
            "num_key_value_heads": 128,
            "n_shared_experts": 1,
            "n_routed_experts": 256,
            "routed_scaling_factor": 2.5,
            "kv_lora_rank": 512,
            "q_lora_rank": 1536,
            "qk_rope_head_dim": 64,
            "v_head_dim": 128,
            "qk_nope_head_dim": 128,
            "n_group": 8,
            "topk_group": 4,
            "num_experts_per_tok": 8,
            "first_k_dense_replace": 3,
            "norm_topk_prob": True,
            "num_nextn_predict_layers": 1,
            "index_topk": 2048,
            "index_head_dim": 128,
            "index_n_heads": 64,
            "tie_word_embeddings": False,
            "max_position_embeddings": 163840,
        },
        method="meta",
        source="deepseek-ai/DeepSeek-V3.2-Exp config.json; see SOURCES.md in this directory.",
    )
    add(
        "glm-5",
        "GLM-5 (glm_moe_dsa) config.json shape fields, built on the meta device.",
        {
            "model_type": "glm_moe_dsa",
            "vocab_size": 154880,
            "hidden_size": 6144,
            "intermediate_size": 12288,
            "moe_intermediate_size": 2048,
            "num_hidden_layers": 78,
            "num_attention_heads": 64,
            "num_key_value_heads": 64,
            "n_shared_experts": 1,
            "n_routed_experts": 256,
            "kv_lora_rank": 512,
            "q_lora_rank": 2048,
            "qk_rope_head_dim": 64,
            "v_head_dim": 256,
            "qk_nope_head_dim": 192,
            "n_group": 1,
            "topk_group": 1,
            "num_experts_per_tok": 8,
            "first_k_dense_replace": 3,
            "index_topk": 2048,
            "index_head_dim": 128,
            "index_n_heads": 32,
            "tie_word_embeddings": False,
        },
        method="meta",
        source="zai-org/GLM-5 config.json; see SOURCES.md in this directory.",
    )

    # ---- DeepSeek-V4 (compressed attention, indexer, hyper-connections) ------------------------
    v4 = {
        "model_type": "deepseek_v4",
        "vocab_size": 256,
        "hidden_size": 64,
        "moe_intermediate_size": 24,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 32,
        "q_lora_rank": 32,
        "partial_rotary_factor": 0.25,
        "num_experts_per_tok": 2,
        "n_routed_experts": 8,
        "n_shared_experts": 1,
        "layer_types": ["sliding_attention", "compressed_sparse_attention",
                        "heavily_compressed_attention", "compressed_sparse_attention"],
        "compress_rates": {"compressed_sparse_attention": 4, "heavily_compressed_attention": 16},
        "mlp_layer_types": ["hash_moe", "moe", "moe", "moe"],
        "hc_mult": 3,
        "hc_sinkhorn_iters": 3,
        "sliding_window": 64,
        "o_groups": 2,
        "o_lora_rank": 16,
        "index_n_heads": 4,
        "index_head_dim": 16,
        "index_topk": 32,
    }
    v4_note = (
        "DeepSeek-V4: every layer attends to its sliding window of the uncompressed keys (eager "
        "multiplies all T under the sliding mask: equal to the window while T <= sliding_window) plus "
        "the layer's compressed entries, floor(T / rate) of them (eager multiplies all of them under "
        "the causal block bias; a CSA layer's model needs min(index_topk, T / rate), equal while "
        "T / rate <= index_topk). The CSA indexer's output is top-k indices, so nothing is "
        "back-propagated through it (parts.self_attn_compressor_indexer is its forward). The "
        "compressor's softmax pooling, the Sinkhorn iterations, the hyper-connection collapse and "
        "expand, the indexer's weighted head sum and the swiglu_limit clamps are elementwise: no "
        "FLOPs. Hash-routed layers (tid2eid zeros at init) send every token to expert 0 top_k times: "
        "the same top_k expert matmuls."
    )
    add(
        "tiny-deepseek-v4",
        "DeepSeek-V4: 4 layers [sliding, CSA (rate 4, indexer 4 heads of 16, top-32), HCA (rate 16), "
        "CSA], first layer hash-routed, 8 experts top-2 with a shared expert, 4 query heads of 32 from "
        "a 32-wide query latent, one K=V head, grouped output projection 2 groups of 16, hc_mult 3.",
        v4,
        seq_lens=(32, 64),
        notes=[v4_note],
    )
    add(
        "tiny-deepseek-v4-past-window-topk",
        "tiny-deepseek-v4 with sliding_window 16 and index_topk 4: eager multiplies all T keys under "
        "the sliding mask and every compressed entry under the top-k mask; the model 16 keys plus 4 "
        "selected entries on the CSA layers.",
        {**v4, "sliding_window": 16, "index_topk": 4},
        seq_lens=(32, 64),
        notes=[v4_note],
    )
    add(
        "tiny-deepseek-v4-legacy-fields",
        "tiny-deepseek-v4 given by the fields the released configs ship: compress_ratios [0, 4, 128, 4, "
        "128] (one more than num_hidden_layers, cut), num_hash_layers 2, compress_rate_hca 32, "
        "qk_rope_head_dim 8, and hc_mult 4 (the default).",
        {k: v for k, v in v4.items() if k not in ("layer_types", "mlp_layer_types", "compress_rates",
                                                  "partial_rotary_factor", "hc_mult")}
        | {"compress_ratios": [0, 4, 128, 4, 128], "num_hash_layers": 2, "compress_rate_hca": 32,
           "qk_rope_head_dim": 8},
        seq_lens=(16, 32, 64),
        notes=[v4_note],
    )

    with open(os.path.join(ROOT, "tools", "reference", "configs", "deepseek-v4-flash.json")) as f:
        flash = json.load(f)
    # The FP8 quantization_config changes no shape; it is left out so that the model builds in
    # float32 on CPU.
    flash = {k: v for k, v in flash.items() if k != "quantization_config"}
    flash.update({"num_hidden_layers": 2, "compress_ratios": [4, 128], "num_hash_layers": 1,
                  "n_routed_experts": 4, "vocab_size": 1024})
    add(
        "deepseek-v4-flash-2layers-4experts",
        "tools/reference/configs/deepseek-v4-flash.json at its real widths with two layers (a "
        "hash-routed CSA layer and an HCA layer) of 4 routed experts, top-2, and vocabulary 1024, on "
        "CPU: at T = 256 the 128-token window is exceeded.",
        {**flash, "num_experts_per_tok": 2},
        seq_lens=(128, 256),
        notes=[v4_note, "vocab_size cut to 1024 (only the embedding and the LM head depend on it) "
               "so that the real widths fit in memory with gradients; 4 experts top-2."],
        source="Reduced from tools/reference/configs/deepseek-v4-flash.json (same widths except the "
        "vocabulary and the expert count).",
    )

    # ---- Nemotron-H ---------------------------------------------------------------------------
    nh = {
        "model_type": "nemotron_h",
        "vocab_size": 256,
        "hidden_size": 64,
        "hybrid_override_pattern": "M*M-ME",
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "intermediate_size": 96,
        "mamba_num_heads": 8,
        "mamba_head_dim": 16,
        "ssm_state_size": 16,
        "n_groups": 2,
        "conv_kernel": 4,
        "chunk_size": 32,
        "n_routed_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
        "moe_shared_expert_intermediate_size": 48,
    }
    mamba_note = (
        "Mamba-2 SSD (mamba2_chunk_scan, chunk L): per token and head 2*L*n (C.B scores) + 2*L*p "
        "(scores.x) + 2*p*n (chunk states) + 2*p*n (C.states), plus the inter-chunk recurrence "
        "2*(c+1)^2*p*n per head and sequence for c chunks."
    )
    add(
        "tiny-nemotron-h",
        "Nemotron-H, pattern M*M-ME: Mamba-2 (8 heads of 16, 2 groups, state 16, chunk 32, conv 4 with "
        "bias), GQA attention block, relu2 MLP block, MoE block (4 non-gated experts top-2 with a "
        "48-wide shared expert, sigmoid router with correction bias buffer). seq_len multiple of chunk.",
        nh,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    d = copy.deepcopy(nh)
    d.update({"hybrid_override_pattern": "M-M*", "use_conv_bias": False, "use_bias": True, "mlp_bias": True,
              "chunk_size": 16, "n_groups": 1})
    add(
        "tiny-nemotron-h-bias",
        "Nemotron-H, pattern M-M*, in_proj/out_proj biases (use_bias), MLP biases (mlp_bias), no conv "
        "bias, one group, chunk 16 (4 chunks at seq_len 64).",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    d = copy.deepcopy(nh)
    d.update({"hybrid_override_pattern": "M*E-E", "moe_latent_size": 24})
    add(
        "tiny-nemotron-h-latent",
        "Nemotron-H latent MoE (Nemotron 3 Super/Ultra), pattern M*E-E: moe_latent_size 24, so the "
        "routed experts run on 24 channels between fc1_latent_proj (64->24) and fc2_latent_proj "
        "(24->64); router and shared expert on the hidden width.",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    d = copy.deepcopy(d)
    d.update({"mlp_bias": True, "moe_latent_size": 40, "num_experts_per_tok": 3, "tie_word_embeddings": True})
    add(
        "tiny-nemotron-h-latent-bias",
        "Nemotron-H latent MoE with mlp_bias (biases on the latent projections and the shared and "
        "dense MLPs), latent width 40, top-3 of 4 experts; tie_word_embeddings true, which "
        "NemotronHForCausalLM does not act on (no tied weights).",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    add(
        "nemotron-h-8b",
        "Nemotron-H-8B-Base-8K config.json shape fields, built on the meta device.",
        {
            "model_type": "nemotron_h",
            "vocab_size": 131072,
            "hidden_size": 4096,
            "hybrid_override_pattern": "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-",
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "intermediate_size": 21504,
            "mamba_num_heads": 128,
            "mamba_head_dim": 64,
            "ssm_state_size": 128,
            "n_groups": 8,
            "conv_kernel": 4,
            "expand": 2,
            "chunk_size": 128,
            "use_conv_bias": True,
            "use_bias": False,
            "mlp_bias": False,
            "tie_word_embeddings": False,
            "max_position_embeddings": 8192,
        },
        method="meta",
        source="nvidia/Nemotron-H-8B-Base-8K config.json; see SOURCES.md in this directory.",
    )
    add(
        "nemotron-nano-9b-v2",
        "NVIDIA-Nemotron-Nano-9B-v2 config.json shape fields, built on the meta device.",
        {
            "model_type": "nemotron_h",
            "vocab_size": 131072,
            "hidden_size": 4480,
            "hybrid_override_pattern": "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-",
            "num_attention_heads": 40,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "intermediate_size": 15680,
            "mamba_num_heads": 128,
            "mamba_head_dim": 80,
            "ssm_state_size": 128,
            "n_groups": 8,
            "conv_kernel": 4,
            "chunk_size": 128,
            "use_conv_bias": True,
            "use_bias": False,
            "mlp_bias": False,
            "tie_word_embeddings": False,
            "max_position_embeddings": 131072,
        },
        method="meta",
        source="nvidia/NVIDIA-Nemotron-Nano-9B-v2 config.json; see SOURCES.md in this directory.",
    )
    # ---- Granite 4.0 / 4.0-H (granitemoehybrid) ---------------------------------------------
    gh = {
        "model_type": "granitemoehybrid",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 3,
        "layer_types": ["mamba", "attention", "mamba"],
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 32,
        "shared_intermediate_size": 48,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "mamba_n_heads": 8,
        "mamba_n_groups": 2,
        "mamba_d_state": 16,
        "mamba_d_conv": 4,
        "mamba_chunk_size": 32,
        "position_embedding_type": "nope",
    }
    add(
        "tiny-granitemoehybrid",
        "Granite 4.0-H, layer_types mamba, attention, mamba (legacy names): Bamba's Mamba-2 (8 heads "
        "of 'auto' = 2*64/8 = 16, 2 groups, state 16, chunk 32, conv 4 with bias), NoPE GQA attention "
        "(head_dim 64/4), MoE of 4 gated experts top-2 (softmax router, no bias) plus the 48-wide "
        "shared MLP on every layer. seq_len a multiple of the chunk.",
        gh,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    d = copy.deepcopy(gh)
    del d["layer_types"]
    d.update({"layers_block_type": ["attention", "mamba", "mamba", "attention"], "num_hidden_layers": 4,
              "num_local_experts": 0, "position_embedding_type": "rope", "attention_bias": True,
              "head_dim": 32, "mamba_proj_bias": True, "mamba_conv_bias": False, "mamba_chunk_size": 16,
              "mamba_n_groups": 1, "mamba_d_head": 16, "tie_word_embeddings": True})
    add(
        "tiny-granitemoehybrid-dense",
        "Granite 4.0-H-Micro's shape: num_local_experts 0, so the shared MLP is each layer's dense "
        "block; layers_block_type (the alias) attention, mamba, mamba, attention; RoPE attention with "
        "biases and head_dim 32 from the file (not 64/4); in_proj/out_proj biases, no conv bias, one "
        "group, chunk 16 (4 chunks at 64 tokens); tied embeddings.",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )

    # ---- Bamba ----------------------------------------------------------------------------------
    bamba = {
        "model_type": "bamba",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 3,
        "attn_layer_indices": [1],
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 96,
        "mamba_n_heads": 8,
        "mamba_n_groups": 2,
        "mamba_d_state": 16,
        "mamba_d_conv": 4,
        "mamba_chunk_size": 32,
    }
    add(
        "tiny-bamba",
        "Bamba, attn_layer_indices [1] of 3 layers: Mamba-2 (8 heads of 'auto' = 2*64/8 = 16, 2 groups, "
        "state 16, chunk 32, conv 4 with bias), GQA attention with partial rotary, a gated MLP of 96 on "
        "every layer. seq_len a multiple of the chunk.",
        bamba,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    d = copy.deepcopy(bamba)
    d.update({"num_hidden_layers": 4, "attn_layer_indices": [0, 3], "attention_bias": True, "mlp_bias": True,
              "head_dim": 24, "mamba_proj_bias": True, "mamba_conv_bias": False, "mamba_chunk_size": 16,
              "mamba_n_groups": 1, "mamba_expand": 3, "mamba_n_heads": 12, "tie_word_embeddings": True,
              "num_key_value_heads": None})
    add(
        "tiny-bamba-bias",
        "Bamba, attention on layers 0 and 3 of 4, attention and MLP biases, head_dim 24 from the file (not "
        "64/4), num_key_value_heads null (= heads), mamba_expand 3 (inner 192 in 12 heads of 16), "
        "in_proj/out_proj biases, no conv bias, one group, chunk 16 (4 chunks at 64 tokens), tied "
        "embeddings.",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )

    # ---- Mamba-2 (pure) --------------------------------------------------------------------------
    m2 = {
        "model_type": "mamba2",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "expand": 2,
        "num_heads": 8,
        "head_dim": 16,
        "state_size": 16,
        "n_groups": 2,
        "conv_kernel": 4,
        "chunk_size": 32,
    }
    add(
        "tiny-mamba2",
        "Mamba-2, 2 layers of one RMSNorm and a Mamba2Mixer (8 heads of 16 = 2*64, 2 groups, state 16, "
        "chunk 32, conv 4 with bias), no feed-forward block, untied head. seq_len a multiple of the chunk.",
        m2,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    d = copy.deepcopy(m2)
    d.update({"num_hidden_layers": 3, "expand": 1, "num_heads": 4, "use_bias": True, "use_conv_bias": False,
              "n_groups": 1, "chunk_size": 16, "conv_kernel": 3, "tie_word_embeddings": True})
    add(
        "tiny-mamba2-bias",
        "Mamba-2, 3 layers, expand 1 (4 heads of 16), in_proj/out_proj biases, no conv bias, conv 3, one "
        "group, chunk 16 (4 chunks at 64 tokens), tied head.",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )

    # ---- Falcon-H1 -------------------------------------------------------------------------------
    fh = {
        "model_type": "falcon_h1",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 96,
        "mamba_d_ssm": 64,
        "mamba_n_heads": 4,
        "mamba_n_groups": 2,
        "mamba_d_state": 16,
        "mamba_d_conv": 4,
        "mamba_chunk_size": 32,
    }
    add(
        "tiny-falcon-h1",
        "Falcon-H1, 2 layers, each GQA attention (4 heads of 16, 2 KV heads) and a Mamba-2 mixer "
        "(mamba_d_ssm 64 in 4 heads of 'auto' = 16, 2 groups, state 16, chunk 32, conv 4 with bias, no "
        "gated norm) side by side, then a gated MLP of 96. seq_len a multiple of the chunk.",
        fh,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )
    d = copy.deepcopy(fh)
    d.update({"num_hidden_layers": 3, "mamba_d_ssm": None, "mamba_n_heads": 8, "mamba_n_groups": 1,
              "mamba_rms_norm": True, "mamba_norm_before_gate": False, "projectors_bias": True,
              "mamba_conv_bias": False, "attention_bias": True, "mlp_bias": True, "head_dim": 24,
              "mamba_chunk_size": 16, "tie_word_embeddings": True, "mlp_multipliers": [0.5, 2.0],
              "ssm_multipliers": [0.5, 1.5, 2.0, 0.25, 1.0], "key_multiplier": 0.5,
              "attention_in_multiplier": 2.0, "ssm_out_multiplier": 0.5, "embedding_multiplier": 3.0,
              "lm_head_multiplier": 0.5})
    add(
        "tiny-falcon-h1-bias",
        "Falcon-H1, 3 layers: mamba_d_ssm null (the inner width is mamba_expand*hidden = 128, 8 heads of "
        "16), the gated RMSNorm (mamba_rms_norm, gate after the norm), out_proj bias (projectors_bias) "
        "without an in_proj bias, no conv bias, one group, chunk 16 (4 chunks at 64 tokens); attention "
        "and MLP biases, head_dim 24 from the file, tied embeddings, and every muP multiplier away from 1.",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba_note],
    )

    # ---- Liquid LFM2 ----------------------------------------------------------------------------
    lfm = {
        "model_type": "lfm2",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 3,
        "layer_types": ["conv", "full_attention", "conv"],
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 144,
        "block_multiple_of": 32,
        "conv_L_cache": 3,
    }
    short_conv_note = (
        "LFM2 short convolution: in_proj (d -> 3d), B*x and C*y elementwise, a causal depthwise "
        "conv1d of conv_L_cache taps over the d channels, out_proj (d -> d); per token "
        "2*d*3d + 2*d*K + 2*d*d."
    )
    add(
        "tiny-lfm2",
        "LFM2, layer_types conv, full_attention, conv: gated short convolutions (kernel 3, no bias) and "
        "GQA attention (4 heads of 16, 2 KV heads, q/k RMSNorms of head_dim, no biases), a SwiGLU MLP "
        "of int(2*144/3) = 96 (a multiple of block_multiple_of 32) on every layer, tied head.",
        lfm,
        seq_lens=(32, 64),
        notes=[conv_note, short_conv_note],
    )
    d = copy.deepcopy(lfm)
    del d["layer_types"]
    d.update({"num_hidden_layers": 4, "full_attn_idxs": [0, 2], "conv_bias": True, "conv_L_cache": 4,
              "block_ff_dim": 200, "block_ffn_dim_multiplier": 1.3, "block_multiple_of": 64,
              "tie_embedding": False, "head_dim": 24})
    add(
        "tiny-lfm2-bias",
        "LFM2, no layer_types: full_attn_idxs [0, 2] of 4 layers are attention, the others conv; "
        "conv_bias (in_proj, conv and out_proj biases), kernel 4; block_ff_dim 200 (wins over "
        "intermediate_size): int(2*200/3) = 133, int(1.3*133) = 172, up to 192 (block_multiple_of 64); "
        "tie_embedding false (wins over tie_word_embeddings); head_dim 24 from the file.",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, short_conv_note],
    )

    # ---- Kimi Linear ----------------------------------------------------------------------------
    kda_note = (
        "Kimi Delta Attention (chunk_kimi_delta_attention, chunk 64): the counted matmuls are attn @ v_beta, "
        "attn @ (k_beta * exp(g)), attn_intra @ v_new and the state's three products; k_beta . k, q . k "
        "(per-channel decay) and the forward substitution are elementwise, counted by neither side. The zero "
        "initial state and the unused final state skip part of the first and last chunk's backward."
    )
    kimi = {
        "model_type": "kimi_linear",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 96,
        "moe_intermediate_size": 32,
        "num_hidden_layers": 5,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "kv_lora_rank": 16,
        "qk_rope_head_dim": 8,
        "qk_nope_head_dim": 16,
        "v_head_dim": 24,
        "num_experts": 8,
        "num_experts_per_token": 2,
        "num_shared_experts": 2,
        "linear_attn_config": {"head_dim": 16, "num_heads": 4, "short_conv_kernel_size": 4,
                               "full_attn_layers": [2, 5], "kda_layers": [1, 3, 4]},
        "first_k_dense_replace": 2,
        "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
    }
    add(
        "tiny-kimi-linear",
        "Kimi Linear, 5 layers from linear_attn_config (1-indexed full_attn_layers [2, 5], kda_layers "
        "[1, 3, 4]): KDA with 4 heads of 16 and a 4-tap convolution, MLA without q_lora_rank (4 heads, "
        "kv_lora_rank 16, nope 16, rope 8, v 24, no RoPE); first_k_dense_replace 2 (layers 0-1 a dense "
        "gated MLP of 96), then 8 experts of 32 top-2 (num_experts, num_experts_per_token) with 2 shared "
        "experts fused into one MLP of 64 (num_shared_experts).",
        kimi,
        seq_lens=(64, 128),
        notes=[conv_note, kda_note],
    )
    d = copy.deepcopy(kimi)
    del d["linear_attn_config"], d["first_k_dense_replace"]
    d.update({"num_hidden_layers": 4, "layer_types": ["full_attention", "linear_attention", "linear_attention",
              "full_attention"], "mlp_layer_types": ["sparse", "dense", "sparse", "dense"],
              "linear_head_dim": 24, "linear_num_heads": 2, "linear_conv_kernel_dim": 3, "q_lora_rank": 32,
              "attention_bias": True, "tie_word_embeddings": True})
    add(
        "tiny-kimi-linear-layer-types",
        "Kimi Linear with explicit layer_types (full, linear, linear, full) and mlp_layer_types (sparse, "
        "dense, sparse, dense), top-level linear_head_dim 24, linear_num_heads 2, linear_conv_kernel_dim 3, "
        "q_lora_rank 32 (q_a_proj, its norm, q_b_proj), attention_bias (q_a_proj, kv_a_proj_with_mqa, "
        "o_proj), tied embeddings.",
        d,
        seq_lens=(64, 128),
        notes=[conv_note, kda_note],
    )

    # ---- MiniMax ----------------------------------------------------------------------------------
    lightning_note = (
        "Lightning attention (MiniMaxLightningAttention, eager block loop): per block of b tokens and head "
        "q @ k^T and (scores * decay) @ v (2*b*b*d_h each), (q * decay) @ state and (k * decay)^T @ v "
        "(2*b*d_h*d_h each); a shorter last block when T is not a multiple of block_size. The zero initial "
        "state and the unused final state skip part of the first and last block's backward."
    )
    mm = {
        "model_type": "minimax",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 48,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "block_size": 32,
        "pad_token_id": 0,
    }
    add(
        "tiny-minimax",
        "MiniMax, 4 layers without layer_types (full, linear, full, linear): lightning attention with 4 heads "
        "of 16 (d/H) in blocks of 32 (2 and 4 blocks at 64 and 128 tokens), GQA softmax attention 4/2 heads, "
        "every layer a MoE of 4 gated experts of 48, top-2, untied head.",
        mm,
        seq_lens=(64, 128),
        notes=[lightning_note],
    )
    d = copy.deepcopy(mm)
    d.update({"num_hidden_layers": 3, "layer_types": ["linear_attention", "linear_attention", "full_attention"],
              "head_dim": 24, "block_size": 48, "num_experts": 6, "sliding_window": 256,
              "tie_word_embeddings": True})
    add(
        "tiny-minimax-layer-types",
        "MiniMax with layer_types (linear, linear, full), head_dim 24 from the file, block_size 48 (one block "
        "of 40 at 40 tokens; blocks of 48, 48 and a last one of 4 at 100 tokens), num_experts 6 (the alias, "
        "over num_local_experts 4), a sliding_window of 256 (no narrower than the sequence), tied head.",
        d,
        seq_lens=(40, 100),
        notes=[lightning_note],
    )

    # ---- Jamba -------------------------------------------------------------------------------------
    mamba1_note = (
        "Mamba-1 (JambaMambaMixer, sequential mamba_selective_scan): in_proj, the depthwise conv1d, x_proj, "
        "dt_proj.weight @ dt and, per token, ssm_state @ C (2*inner*state) are the counted matmuls; "
        "exp(A*dt)*h + dt*B*x, the D skip and the silu(z) gate are elementwise."
    )
    jb = {
        "model_type": "jamba",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "attn_layer_period": 4,
        "attn_layer_offset": 2,
        "expert_layer_period": 2,
        "expert_layer_offset": 1,
        "mamba_d_state": 8,
        "mamba_d_conv": 4,
        "mamba_expand": 2,
    }
    add(
        "tiny-jamba",
        "Jamba, 4 layers: attention at layer 2 (attn_layer_period 4, offset 2), Mamba-1 elsewhere (inner 128, "
        "state 8, dt rank 'auto' = 4, conv 4 with bias, no in/out_proj bias, dt/B/C norms); MoE of 4 experts "
        "of 96 top-2 on layers 1 and 3 (expert_layer_period 2, offset 1), a gated MLP of 96 on 0 and 2; GQA "
        "4/2 heads of 16; untied head.",
        jb,
        seq_lens=(32, 64),
        notes=[conv_note, mamba1_note],
    )
    d = copy.deepcopy(jb)
    d.update({"num_hidden_layers": 3, "attn_layer_period": 3, "attn_layer_offset": 0, "expert_layer_period": 3,
              "expert_layer_offset": 2, "mamba_dt_rank": 6, "mamba_conv_bias": False, "mamba_proj_bias": True,
              "mamba_expand": 1, "num_local_experts": 3, "head_dim": 24, "tie_word_embeddings": True})
    add(
        "tiny-jamba-options",
        "Jamba, 3 layers: attention at layer 0, Mamba-1 on 1 and 2 (expand 1, dt rank 6, no conv bias, "
        "in_proj/out_proj biases); the MoE on layer 2 only (period 3, offset 2) with num_local_experts 3 (the "
        "alias, over num_experts 4); head_dim 24 from the file; tied head.",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, mamba1_note],
    )

    # ---- LongCat-Flash ----------------------------------------------------------------------------
    zero_note = (
        "Zero-computation experts: the router scores n_routed_experts + zero_expert_num experts and a token's "
        "moe_topk picks run only where they land on real experts; the model count takes top_k * E / (E + Z) "
        "real experts per token, and flops[*].zero_experts records the picks of the measured forward. "
        "transformers allocates gate_up_proj for E + Z experts (the zero ones' slices unused) and down_proj for E."
    )
    lc = {
        "model_type": "longcat_flash",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_layers": 2,
        "num_attention_heads": 4,
        "q_lora_rank": 32,
        "kv_lora_rank": 16,
        "qk_nope_head_dim": 16,
        "qk_rope_head_dim": 8,
        "head_dim": 8,
        "v_head_dim": 24,
        "ffn_hidden_size": 96,
        "expert_ffn_hidden_size": 32,
        "n_routed_experts": 8,
        "zero_expert_num": 0,
        "moe_topk": 2,
    }
    add(
        "tiny-longcat-flash",
        "LongCat-Flash, 2 layers (each two MLA sublayers with q_lora_rank 32, kv_lora_rank 16, 4 heads of "
        "16+8 and v 24, head_dim 8 the rotary width of qk_rope_head_dim, two dense gated MLPs of 96, and a shortcut MoE of 8 experts of 32, top-2), no "
        "zero-computation experts: every pick runs a real expert.",
        lc,
        seq_lens=(32, 64),
        notes=[zero_note],
    )
    d = copy.deepcopy(lc)
    d.update({"num_hidden_layers": 6, "zero_expert_num": 4, "moe_topk": 3, "num_local_experts": 6,
              "intermediate_size": 80, "attention_bias": True, "router_bias": True, "tie_word_embeddings": True})
    add(
        "tiny-longcat-flash-zero-experts",
        "LongCat-Flash with num_hidden_layers 6 (3 layers: transformers sets num_layers = 6 // 2, over the "
        "file's num_layers 2), 6 real experts (num_local_experts, the alias, over n_routed_experts 8) and 4 "
        "zero-computation experts, top-3 (model count: 3 * 6 / 10 = 1.8 real experts per token), "
        "intermediate_size 80 (the alias, over ffn_hidden_size 96), attention_bias, router_bias, tied head.",
        d,
        seq_lens=(32, 64),
        notes=[zero_note],
    )
    for c in out[-2:]:
        c["experts"] = lambda model, m: OrderedDict(zero_experts=longcat_zero_experts(model, m))

    # ---- Liquid LFM2-MoE --------------------------------------------------------------------------
    lfm_moe = {
        "model_type": "lfm2_moe",
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 4,
        "layer_types": ["conv", "full_attention", "conv", "full_attention"],
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 144,
        "moe_intermediate_size": 32,
        "num_dense_layers": 1,
        "num_experts": 8,
        "num_experts_per_tok": 2,
        "conv_L_cache": 3,
    }
    add(
        "tiny-lfm2-moe",
        "LFM2-MoE, layer_types conv, full_attention, conv, full_attention: gated short convolutions "
        "(kernel 3, no bias) and GQA attention (4 heads of 16, 2 KV heads, q/k RMSNorms of head_dim); "
        "layer 0 a SwiGLU MLP of intermediate_size 144 (no LFM2 adjustment), layers 1-3 8 experts of 32 "
        "top-2 with a sigmoid router and the expert_bias buffer; tied head.",
        lfm_moe,
        seq_lens=(32, 64),
        notes=[conv_note, short_conv_note],
    )
    d = copy.deepcopy(lfm_moe)
    d.update({"layer_types": ["full_attention", "conv", "conv"], "num_hidden_layers": 3, "num_dense_layers": 0,
              "use_expert_bias": False, "conv_bias": True, "conv_L_cache": 4, "head_dim": 24,
              "tie_embedding": False})
    add(
        "tiny-lfm2-moe-bias",
        "LFM2-MoE with every layer MoE (num_dense_layers 0), no expert_bias buffer, conv_bias (in_proj, "
        "conv and out_proj biases), kernel 4, head_dim 24 from the file, tie_embedding false (wins).",
        d,
        seq_lens=(32, 64),
        notes=[conv_note, short_conv_note],
    )

    # ---- OLMo Hybrid ----------------------------------------------------------------------------
    olmo = {
        "model_type": "olmo_hybrid",
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "linear_num_key_heads": 2,
        "linear_num_value_heads": 4,
        "linear_conv_kernel_dim": 4,
        "pad_token_id": 0,
        "eos_token_id": 1,
    }
    add(
        "tiny-olmo-hybrid",
        "OLMo Hybrid, 4 layers by the default pattern (linear, linear, linear, full): Gated DeltaNet with "
        "2 key heads of int(0.75*64/2) = 24 and 4 value heads of 48 (derived), separate q/k/v/a/b/g "
        "projections; OLMo 3 attention (GQA 4/2, head_dim 16, q/k RMSNorms over all heads, post-norms "
        "only); a gated MLP on every layer; untied head.",
        olmo,
        seq_lens=(64, 128),
        notes=[conv_note, solve_note],
    )
    d = copy.deepcopy(olmo)
    d.update({"num_hidden_layers": 3, "layer_types": ["full_attention", "linear_attention", "full_attention"],
              "head_dim": 24, "attention_bias": True, "linear_key_head_dim": 16, "linear_value_head_dim": 20,
              "linear_num_key_heads": 4, "rope_parameters": {"rope_type": "default", "rope_theta": None},
              "tie_word_embeddings": True})
    add(
        "tiny-olmo-hybrid-layer-types",
        "OLMo Hybrid with layer_types (full, linear, full), head_dim 24 from the file, attention_bias, "
        "4 key and 4 value heads of 16 and 20 given, no rotary embedding (rope_theta null), tied head.",
        d,
        seq_lens=(64, 128),
        notes=[conv_note, solve_note],
    )

    def reduced(name, new_name, description, overrides, seq_lens, notes):
        cfg = copy.deepcopy([c for c in out if c["name"] == name][0]["config"])
        target = cfg.get("text_config", cfg)
        target.update(overrides)
        if "text_config" in cfg:
            cfg = {"model_type": "llama4_text", **cfg["text_config"]}
        add(new_name, description, cfg, seq_lens=seq_lens, notes=notes,
            source=f"Reduced from {name} (same widths except the vocabulary).")

    real_note = ("vocab_size cut to 1024 (only the embedding and the LM head depend on it) so that the "
                 "real widths fit in memory with gradients.")
    reduced("deepseek-v3.2-exp", "deepseek-v3.2-exp-1layer-16experts",
            "deepseek-v3.2-exp with one MoE layer of 16 routed experts (8 groups of 2, 4 groups and 8 experts "
            "per token), vocabulary 1024: MLA, the indexer (64 heads of 128 from the 1536-wide query latent) "
            "and the experts at their real widths, on CPU.",
            {"num_hidden_layers": 1, "first_k_dense_replace": 0, "n_routed_experts": 16, "vocab_size": 1024,
             "num_nextn_predict_layers": 0},
            (64, 128), [real_note])
    reduced("glm-5", "glm-5-2layers-16experts",
            "glm-5 with a dense layer and a MoE layer of 16 experts (top-8), vocabulary 1024, the second "
            "layer sharing the first one's indexer (indexer_types [full, shared]), on CPU.",
            {"num_hidden_layers": 2, "first_k_dense_replace": 1, "n_routed_experts": 16, "vocab_size": 1024,
             "indexer_types": ["full", "shared"]},
            (64, 128), [real_note])
    reduced("llama-4-scout-17b-16e", "llama-4-scout-1layer-4experts",
            "Llama 4 Scout's text model with one layer (RoPE, chunked attention) of 4 experts (top-1, the "
            "shared expert), vocabulary 1024, on CPU.",
            {"num_hidden_layers": 1, "num_local_experts": 4, "vocab_size": 1024},
            (64, 128), [real_note, "Llama 4 experts: the reference evaluates all 4 experts on every token."])
    out[-1]["experts"] = llama4_experts
    nh_real = copy.deepcopy([c for c in out if c["name"] == "nemotron-h-8b"][0]["config"])
    nh_real["hybrid_override_pattern"] = "M-M*"
    add(
        "nemotron-h-8b-4blocks",
        "nemotron-h-8b with the pattern M-M* (two Mamba-2 blocks, an MLP block, an attention block): "
        "every width real, on CPU.",
        nh_real,
        seq_lens=(128, 256),
        notes=[conv_note, mamba_note],
        source="Reduced from nemotron-h-8b (same widths).",
    )
    with open(os.path.join(ROOT, "tools", "reference", "configs", "lfm2-350m.json")) as f:
        lfm_real = json.load(f)
    lfm_real.update({"num_hidden_layers": 4, "full_attn_idxs": [2], "vocab_size": 1024})
    add(
        "lfm2-350m-4layers",
        "tools/reference/configs/lfm2-350m.json at its real widths with four layers (conv, conv, "
        "attention, conv from full_attn_idxs [2]) and vocabulary 1024, on CPU.",
        lfm_real,
        seq_lens=(128, 256),
        notes=[conv_note, short_conv_note, real_note],
        source="Reduced from tools/reference/configs/lfm2-350m.json (same widths except the vocabulary).",
    )
    with open(os.path.join(ROOT, "tools", "reference", "configs", "granite-4.0-h-350m.json")) as f:
        granite = json.load(f)
    granite.update({"num_hidden_layers": 4, "layer_types": ["mamba", "attention", "mamba", "mamba"],
                    "vocab_size": 1024, "pad_token_id": 0, "bos_token_id": 0, "eos_token_id": 0})
    add(
        "granite-4.0-h-350m-4layers",
        "tools/reference/configs/granite-4.0-h-350m.json at its real widths with four layers (Mamba-2, NoPE "
        "attention, Mamba-2, Mamba-2) and vocabulary 1024 (its special token ids moved to 0), on CPU: the 256-token chunk is one chunk at 256 "
        "tokens and two at 512.",
        granite,
        seq_lens=(256, 512),
        notes=[conv_note, mamba_note, real_note],
        source="Reduced from tools/reference/configs/granite-4.0-h-350m.json (same widths except the vocabulary).",
    )
    return out


def main(argv):
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    all_cases = cases()
    if "--list" in argv:
        for c in all_cases:
            print(c["name"])
        return
    wanted = [a for a in argv if not a.startswith("-")]
    for c in all_cases:
        if wanted and c["name"] not in wanted:
            continue
        run_case(c)


if __name__ == "__main__":
    main(sys.argv[1:])
