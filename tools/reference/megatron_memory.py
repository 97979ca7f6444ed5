#!/usr/bin/env python3
"""Megatron-LM's own memory estimate on its own example configurations, for `plan`'s tests.

Runs ``compute_weight_and_optimizer_memory`` and the activation function that
``report_theoretical_memory`` picks (``compute_activation_memory`` with sequence
parallelism and selective recomputation, else ``compute_activation_memory_without_sp``)
from ``megatron/training/theoretical_memory_usage.py`` of a Megatron-LM checkout, on the
arguments of three scripts in its ``examples/``: ``gpt3/train_gpt3_175b_distributed.sh``,
``llama/train_llama3_8b_h100_fp8.sh`` and ``mixtral/train_mixtral_8x7b_distributed.sh``.
Arguments the scripts leave out take Megatron's defaults (``megatron/training/arguments.py``):
``ffn_hidden_size = 4 * hidden``, ``kv_channels = hidden / heads``, LayerNorm, linear biases
on, ``expert_tensor_parallel_size = tensor_model_parallel_size``, vocabulary padded to a
multiple of 128 x TP (GPT-2's 50,257 becomes 51,200). The scripts take the GPU count from
the cluster; the world size chosen here is written in each case.

The Megatron source is read, never copied: pass the file (it imports two helpers from
``megatron.training.utils``, which are stubbed). Re-run from the repository root::

    git -C MEGATRON show COMMIT:megatron/training/theoretical_memory_usage.py > /tmp/tmu.py
    python3 tools/reference/megatron_memory.py /tmp/tmu.py COMMIT

It writes ``tests/fixtures/reference/memory/megatron.json``.
"""

import json
import os
import sys
import types
from types import SimpleNamespace

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "reference", "memory", "megatron.json")

DEFAULTS = dict(
    add_bias_linear=True,
    group_query_attention=False,
    num_query_groups=1,
    num_experts=None,
    swiglu=False,
    moe_shared_expert_intermediate_size=None,
    moe_layer_freq=1,
    moe_ffn_hidden_size=None,
    moe_router_topk=2,
    moe_latent_size=None,
    moe_shared_expert_gate=False,
    mtp_num_layers=None,
    normalization="LayerNorm",
    multi_latent_attention=False,
    untie_embeddings_and_output_weights=False,
    expert_model_parallel_size=1,
    context_parallel_size=1,
    virtual_pipeline_model_parallel_size=None,
    use_distributed_optimizer=False,
    sequence_parallel=False,
    recompute_granularity=None,
    hybrid_override_pattern=None,
    is_hybrid_model=False,
)

