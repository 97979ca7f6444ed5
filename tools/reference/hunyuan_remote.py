#!/usr/bin/env python3
"""Parameter counts of Tencent's remote-code Hunyuan model, as the checkpoint loads it.

The Hunyuan-A13B checkpoint ships its own ``configuration_hunyuan.py``, ``hunyuan.py``
and ``modeling_hunyuan.py`` (``auto_map`` -> ``hunyuan.HunYuanMoEV1ForCausalLM``), which
read the config differently from transformers' ``hunyuan_v1_moe`` (see
``hunyuan_remote_to_v1_moe`` in measure.py). This script instantiates that remote code on
the meta device for the official config and for small variants that exercise each field
the two readings disagree on, and writes ``tests/fixtures/reference/remote-hunyuan-*.json``
(same layout as measure.py's fixtures; no FLOPs).

Requirements: the three files from ``Tencent-Hunyuan/Hunyuan-A13B``, ``models/`` at
commit 2798f3c8b6a69e0ce93950b0d2417203cf950fa0, in one directory; the transformers the
config names (4.41.2, which the remote code imports from), e.g.::

    pip install --target /tmp/tf441 --no-deps transformers==4.41.2 tokenizers==0.19.1 \\
        huggingface_hub==0.23.4
    PYTHONPATH=/tmp/tf441 python3 tools/reference/hunyuan_remote.py /path/to/models
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections import OrderedDict

import torch
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "reference")
REAL = os.path.join(ROOT, "tools", "reference", "configs", "hunyuan-a13b.json")
FILES = ("configuration_hunyuan.py", "hunyuan.py", "modeling_hunyuan.py")

# Small variants: 2 layers, hidden 64, 4 heads (head width 16), 2 KV heads.
SMALL = dict(
    model_type="hunyuan",
    vocab_size=1000,
    hidden_size=64,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    tie_word_embeddings=True,
)
VARIANTS = {
    # The class defaults: no q/k norms, no shared MLP; 4 experts, top-2.
    "moe-defaults": dict(SMALL, num_experts=4, moe_topk=[2, 2]),
    # Shared MLP twice intermediate_size wide (num_shared_expert[0] = 2), q/k norms,
    # attention biases, untied head; moe_intermediate_size is not read.
    "mixed-shared-2": dict(
        SMALL,
        num_experts=4,
        moe_topk=[2, 2],
        use_mixed_mlp_moe=True,
        num_shared_expert=[2, 2],
        use_qk_norm=True,
        attention_bias=True,
        tie_word_embeddings=False,
        moe_intermediate_size=[96, 96],
        attention_head_dim=16,
    ),
    # num_experts 1: dense MLPs.
    "dense": dict(SMALL, num_experts=1, use_qk_norm=True),
}


def load_remote(models_dir: str):
    pkg_root = tempfile.mkdtemp()
    pkg = os.path.join(pkg_root, "hunyuan_remote")
    os.makedirs(pkg)
    for name in FILES:
        shutil.copy(os.path.join(models_dir, name), pkg)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    sys.path.insert(0, pkg_root)
    from hunyuan_remote.configuration_hunyuan import HunYuanConfig
    from hunyuan_remote.hunyuan import HunYuanMoEV1ForCausalLM

    return HunYuanConfig, HunYuanMoEV1ForCausalLM


def count(config_cls, model_cls, cfg: dict):
    kwargs = {k: v for k, v in cfg.items() if k not in ("model_type", "auto_map", "architectures")}
    config = config_cls(**kwargs)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        model = model_cls(config)
    by = OrderedDict()
    for name, p in model.named_parameters():
        key = re.sub(r"\.\d+\.", ".*.", name)
        by[key] = by.get(key, 0) + p.numel()
    return sum(p.numel() for p in model.parameters()), by, type(model).__name__


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    config_cls, model_cls = load_remote(argv[0])
    with open(REAL) as f:
        cases = {"a13b": json.load(f)}
    cases.update(VARIANTS)
    for name, cfg in cases.items():
        total, by, cls = count(config_cls, model_cls, cfg)
        source = (
            "tools/reference/configs/hunyuan-a13b.json"
            if name == "a13b"
            else "a small variant of the remote-code config (fields chosen to test its reading)"
        )
        fixture = OrderedDict(
            case=f"remote-hunyuan-{name}",
            description=f"{source}, instantiated with Tencent's remote code "
            "(Tencent-Hunyuan/Hunyuan-A13B models/, commit 2798f3c8b6a69e0ce93950b0d2417203cf950fa0) "
            "on the meta device; see tools/reference/hunyuan_remote.py.",
            config=cfg,
            seq_len=None,
            batch=None,
            params=OrderedDict(total=total, by_module=by),
            flops=None,
            method="meta",
            model_class=cls,
            torch=torch.__version__,
            transformers=transformers.__version__,
        )
        path = os.path.join(OUT_DIR, f"remote-hunyuan-{name}.json")
        with open(path, "w") as f:
            json.dump(fixture, f, indent=2)
            f.write("\n")
        print(f"remote-hunyuan-{name}: params={total}")


if __name__ == "__main__":
    main(sys.argv[1:])
