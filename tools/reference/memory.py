#!/usr/bin/env python3
"""Reference measurements of training memory for `mfu-exporter plan`.

README
======

What this measures
------------------
For each small model below, built with ``AutoModelForCausalLM.from_config`` on CPU
(real random weights), the script records:

* ``state``: the exact bytes of the training state, in the model's dtype
  (float32 and bfloat16 builds):

  - ``params_bytes``: ``sum(p.numel() * p.element_size())`` over ``parameters()``
    (tied weights once);
  - ``grads_bytes``: the same over ``p.grad`` after one ``loss.backward()``;
  - ``adam_moments_bytes``: ``exp_avg`` plus ``exp_avg_sq`` of ``torch.optim.AdamW``
    after one ``step()`` (PyTorch keeps them in the parameter's dtype);
  - ``adam_step_bytes``: the ``step`` counters AdamW keeps, one float32 scalar per
    parameter tensor (not modelled by the estimate: a few KiB).

* ``activations``: what autograd keeps for the backward pass of one training step
  (forward with ``labels=input_ids``, the model's own causal-LM loss), recorded with
  ``torch.autograd.graph.saved_tensors_hooks``. Every tensor autograd saves goes
  through the pack hook; bytes are counted once per storage
  (``untyped_storage().nbytes()``, so views of one buffer count once, and a slice
  keeps its whole buffer alive, as it does on a GPU), and storages that belong to a
  parameter are not activations and are skipped. A forward pre-hook / hook on each
  decoder layer attributes a storage to the layer that first saved it; the rest
  (embedding, final norm, LM head, loss) is ``outside_layers_bytes``.
  ``layer_1_by_module`` splits the second layer's bytes by the innermost module that
  was running when each storage was first saved, and its dtype (the attention core,
  rotary embedding and softmax run inside ``self_attn`` itself). Models run in
  bfloat16, ``model.train()``, batch ``b`` at two sequence lengths, with
  ``attn_implementation`` ``eager`` and ``sdpa``.

Requirements: Python 3.11, torch 2.15.0 (CPU build), transformers 5.24.0.

How to re-run (from the repository root)::

    python3 tools/reference/memory.py

It writes ``tests/fixtures/reference/memory/memory.json``, read by
``tests/it/plan.rs``. Runs in about a minute on two CPU cores.
"""

import json
import os
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "reference", "memory", "memory.json")

CASES = [
    dict(
        name="tiny-llama",
        description="Llama: 4 layers, hidden 256, 4 heads of 64, 2 KV heads, SwiGLU 688, untied, no dropout.",
        config={
            "model_type": "llama",
            "vocab_size": 1024,
            "hidden_size": 256,
            "intermediate_size": 688,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 1024,
            "tie_word_embeddings": False,
        },
    ),
    dict(
        name="tiny-gpt2",
        description="GPT-2: 4 layers, n_embd 256, 4 heads, n_inner 1024, tied, dropout 0.1 (the defaults).",
        config={
            "model_type": "gpt2",
            "vocab_size": 1024,
            "n_positions": 1024,
            "n_embd": 256,
            "n_layer": 4,
            "n_head": 4,
        },
    ),
    dict(
        name="tiny-qwen3",
        description="Qwen3: 4 layers, hidden 256, 8 heads of 32, 4 KV heads, q/k norms, SwiGLU 512, tied.",
        config={
            "model_type": "qwen3",
            "vocab_size": 1024,
            "hidden_size": 256,
            "intermediate_size": 512,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "head_dim": 32,
            "max_position_embeddings": 1024,
            "tie_word_embeddings": True,
        },
    ),
]

SEQ_LENS = [128, 512]
BATCH = 2
ATTENTION = ["eager", "sdpa"]


def build(config, dtype, attn):
    cfg = AutoConfig.for_model(**config)
    cfg._attn_implementation = attn
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn, dtype=dtype)
    model.train()
    return model