EXAMPLES = [
    dict(
        name="gpt3-175b",
        script="examples/gpt3/train_gpt3_175b_distributed.sh",
        world_size=1024,
        args=dict(
            num_layers=96, hidden_size=12288, num_attention_heads=96, seq_length=2048,
            micro_batch_size=1, tensor_model_parallel_size=8, pipeline_model_parallel_size=16,
            padded_vocab_size=51200,
        ),
        # The same shapes as a transformers GPT-2 config (learned positions, LayerNorm, GeLU).
        config={"model_type": "gpt2", "vocab_size": 51200, "n_positions": 2048, "n_embd": 12288,
                "n_layer": 96, "n_head": 96},
        plan=dict(dropout=True, activation_bytes=2),
    ),
    dict(
        name="llama3-8b",
        script="examples/llama/train_llama3_8b_h100_fp8.sh",
        world_size=8,
        args=dict(
            num_layers=32, hidden_size=4096, ffn_hidden_size=14336, num_attention_heads=32,
            group_query_attention=True, num_query_groups=8, seq_length=8192, micro_batch_size=1,
            tensor_model_parallel_size=1, pipeline_model_parallel_size=1, swiglu=True,
            untie_embeddings_and_output_weights=True, sequence_parallel=True,
            use_distributed_optimizer=True, normalization="RMSNorm", add_bias_linear=False,
            padded_vocab_size=128256,
        ),
        config={"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
                "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                "num_key_value_heads": 8, "tie_word_embeddings": False,
                "max_position_embeddings": 8192},
        plan=dict(dropout=False, activation_bytes=2),
    ),
    dict(
        name="mixtral-8x7b",
        script="examples/mixtral/train_mixtral_8x7b_distributed.sh",
        world_size=32,
        args=dict(
            num_layers=32, hidden_size=4096, ffn_hidden_size=14336, num_attention_heads=32,
            group_query_attention=True, num_query_groups=8, seq_length=4096, micro_batch_size=1,
            tensor_model_parallel_size=1, pipeline_model_parallel_size=4,
            expert_model_parallel_size=8, num_experts=8, moe_router_topk=2, swiglu=True,
            untie_embeddings_and_output_weights=True, sequence_parallel=True,
            use_distributed_optimizer=True, normalization="RMSNorm", add_bias_linear=False,
            padded_vocab_size=32000,
        ),
        config={"model_type": "mixtral", "vocab_size": 32000, "hidden_size": 4096,
                "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                "num_key_value_heads": 8, "num_local_experts": 8, "num_experts_per_tok": 2,
                "tie_word_embeddings": False, "max_position_embeddings": 32768},
        plan=dict(dropout=False, activation_bytes=2),
    ),
]


def load(path):
    utils = types.ModuleType("megatron_utils_stub")
    utils.is_hybrid_model = lambda args: False
    utils.print_rank_0 = lambda *a, **k: None
    package = types.ModuleType("tmu_pkg")
    package.__path__ = []
    sys.modules["tmu_pkg"] = package
    sys.modules["tmu_pkg.utils"] = utils
    source = open(path).read()
    module = types.ModuleType("tmu_pkg.theoretical_memory_usage")
    module.__package__ = "tmu_pkg"
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def main(path, commit):
    tmu = load(path)
    cases = []
    for example in EXAMPLES:
        a = dict(DEFAULTS)
        a.update(example["args"])
        a.setdefault("ffn_hidden_size", 4 * a["hidden_size"])
        a["kv_channels"] = a["hidden_size"] // a["num_attention_heads"]
        if a["moe_ffn_hidden_size"] is None:
            a["moe_ffn_hidden_size"] = a["ffn_hidden_size"]
        a["expert_tensor_parallel_size"] = a["tensor_model_parallel_size"]
        a["world_size"] = example["world_size"]
        a["data_parallel_size"] = example["world_size"] // (
            a["tensor_model_parallel_size"] * a["pipeline_model_parallel_size"] * a["context_parallel_size"]
        )
        args = SimpleNamespace(**a)
        weights = tmu.compute_weight_and_optimizer_memory(SimpleNamespace(**a))
        with_sp = args.sequence_parallel and args.recompute_granularity == "selective"
        if with_sp:
            activations = tmu.compute_activation_memory(SimpleNamespace(**a), num_microbatches=None)
        else:
            activations = tmu.compute_activation_memory_without_sp(SimpleNamespace(**a), num_microbatches=None)
        cases.append(
            dict(
                name=example["name"],
                script=example["script"],
                world_size=example["world_size"],
                megatron_args=a,
                activation_function="compute_activation_memory" if with_sp else "compute_activation_memory_without_sp",
                weight_and_optimizer_bytes=weights,
                activation_bytes=activations,
                config=example["config"],
                plan=example["plan"],
            )
        )
        print(example["name"], weights / 2**30, activations / 2**30, file=sys.stderr)
    out = dict(
        generated_by="tools/reference/megatron_memory.py",
        source="https://github.com/NVIDIA/Megatron-LM/blob/%s/megatron/training/theoretical_memory_usage.py" % commit,
        commit=commit,
        cases=cases,
    )
    with open(OUT, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
