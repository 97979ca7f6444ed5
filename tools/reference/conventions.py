#!/usr/bin/env python3
"""Each framework's FLOPs-per-token formula, evaluated independently of mfu-exporter.

What this computes
------------------
For each case (a bundled preset config and a sequence length) it evaluates the training
FLOPs per token that each framework's own code would compute:

* ``torchtitan``: ``get_dense_model_nparams_and_flops`` / ``get_moe_model_nparams_and_flops``
  (``torchtitan/models/utils.py``, pytorch/torchtitan@b5bcd76c66d0acb1a08b176d9639425bc55e0b2a).
* ``megatron``: ``num_floating_point_operations`` (``megatron/training/training.py``,
  NVIDIA/Megatron-LM@d98e8a64ddf34856e74b24714e3bedb2f5a39553), with the vocabulary padded as
  ``vocab_size_with_padding`` does with ``--make-vocab-size-divisible-by 128`` and TP 1: the
  ``transformer_flops`` branch (with its Gated DeltaNet ``linear_self_attn_term`` and
  ``attention_output_gate`` for Qwen3-Next) and the ``hybrid_flops`` branch (Mamba layers, for
  Nemotron-H's ``hybrid_override_pattern``).
* ``maxtext``: ``calculate_tflops_training_per_device`` (``src/maxtext/utils/maxtext_utils.py``,
  AI-Hypercomputer/maxtext@e591f30cbbf217ed67ef71263ec0538239f9c3b8), default, DeepSeek and
  Qwen3-Next (``calculate_gated_delta_net_flops_per_device``) paths.
* ``olmo_core``: the ``num_flops_per_token`` of OLMo-core's modules (``src/olmo_core/nn/``,
  allenai/OLMo-core@fa6c5014c9f6e9ee789da2d9c20d5126fee8df0d).
* ``nanogpt``: ``estimate_mfu`` / ``get_num_params`` (``model.py``,
  karpathy/nanoGPT@3adf61e154c3fe3fca428ad6bc3818b27a3b8291).
* ``palm``: PaLM appendix B, ``6N + 12 L H Q T``.

The functions below are transcriptions of those functions: the config-driven ones
(Megatron, MaxText) take an ``args``/``config`` object built from the Hugging Face config the
way each framework's own converter would fill it; the parameter-driven ones (torchtitan,
OLMo-core, nanoGPT, PaLM) count parameters on the model that ``transformers`` builds on the
meta device, grouping them by module name as the framework groups its own modules. Nothing
here reads mfu-exporter's code or output.

Requirements: Python 3.11, torch 2.15, transformers 5.24.0 (as ``measure.py``).

Re-run from the repository root::

    python3 tools/reference/conventions.py   # writes tests/fixtures/conventions/reference.json
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import sys
from types import SimpleNamespace

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CASES = [
    ("llama-3-8b", 8192, False),
    ("llama-3-8b", 2048, False),
    ("mistral-7b", 8192, False),
    ("gpt2", 1024, False),
    ("mixtral-8x7b", 4096, False),
    ("qwen3-30b-a3b", 4096, False),
    ("deepseek-v3", 4096, False),
    ("deepseek-v3", 4096, True),
]


# Hybrid models, from the shape fields of tests/fixtures/reference/hybrid/<name>.json (see the
# SOURCES.md there): only the frameworks whose code has a term for their linear mixers, Megatron
# (Mamba and Gated DeltaNet) and MaxText (Gated DeltaNet: its Qwen3-Next decoder; it has no
# Mamba decoder, so Nemotron-H has no MaxText figure).
HYBRID_CASES = [
    ("nemotron-h-8b", 8192, ("megatron",)),
    ("qwen3-next-80b-a3b", 4096, ("megatron", "maxtext")),
]

# Real hybrid configs, read from tools/reference/configs/<name>.json (cited in the SOURCES.md
# there): Nemotron 3's MoE blocks, plain (Nano) and latent (Super).
REAL_HYBRID_CASES = [
    ("nemotron-3-nano-30b-a3b", 8192, ("megatron",)),
    ("nemotron-3-super-120b-a12b-fp8", 8192, ("megatron",)),
]


def load(name):
    with open(os.path.join(ROOT, "configs", "models", f"{name}.json")) as f:
        return json.load(f)


def build(cfg):
    d = copy.deepcopy(cfg)
    model_type = d.pop("model_type")
    config = AutoConfig.for_model(model_type, **d)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    return config, model


# ---------------------------------------------------------------------------------------------
# Shapes read from the Hugging Face config, as each framework's converter would set them.


def shapes(config):
    c = config
    t = c.model_type
    s = SimpleNamespace()
    if t == "gpt2":
        s.hidden, s.layers, s.heads = c.n_embd, c.n_layer, c.n_head
        s.kv_heads, s.head_dim = c.n_head, c.n_embd // c.n_head
        s.ffn, s.swiglu = c.n_inner or 4 * c.n_embd, False
    else:
        s.hidden, s.layers, s.heads = c.hidden_size, c.num_hidden_layers, c.num_attention_heads
        s.kv_heads = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
        s.head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        s.ffn, s.swiglu = c.intermediate_size, True
    s.vocab = c.vocab_size
    s.mla = t.startswith("deepseek")
    if s.mla:
        s.q_lora, s.kv_lora = c.q_lora_rank, c.kv_lora_rank
        s.nope, s.rope, s.v = c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim
    s.experts, s.top_k, s.moe_ffn, s.shared_ffn, s.moe_pattern = None, 0, None, 0, [0] * s.layers
    if t == "mixtral":
        s.experts, s.top_k, s.moe_ffn = c.num_local_experts, c.num_experts_per_tok, c.intermediate_size
        s.moe_pattern = [1] * s.layers
    elif t == "qwen3_moe":
        s.experts, s.top_k, s.moe_ffn = c.num_experts, c.num_experts_per_tok, c.moe_intermediate_size
        sparse = set(range(s.layers)) - set(c.mlp_only_layers or [])
        step = c.decoder_sparse_step
        s.moe_pattern = [1 if (i in sparse and (i + 1) % step == 0) else 0 for i in range(s.layers)]
    elif t == "qwen3_next":
        s.experts, s.top_k, s.moe_ffn = c.num_experts, c.num_experts_per_tok, c.moe_intermediate_size
        s.shared_ffn = c.shared_expert_intermediate_size
        sparse = set(range(s.layers)) - set(c.mlp_only_layers or [])
        step = c.decoder_sparse_step
        s.moe_pattern = [1 if (i in sparse and (i + 1) % step == 0) else 0 for i in range(s.layers)]
    elif s.mla:
        s.experts, s.top_k, s.moe_ffn = c.n_routed_experts, c.num_experts_per_tok, c.moe_intermediate_size
        s.shared_ffn = c.n_shared_experts * c.moe_intermediate_size
        s.moe_pattern = [0 if i < c.first_k_dense_replace else 1 for i in range(s.layers)]
    window = getattr(c, "sliding_window", None) if t in ("mistral", "mixtral") else None
    s.windows = [window] * s.layers
    s.mtp = getattr(c, "num_nextn_predict_layers", 0) or 0
    # Gated DeltaNet layers (Qwen3-Next): transformers turns full_attention_interval into
    # layer_types; the softmax-attention layers have a gated q_proj.
    s.gdn = t == "qwen3_next"
    if s.gdn:
        s.linear_pattern = [0 if kind == "full_attention" else 1 for kind in c.layer_types]
        s.full_attention_interval = s.linear_pattern.index(0) + 1
        assert s.linear_pattern == [
            0 if (i + 1) % s.full_attention_interval == 0 else 1 for i in range(s.layers)
        ], c.layer_types
        s.gdn_key_heads, s.gdn_value_heads = c.linear_num_key_heads, c.linear_num_value_heads
        s.gdn_key_dim, s.gdn_value_dim = c.linear_key_head_dim, c.linear_value_head_dim
        s.gdn_conv = c.linear_conv_kernel_dim
    return s


# ---------------------------------------------------------------------------------------------
# Megatron-LM: num_floating_point_operations, transformer_flops branch, BSHD, one sequence.


def megatron_args(s, seq_len, mtp):
    a = SimpleNamespace()
    a.seq_length, a.hidden_size, a.num_layers = seq_len, s.hidden, s.layers
    a.num_attention_heads = s.heads
    a.group_query_attention = s.kv_heads != s.heads
    a.num_query_groups = s.kv_heads
    a.kv_channels = s.head_dim
    a.attention_output_gate = s.gdn  # Qwen3-Next's gated attention
    if s.gdn:
        a.experimental_attention_variant = "gated_delta_net"
        a.linear_attention_freq = s.linear_pattern  # Megatron's list form
        a.linear_key_head_dim, a.linear_value_head_dim = s.gdn_key_dim, s.gdn_value_dim
        a.linear_num_key_heads, a.linear_num_value_heads = s.gdn_key_heads, s.gdn_value_heads
        a.linear_conv_kernel_dim = s.gdn_conv
    else:
        a.experimental_attention_variant = None
    a.ffn_hidden_size = s.ffn
    a.swiglu = s.swiglu
    a.num_experts = s.experts
    a.moe_layer_freq = s.moe_pattern
    a.moe_router_topk = s.top_k
    a.moe_ffn_hidden_size = s.moe_ffn
    a.moe_latent_size = None
    a.moe_shared_expert_intermediate_size = s.shared_ffn or None
    a.mtp_num_layers = s.mtp if (mtp and s.mtp) else None
    a.multi_latent_attention = s.mla
    if s.mla:
        a.group_query_attention = False
        a.q_lora_rank, a.kv_lora_rank = s.q_lora, s.kv_lora
        a.qk_head_dim, a.qk_pos_emb_head_dim, a.v_head_dim = s.nope, s.rope, s.v
    multiple = 128 * 1  # make_vocab_size_divisible_by * tensor_model_parallel_size
    a.padded_vocab_size = int(math.ceil(s.vocab / multiple) * multiple)
    return a


def megatron(args, batch_size=1):
    seqlen_squared_sum_in_batch = batch_size * args.seq_length * args.seq_length
    total_real_tokens_in_batch = batch_size * args.seq_length
    if not args.group_query_attention:
        args.num_query_groups = args.num_attention_heads
    if args.num_experts is None:
        num_dense_layers = args.num_layers
        num_moe_layers = 0
        num_experts_routed_to = 0
        last_layer_is_moe = 0
    else:
        moe_layer_pattern = args.moe_layer_freq
        num_moe_layers = sum(moe_layer_pattern)
        num_dense_layers = args.num_layers - num_moe_layers
        num_experts_routed_to = args.moe_router_topk
        last_layer_is_moe = moe_layer_pattern[-1]
    if args.mtp_num_layers is not None:
        mtp_num_layers = args.mtp_num_layers
        num_moe_layers += last_layer_is_moe * mtp_num_layers
        num_dense_layers += (1 - last_layer_is_moe) * mtp_num_layers
        num_layers = args.num_layers + mtp_num_layers
    else:
        mtp_num_layers = 0
        num_layers = args.num_layers
    moe_ffn_hidden_size = args.moe_ffn_hidden_size if args.moe_ffn_hidden_size is not None else args.ffn_hidden_size
    shared_expert_ffn_hidden_size = (
        0 if args.moe_shared_expert_intermediate_size is None else args.moe_shared_expert_intermediate_size
    )
    forward_backward_expansion_factor = 3
    fma_expansion_factor = 2
    ffn_expansion_factor = 3 if args.swiglu else 2
    if args.multi_latent_attention:
        if args.q_lora_rank is None:
            q_term = args.hidden_size * args.num_attention_heads * (args.qk_head_dim + args.qk_pos_emb_head_dim)
        else:
            q_term = args.q_lora_rank * (
                args.hidden_size + args.num_attention_heads * (args.qk_head_dim + args.qk_pos_emb_head_dim) + 1
            )
        standard_self_attn_term = (
            forward_backward_expansion_factor
            * fma_expansion_factor
            * (
                q_term
                + args.kv_lora_rank
                * (args.hidden_size + args.num_attention_heads * (args.qk_head_dim + args.v_head_dim) + 1)
                + args.hidden_size * args.qk_pos_emb_head_dim
                + (args.num_attention_heads * args.v_head_dim) * args.hidden_size
            )
        )
        standard_self_attn_core_term = (
            forward_backward_expansion_factor
            * fma_expansion_factor
            * (
                args.num_attention_heads * (args.qk_head_dim + args.qk_pos_emb_head_dim) / 2
                + args.num_attention_heads * args.v_head_dim / 2
            )
        )
    else:
        query_projection_size = args.kv_channels * args.num_attention_heads
        key_projection_size = args.kv_channels * args.num_query_groups
        value_projection_size = args.kv_channels * args.num_query_groups
        gate_projection_size = query_projection_size if args.attention_output_gate else 0
        standard_self_attn_term = (
            forward_backward_expansion_factor
            * fma_expansion_factor
            * (
                args.hidden_size
                * (query_projection_size + key_projection_size + value_projection_size + gate_projection_size)
                + query_projection_size * args.hidden_size
            )
        )
        standard_self_attn_core_term = (
            forward_backward_expansion_factor * fma_expansion_factor * query_projection_size / 2 * 2
        )
    if args.experimental_attention_variant == "gated_delta_net":
        if isinstance(args.linear_attention_freq, int):
            linear_attention_pattern = [
                0 if ((i + 1) % args.linear_attention_freq == 0) else 1 for i in range(num_layers)
            ]
        else:
            linear_attention_pattern = args.linear_attention_freq
            assert len(linear_attention_pattern) == num_layers
        num_linear_attention_layers = sum(linear_attention_pattern)
        num_standard_attention_layers = num_layers - num_linear_attention_layers
        qk_dim = args.linear_key_head_dim * args.linear_num_key_heads
        v_dim = args.linear_value_head_dim * args.linear_num_value_heads
        in_proj_dim = 2 * qk_dim + 2 * v_dim + 2 * args.linear_num_value_heads
        linear_self_attn_term = (
            forward_backward_expansion_factor
            * fma_expansion_factor
            * (
                args.hidden_size * in_proj_dim
                + args.linear_conv_kernel_dim * (2 * qk_dim + v_dim)
                + args.linear_num_value_heads * (args.linear_value_head_dim**2) * 4
                + args.hidden_size * v_dim
            )
        )
    else:
        num_linear_attention_layers = 0
        linear_self_attn_term = 0
        num_standard_attention_layers = num_layers
    self_attn_term = (
        linear_self_attn_term * num_linear_attention_layers
        + standard_self_attn_term * num_standard_attention_layers
    )
    self_attn_core_term = standard_self_attn_core_term * num_standard_attention_layers
    total = (
        total_real_tokens_in_batch
        * (
            forward_backward_expansion_factor
            * fma_expansion_factor
            * args.hidden_size
            * (
                (args.ffn_hidden_size * ffn_expansion_factor) * num_dense_layers
                + (moe_ffn_hidden_size * num_experts_routed_to * ffn_expansion_factor) * num_moe_layers
                + (shared_expert_ffn_hidden_size * ffn_expansion_factor) * num_moe_layers
            )
            + self_attn_term
            + forward_backward_expansion_factor
            * fma_expansion_factor
            * mtp_num_layers
            * (3 * args.hidden_size + 2 * args.hidden_size * args.hidden_size)
            + forward_backward_expansion_factor
            * fma_expansion_factor
            * args.hidden_size
            * args.padded_vocab_size
            * (mtp_num_layers + 1)
        )
        + seqlen_squared_sum_in_batch * self_attn_core_term
    )
    return total / total_real_tokens_in_batch


# Megatron-LM: num_floating_point_operations, hybrid branch (hybrid_layer_pattern set: Nemotron-H).


def megatron_hybrid_args(cfg, seq_len):
    """A Nemotron-H config as Megatron's hybrid arguments (squared-ReLU MLP: no SwiGLU)."""
    a = SimpleNamespace()
    a.seq_length, a.hidden_size = seq_len, cfg["hidden_size"]
    a.hybrid_layer_pattern = cfg["hybrid_override_pattern"]
    a.mamba_state_dim, a.mamba_head_dim = cfg["ssm_state_size"], cfg["mamba_head_dim"]
    a.mamba_num_groups, a.mamba_num_heads = cfg["n_groups"], cfg["mamba_num_heads"]
    a.num_attention_heads = cfg["num_attention_heads"]
    a.num_query_groups = cfg["num_key_value_heads"]
    a.group_query_attention = a.num_query_groups != a.num_attention_heads
    a.kv_channels = cfg["head_dim"]
    a.ffn_hidden_size, a.swiglu = cfg["intermediate_size"], False
    # MoE blocks (`E`): the Hugging Face fields of the same meaning for `--moe-router-topk`,
    # `--moe-ffn-hidden-size`, `--moe-shared-expert-intermediate-size` and `--moe-latent-size`.
    a.moe_router_topk = cfg.get("num_experts_per_tok")
    a.moe_ffn_hidden_size = cfg.get("moe_intermediate_size")
    a.moe_shared_expert_intermediate_size = cfg.get("moe_shared_expert_intermediate_size")
    a.moe_latent_size = cfg.get("moe_latent_size")
    a.mtp_num_layers = None
    a.padded_vocab_size = int(math.ceil(cfg["vocab_size"] / 128) * 128)
    return a