def state_bytes(config, dtype):
    model = build(config, dtype, "eager")
    params = list(model.parameters())
    params_bytes = sum(p.numel() * p.element_size() for p in params)
    numel = sum(p.numel() for p in params)
    ids = torch.randint(0, config["vocab_size"], (BATCH, 32))
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads_bytes = sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    optimizer = torch.optim.AdamW(params, lr=1e-4, foreach=False)
    optimizer.step()
    moments = 0
    steps = 0
    for p in params:
        st = optimizer.state[p]
        moments += st["exp_avg"].numel() * st["exp_avg"].element_size()
        moments += st["exp_avg_sq"].numel() * st["exp_avg_sq"].element_size()
        steps += st["step"].numel() * st["step"].element_size()
    return dict(
        dtype=str(dtype).replace("torch.", ""),
        parameters=numel,
        parameter_tensors=len(params),
        params_bytes=params_bytes,
        grads_bytes=grads_bytes,
        adam_moments_bytes=moments,
        adam_step_bytes=steps,
    )


def layers_of(model):
    inner = getattr(model, "model", None) or getattr(model, "transformer")
    return list(getattr(inner, "layers", None) or getattr(inner, "h"))


def activation_bytes(config, attn, seq_len):
    model = build(config, torch.bfloat16, attn)
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}
    # The decoder layer (or "outside") and the innermost module inside it that is running.
    current = ["outside"]
    stack = []

    def enter(i):
        def hook(_module, _args):
            current[0] = i

        return hook

    def leave(_module, _args, _out):
        current[0] = "outside"

    layers = layers_of(model)
    for i, layer in enumerate(layers):
        layer.register_forward_pre_hook(enter(i))
        layer.register_forward_hook(leave)
        for name, sub in layer.named_modules():
            if not name:
                continue

            def push(_m, _a, name=name):
                stack.append(name)

            def pop(_m, _a, _o):
                stack.pop()

            sub.register_forward_pre_hook(push)
            sub.register_forward_hook(pop)

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in param_storages and ptr not in seen:
            where = stack[-1] if stack and current[0] != "outside" else "(layer itself)"
            seen[ptr] = (current[0], where, storage.nbytes(), str(t.dtype).replace("torch.", ""))
        return t

    torch.manual_seed(1)
    ids = torch.randint(0, config["vocab_size"], (BATCH, seq_len))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(input_ids=ids, labels=ids).loss
    per_layer = {}
    outside = 0
    # Bytes of the second layer (the first also keeps the embedding's output) by module.
    breakdown = {}
    for layer_index, where, nbytes, dtype in seen.values():
        if layer_index == "outside":
            outside += nbytes
        else:
            per_layer[layer_index] = per_layer.get(layer_index, 0) + nbytes
            if layer_index == 1:
                key = "%s (%s)" % (where, dtype)
                breakdown[key] = breakdown.get(key, 0) + nbytes
    del loss
    counts = [per_layer.get(i, 0) for i in range(len(layers))]
    return dict(
        attn_implementation=attn,
        seq_len=seq_len,
        batch=BATCH,
        dtype="bfloat16",
        per_layer_bytes=counts,
        outside_layers_bytes=outside,
        total_bytes=outside + sum(counts),
        layer_1_by_module=dict(sorted(breakdown.items())),
    )


def main():
    torch.set_num_threads(2)
    out = dict(
        generated_by="tools/reference/memory.py",
        torch=torch.__version__,
        transformers=transformers.__version__,
        cases=[],
    )
    for case in CASES:
        entry = dict(name=case["name"], description=case["description"], config=case["config"])
        entry["state"] = [state_bytes(case["config"], d) for d in (torch.float32, torch.bfloat16)]
        entry["activations"] = [
            activation_bytes(case["config"], attn, s) for attn in ATTENTION for s in SEQ_LENS
        ]
        out["cases"].append(entry)
        print(case["name"], json.dumps(entry["activations"]), file=sys.stderr)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
