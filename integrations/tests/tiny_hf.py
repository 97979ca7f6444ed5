"""A real, tiny Hugging Face Trainer run on CPU with MfuExporterCallback, then
exact checks of the JSON lines it wrote.

    python integrations/tests/tiny_hf.py OUT_DIR/hf.jsonl

Writes OUT_DIR/hf.jsonl and OUT_DIR/config.json (the model's config, for
`mfu-exporter ... --model OUT_DIR/config.json`).  Exits non-zero on any mismatch.
"""

import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments  # noqa: E402

from hf_trainer_callback import MfuExporterCallback  # noqa: E402

SEQ_LEN = 32
BATCH = 4
GRAD_ACCUM = 2
STEPS = 6
LOGGING_STEPS = 2  # odd steps have no loss, even steps do: both paths of the callback
WORLD = int(os.environ.get("WORLD_SIZE", "1"))  # set by torchrun: `torchrun --nproc_per_node 2 tiny_hf.py ...`
TOKENS_PER_STEP = SEQ_LEN * BATCH * GRAD_ACCUM * WORLD


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n, seq_len, vocab):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (n, seq_len), generator=g)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        ids = self.ids[i]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_hf.py OUT.jsonl")
    out = os.path.abspath(sys.argv[1])
    out_dir = os.path.dirname(out)
    os.makedirs(out_dir, exist_ok=True)
    if os.path.exists(out) and int(os.environ.get("RANK", "0")) == 0:
        os.remove(out)  # the callback appends

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=256,
        max_position_embeddings=SEQ_LEN,
    )
    model = LlamaForCausalLM(config)
    if int(os.environ.get("RANK", "0")) == 0:
        model.config.to_json_file(os.path.join(out_dir, "config.json"))

    args = TrainingArguments(
        output_dir=os.path.join(out_dir, "hf_trainer_output"),
        per_device_train_batch_size=BATCH,
        gradient_accumulation_steps=GRAD_ACCUM,
        max_steps=STEPS,
        logging_steps=LOGGING_STEPS,
        learning_rate=1e-3,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=0,
        # include_num_input_tokens_seen left at its default ("no"): the callback turns it on.
    )
    data = RandomTokens((BATCH * GRAD_ACCUM * STEPS + 8) * WORLD, SEQ_LEN, config.vocab_size)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[MfuExporterCallback(out)])

    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0

    # -- checks (on the main process, the only one that writes) ----------------------
    if not trainer.is_world_process_zero():
        return
    with open(out, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    assert len(lines) == STEPS, f"{len(lines)} lines, expected {STEPS}"
    logged = {e["step"]: e["loss"] for e in trainer.state.log_history if "loss" in e}
    for i, rec in enumerate(lines, start=1):
        assert set(rec) <= {"step", "tokens", "step_time", "loss", "time"}, rec
        assert rec["step"] == i, f"line {i}: step {rec['step']}"
        assert rec["tokens"] == TOKENS_PER_STEP, f"line {i}: tokens {rec['tokens']} != {TOKENS_PER_STEP}"
        assert isinstance(rec["tokens"], int), rec
        assert 0 < rec["step_time"] < wall, f"line {i}: step_time {rec['step_time']}"
        assert abs(rec["time"] - time.time()) < 3600, f"line {i}: time {rec['time']}"
        if i % LOGGING_STEPS == 0:
            assert "loss" in rec, f"line {i}: no loss on a logging step"
            assert math.isclose(rec["loss"], logged[i]), f"line {i}: loss {rec['loss']} != logged {logged[i]}"
        else:
            assert "loss" not in rec, f"line {i}: loss on a step that did not log"
    total = sum(r["tokens"] for r in lines)
    assert total == trainer.state.num_input_tokens_seen == STEPS * TOKENS_PER_STEP, total
    steps = [r["step"] for r in lines]
    assert steps == sorted(steps) and len(set(steps)) == len(steps), steps

    print(json.dumps({"script": "tiny_hf", "world_size": WORLD, "steps": len(lines), "tokens": total,
                      "tokens_per_step": TOKENS_PER_STEP, "wall_s": round(wall, 2),
                      "out": out}))


if __name__ == "__main__":
    main()