def megatron_hybrid(args, batch_size=1):
    total_tokens = batch_size * args.seq_length
    seqlen_squared_sum = batch_size * args.seq_length * args.seq_length
    pattern = args.hybrid_layer_pattern
    num_mamba, num_attn = pattern.count("M"), pattern.count("*")
    num_mlp, num_moe, num_gdn = pattern.count("-"), pattern.count("E"), pattern.count("G")
    assert num_gdn == 0, pattern

    def mlp_layer_flops(expansion, swiglu):
        scale_factor = 3.0 / 2.0 if swiglu else 1.0
        return 4 * expansion * scale_factor * total_tokens * args.hidden_size**2

    def moe_layer_flops(swiglu):
        scale_factor = 3.0 / 2.0 if swiglu else 1.0
        h, latent = args.hidden_size, args.moe_latent_size
        if latent is None:
            routed = 4 * total_tokens * h * args.moe_ffn_hidden_size * args.moe_router_topk * scale_factor
        else:
            routed = 4 * total_tokens * latent * args.moe_ffn_hidden_size * args.moe_router_topk * scale_factor
            routed += 4 * total_tokens * h * latent
        shared = 4 * total_tokens * h * (args.moe_shared_expert_intermediate_size or 0) * scale_factor
        return routed + shared

    def attn_layer_flops():
        h, n = args.hidden_size, args.num_attention_heads
        p = (args.kv_channels * n / h) if args.kv_channels else 1
        g = args.num_query_groups if args.group_query_attention else n
        return 4 * total_tokens * h * p * (h + h * (g / n)) + 2 * seqlen_squared_sum * h * p

    def mamba_layer_flops():
        h = args.hidden_size
        d_in = 2 * h
        nheads = args.mamba_num_heads if args.mamba_num_heads else d_in // args.mamba_head_dim
        return (
            2 * total_tokens * h * (2 * d_in + 2 * args.mamba_num_groups * args.mamba_state_dim + nheads)
            + 7 * total_tokens * d_in * args.mamba_state_dim
            + 2 * total_tokens * d_in * h
        )

    mtp = args.mtp_num_layers or 0
    flops_fwd = (
        num_attn * attn_layer_flops()
        + num_mlp * mlp_layer_flops(args.ffn_hidden_size / args.hidden_size, args.swiglu)
        + num_mamba * mamba_layer_flops()
        + (num_moe * moe_layer_flops(args.swiglu) if num_moe else 0)
        + 2 * total_tokens * args.hidden_size * args.padded_vocab_size * (1 + mtp)
    )
    return flops_fwd * 3 / total_tokens


