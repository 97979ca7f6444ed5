"""A real, tiny Lightning run on CPU with MfuExporterCallback, then exact checks
of the JSON lines it wrote.

    python integrations/tests/tiny_lightning.py OUT_DIR/lightning.jsonl

Writes OUT_DIR/lightning.jsonl and OUT_DIR/config.json (the model's config, for
`mfu-exporter ... --model OUT_DIR/config.json`).  An epoch is 5 micro-batches
with accumulate_grad_batches=2, so every third optimizer step is the short last
accumulation of an epoch (1 micro-batch): the expected tokens per line are
256, 256, 128, 256, 256, 128.  Exits non-zero on any mismatch.
"""

import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from lightning_callback import Callback, MfuExporterCallback  # noqa: E402

if Callback.__module__.startswith("pytorch_lightning"):
    import pytorch_lightning as L  # noqa: E402
else:
    import lightning.pytorch as L  # noqa: E402

SEQ_LEN = 32
BATCH = 4
GRAD_ACCUM = 2
BATCHES_PER_EPOCH = 5
STEPS = 6
DEVICES = int(os.environ.get("TINY_DEVICES", "1"))  # TINY_DEVICES=2: DDP on CPU (gloo), tokens all-reduced


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n, seq_len, vocab):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (n, seq_len), generator=g)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        ids = self.ids[i]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


class TinyLlama(L.LightningModule):
    def __init__(self, config):
        super().__init__()
        self.model = LlamaForCausalLM(config)
        self.raw_losses = []  # (global_step before the step, loss) per micro-batch

    def training_step(self, batch, batch_idx):
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         labels=batch["input_ids"])
        self.raw_losses.append((self.trainer.global_step, out.loss.item()))
        return out.loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def expected_tokens():
    per_step = []
    while len(per_step) < STEPS:
        left = BATCHES_PER_EPOCH
        while left and len(per_step) < STEPS:
            n = min(GRAD_ACCUM, left)
            per_step.append(n * BATCH * SEQ_LEN * DEVICES)
            left -= n
    return per_step


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_lightning.py OUT.jsonl")
    out = os.path.abspath(sys.argv[1])
    out_dir = os.path.dirname(out)
    os.makedirs(out_dir, exist_ok=True)
    if os.path.exists(out) and "LOCAL_RANK" not in os.environ:
        os.remove(out)  # the callback appends (launched ranks have LOCAL_RANK set)

    L.seed_everything(0, verbose=False)
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=256,
        max_position_embeddings=SEQ_LEN,
    )
    module = TinyLlama(config)
    if "LOCAL_RANK" not in os.environ:
        module.model.config.to_json_file(os.path.join(out_dir, "config.json"))

    data = torch.utils.data.DataLoader(
        RandomTokens(BATCH * BATCHES_PER_EPOCH * DEVICES, SEQ_LEN, config.vocab_size), batch_size=BATCH, shuffle=False
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=DEVICES,
        strategy="ddp" if DEVICES > 1 else "auto",
        max_steps=STEPS,
        accumulate_grad_batches=GRAD_ACCUM,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=out_dir,
        callbacks=[MfuExporterCallback(out, tokens_key="input_ids")],
    )

    t0 = time.perf_counter()
    trainer.fit(module, data)
    wall = time.perf_counter() - t0

    # -- checks (on global rank zero, the only one that writes) ----------------------
    if not trainer.is_global_zero:
        return
    with open(out, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    want = expected_tokens()
    assert trainer.global_step == STEPS, trainer.global_step
    assert len(lines) == STEPS, f"{len(lines)} lines, expected {STEPS}"
    for i, rec in enumerate(lines, start=1):
        assert set(rec) == {"step", "tokens", "step_time", "loss", "time"}, rec
        assert rec["step"] == i, f"line {i}: step {rec['step']}"
        assert isinstance(rec["tokens"], int), rec
        assert rec["tokens"] == want[i - 1], f"line {i}: tokens {rec['tokens']} != {want[i - 1]}"
        assert 0 < rec["step_time"] < wall, f"line {i}: step_time {rec['step_time']}"
        assert abs(rec["time"] - time.time()) < 3600, f"line {i}: time {rec['time']}"
        raw = [loss for step, loss in module.raw_losses if step == i - 1]
        assert raw, f"line {i}: no micro-batch losses recorded"
        assert math.isclose(rec["loss"], sum(raw) / len(raw), rel_tol=1e-5), (rec["loss"], raw)
    total = sum(r["tokens"] for r in lines)
    assert total == sum(want), total
    steps = [r["step"] for r in lines]
    assert steps == sorted(steps) and len(set(steps)) == len(steps), steps

    print(json.dumps({"script": "tiny_lightning", "world_size": trainer.world_size, "steps": len(lines), "tokens": total,
                      "tokens_per_line": [r["tokens"] for r in lines], "wall_s": round(wall, 2),
                      "out": out}))


if __name__ == "__main__":
    main()