# ---------------------------------------------------------------------------------------------
# MaxText: calculate_tflops_training_per_device, per_device_batch_size 1, one device.


def maxtext_config(s, seq_len, mtp):
    c = SimpleNamespace()
    c.per_device_batch_size, c.max_target_length = 1, seq_len
    c.emb_dim, c.num_decoder_layers = s.hidden, s.layers
    c.num_query_heads, c.num_kv_heads, c.head_dim = s.heads, s.kv_heads, s.head_dim
    c.mlp_dim = s.ffn
    c.mlp_activations = ["silu", "linear"] if s.swiglu else ["gelu"]
    c.num_experts = s.experts or 1
    c.num_experts_per_tok = s.top_k
    c.moe_mlp_dim = s.moe_ffn
    c.shared_experts = (s.shared_ffn // s.moe_ffn) if s.shared_ffn else 0
    c.first_num_dense_layers = s.moe_pattern.count(0)
    c.vocab_size = s.vocab
    c.deepseek = s.mla
    c.attention_type = "mla" if s.mla else "global"
    if s.mla:
        c.q_lora_rank = s.q_lora or 0
        c.kv_lora_rank, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim = s.kv_lora, s.nope, s.rope, s.v
    c.mtp_num_layers = s.mtp if (mtp and s.mtp) else 0
    c.qwen3_next = s.gdn
    if s.gdn:
        c.inhomogeneous_layer_cycle_interval = s.full_attention_interval
        c.gdn_num_key_heads, c.gdn_num_value_heads = s.gdn_key_heads, s.gdn_value_heads
        c.gdn_key_head_dim, c.gdn_value_head_dim = s.gdn_key_dim, s.gdn_value_dim
        c.gdn_conv_kernel_dim = s.gdn_conv
    return c


def maxtext_ffn(config, mlp_dim):
    in_dim = config.emb_dim
    ffn1 = 2 * config.per_device_batch_size * config.max_target_length * mlp_dim * in_dim * len(config.mlp_activations)
    ffn2 = 2 * config.per_device_batch_size * config.max_target_length * mlp_dim * in_dim
    return ffn1 + ffn2


def maxtext_mla(config):
    batch_len = config.per_device_batch_size * config.max_target_length
    qk_head_dim_sum = config.qk_nope_head_dim + config.qk_rope_head_dim
    if config.q_lora_rank == 0:
        q_flops = 2 * batch_len * config.emb_dim * config.num_query_heads * qk_head_dim_sum
    else:
        q_flops = 2 * batch_len * (
            config.emb_dim * config.q_lora_rank + config.q_lora_rank * config.num_query_heads * qk_head_dim_sum
        )
    kv_flops = 2 * batch_len * (
        config.emb_dim * (config.kv_lora_rank + config.qk_rope_head_dim)
        + config.kv_lora_rank * config.num_query_heads * (config.qk_nope_head_dim + config.v_head_dim)
    )
    attention_flops = (
        2 * batch_len * config.max_target_length * config.num_query_heads * (qk_head_dim_sum + config.v_head_dim)
    ) / 2
    projection_flops = 2 * batch_len * config.emb_dim * config.num_query_heads * config.v_head_dim
    return q_flops + kv_flops, attention_flops, projection_flops


def maxtext_gated_delta_net(config):
    B, S, E = config.per_device_batch_size, config.max_target_length, config.emb_dim
    K_dim = config.gdn_num_key_heads * config.gdn_key_head_dim
    V_dim = config.gdn_num_value_heads * config.gdn_value_head_dim
    flops_qkvz_ba = 2 * B * S * E * (2 * K_dim + 2 * V_dim + 2 * config.gdn_num_value_heads)
    flops_out = 2 * B * S * E * V_dim
    flops_conv = 2 * B * S * config.gdn_conv_kernel_dim * (2 * K_dim + V_dim)
    flops_core = B * S * config.gdn_num_value_heads * (config.gdn_key_head_dim * config.gdn_value_head_dim) * 8
    return flops_qkvz_ba + flops_out + flops_conv, flops_core


def maxtext(config):
    is_total = False
    if config.num_experts > 1:
        gate = 2 * config.per_device_batch_size * config.max_target_length * config.emb_dim * config.num_experts
        if config.qwen3_next:
            # calculate_routed_and_shared_ffn_tflops_per_device: every layer is MoE.
            shared = maxtext_ffn(config, config.moe_mlp_dim) * config.shared_experts
            routed = maxtext_ffn(config, config.moe_mlp_dim) * config.num_experts_per_tok
            total_ffn = (gate + shared + routed) * config.num_decoder_layers
            is_total = True
        elif config.deepseek:
            num_moe = config.num_decoder_layers - config.first_num_dense_layers
            dense = maxtext_ffn(config, config.mlp_dim) * config.first_num_dense_layers
            shared = maxtext_ffn(config, config.moe_mlp_dim) * config.shared_experts
            routed = maxtext_ffn(config, config.moe_mlp_dim) * config.num_experts_per_tok
            total_ffn = dense + (gate + shared + routed) * num_moe
            is_total = True
        else:
            total_ffn = gate + maxtext_ffn(config, config.moe_mlp_dim) * config.num_experts_per_tok
    else:
        total_ffn = maxtext_ffn(config, config.mlp_dim)
    total_ffn_all = total_ffn if is_total else total_ffn * config.num_decoder_layers
    if config.attention_type == "mla":
        qkv, causal, projection = maxtext_mla(config)
    else:
        qkv = (
            2 * config.per_device_batch_size * config.max_target_length * config.emb_dim
            * (config.num_query_heads + 2 * config.num_kv_heads) * config.head_dim
        )
        noncausal = 4 * config.per_device_batch_size * config.max_target_length**2 * config.num_query_heads * config.head_dim
        projection = 2 * config.per_device_batch_size * config.max_target_length * config.emb_dim * config.num_query_heads * config.head_dim
        causal = noncausal / 2
    embedding = 2 * config.per_device_batch_size * config.max_target_length * config.emb_dim * config.vocab_size
    if config.qwen3_next:
        gdn_weight, gdn_attn = maxtext_gated_delta_net(config)
        num_full = config.num_decoder_layers // config.inhomogeneous_layer_cycle_interval
        num_linear = config.num_decoder_layers - num_full
        weights = (total_ffn_all + embedding + (qkv + projection) * num_full + gdn_weight * num_linear) * 3
        attention = (causal * num_full + gdn_attn * num_linear) * 3
    else:
        weights = (total_ffn_all + (qkv + projection) * config.num_decoder_layers + embedding) * 3
        attention = causal * config.num_decoder_layers * 3
    if config.mtp_num_layers > 0:
        gate = 2 * config.per_device_batch_size * config.max_target_length * config.emb_dim * config.num_experts
        shared = maxtext_ffn(config, config.moe_mlp_dim) * config.shared_experts
        routed = maxtext_ffn(config, config.moe_mlp_dim) * config.num_experts_per_tok
        weights += (gate + shared + routed + qkv + projection) * config.mtp_num_layers * 3
        attention += causal * config.mtp_num_layers * 3
    return (weights + attention) / (config.per_device_batch_size * config.max_target_length)


# ---------------------------------------------------------------------------------------------
# Parameter-driven conventions, on the transformers model's parameters.

BLOCK_NORM = re.compile(r"\.(input_layernorm|post_attention_layernorm|ln_1|ln_2)\.")


def classify(model):
    """Parameter counts grouped as the frameworks group their modules."""
    groups = dict(embedding=0, positions=0, router=0, shared=0, experts=0, attention=0,
                  ffn=0, block_norms=0, head=0, final_norm=0, other=0)
    embedding_ids = set()
    for module_name, module in model.named_modules():
        if isinstance(module, torch.nn.Embedding):
            for p in module.parameters():
                embedding_ids.add(id(p))
    for name, p in model.named_parameters():
        n = p.numel()
        if id(p) in embedding_ids:
            groups["positions" if name.endswith("wpe.weight") else "embedding"] += n
        elif "shared_expert" in name:
            groups["shared"] += n
        elif ".experts." in name or name.endswith(".experts"):
            groups["experts"] += n
        elif re.search(r"\.(mlp|block_sparse_moe)\.gate\.", name):
            groups["router"] += n
        elif ".self_attn." in name or ".attn." in name:
            groups["attention"] += n
        elif ".mlp." in name:
            groups["ffn"] += n
        elif BLOCK_NORM.search(name):
            groups["block_norms"] += n
        elif name.startswith("lm_head"):
            groups["head"] += n
        elif name in ("model.norm.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"):
            groups["final_norm"] += n
        else:
            groups["other"] += n
    groups["total"] = sum(p.numel() for p in model.parameters())
    assert groups["other"] == 0, groups
    return groups


def torchtitan(g, s, seq_len, tied):
    nparams_embedding = g["embedding"] + g["positions"]
    nparams_dense = g["total"] - g["router"] - g["shared"] - g["experts"]
    if s.experts:
        sparse_active = g["router"] + g["shared"] + g["experts"] * s.top_k // s.experts
    else:
        sparse_active = 0
    if tied:
        n = nparams_dense + sparse_active
    else:
        n = nparams_dense - nparams_embedding + sparse_active
    head_dims = (s.nope + s.rope + s.v) if s.mla else 2 * s.head_dim
    return 6 * n + 6 * s.layers * s.heads * head_dims * seq_len


def olmo_core(g, s, seq_len, tied):
    lm_head = g["head"] + g["final_norm"] + (s.vocab * s.hidden if tied else 0)
    experts = int(g["experts"] * s.top_k / s.experts) if s.experts else 0
    params = g["attention"] + g["ffn"] + g["router"] + g["shared"] + experts + lm_head
    head_dim = ((s.nope + s.rope + s.v) / 2) if s.mla else s.head_dim
    attention = sum(
        12 * s.heads * head_dim * (min(w, seq_len) if w else seq_len) for w in s.windows
    )
    return 6 * params + attention


def nanogpt(g, s, seq_len):
    n = g["total"] - g["positions"]
    return 6 * n + 12 * s.layers * s.heads * (s.hidden // s.heads) * seq_len


def palm(g, s, seq_len, tied):
    experts = g["experts"] * s.top_k / s.experts if s.experts else 0
    n = g["total"] - g["positions"] - g["experts"] + experts - (0 if tied else g["embedding"])
    two_q = (s.nope + s.rope + s.v) if s.mla else 2 * s.head_dim
    return 6 * n + 6 * s.layers * s.heads * two_q * seq_len


def main():
    cases = []
    for name, seq_len, mtp in CASES:
        cfg = load(name)
        config, model = build(cfg)
        s = shapes(config)
        g = classify(model)
        tied = bool(getattr(config, "tie_word_embeddings", False))
        values = {
            "megatron": megatron(megatron_args(s, seq_len, mtp)),
            "maxtext": maxtext(maxtext_config(s, seq_len, mtp)),
            "torchtitan": torchtitan(g, s, seq_len, tied),
        }
        if not mtp:
            values["olmo_core"] = olmo_core(g, s, seq_len, tied)
            values["nanogpt"] = nanogpt(g, s, seq_len)
            values["palm"] = palm(g, s, seq_len, tied)
        cases.append(dict(model=name, seq_len=seq_len, mtp=mtp, flops_per_token=values,
                          param_groups=g))
        print(name, seq_len, mtp, {k: f"{v:.6e}" for k, v in values.items()}, file=sys.stderr)
    hybrid = [(n, t, fw, False) for n, t, fw in HYBRID_CASES]
    hybrid += [(n, t, fw, True) for n, t, fw in REAL_HYBRID_CASES]
    for name, seq_len, frameworks, real in hybrid:
        if real:
            # calc reads the vendored real config itself.
            config_path = os.path.join("tools", "reference", "configs", f"{name}.json")
            with open(os.path.join(ROOT, config_path)) as f:
                cfg = json.load(f)
        else:
            with open(os.path.join(ROOT, "tests", "fixtures", "reference", "hybrid", f"{name}.json")) as f:
                cfg = json.load(f)["config"]
            # calc reads the config from this file; it is the hybrid fixture's config, unchanged.
            config_path = os.path.join("tests", "fixtures", "conventions", f"{name}.config.json")
            with open(os.path.join(ROOT, config_path), "w") as f:
                json.dump(cfg, f, indent=1)
                f.write("\n")
        values = {}
        if cfg["model_type"] == "nemotron_h":
            values["megatron"] = megatron_hybrid(megatron_hybrid_args(cfg, seq_len))
        else:
            d = copy.deepcopy(cfg)
            config = AutoConfig.for_model(d.pop("model_type"), **d)
            s = shapes(config)
            values["megatron"] = megatron(megatron_args(s, seq_len, False))
            values["maxtext"] = maxtext(maxtext_config(s, seq_len, False))
        assert set(values) == set(frameworks), (name, values)
        cases.append(dict(model=name, config=config_path, seq_len=seq_len, mtp=False,
                          flops_per_token=values))
        print(name, seq_len, {k: f"{v:.6e}" for k, v in values.items()}, file=sys.stderr)
    out = dict(
        description="Training FLOPs per token under each framework's own formula, evaluated by "
        "tools/reference/conventions.py (transcriptions of the frameworks' functions at the commits "
        "its docstring names; parameter groups counted on transformers' meta-device models).",
        versions=dict(torch=torch.__version__, transformers=transformers.__version__),
        cases=cases,
    )
    path = os.path.join(ROOT, "tests", "fixtures", "conventions", "reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
