#!/usr/bin/env bash
# End-to-end check of the framework callbacks: runs the tiny Hugging Face and
# Lightning trainings (CPU), then the exporter's dry run on each JSON-lines file,
# and compares the exporter's totals with the file.  Installs nothing: needs
# torch, transformers, accelerate and lightning (tests/requirements.txt) and a
# built exporter.
#
#   MFU_EXPORTER=path/to/mfu-exporter PYTHON=python3 integrations/tests/run.sh
#
# Exits non-zero on any mismatch.  KEEP=1 keeps the temporary directory; DDP=1
# also runs both with 2 CPU processes (gloo: torchrun for HF, strategy="ddp" for
# Lightning), which checks the gathering of tokens across ranks.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exporter="${MFU_EXPORTER:-target/debug/mfu-exporter}"
python="${PYTHON:-python3}"

if [[ ! -x "$exporter" ]]; then
    echo "run.sh: no exporter binary at $exporter (build it, or set MFU_EXPORTER)" >&2
    exit 2
fi

out="$(mktemp -d "${TMPDIR:-/tmp}/mfu-integrations.XXXXXX")"
if [[ "${KEEP:-0}" == 1 ]]; then
    echo "run.sh: keeping $out"
else
    trap 'rm -rf "$out"' EXIT
fi

check() { # NAME SCRIPT GPUS [LAUNCHER...]: run the tiny training, then the dry run, then compare
    local name="$1" script="$2" gpus="$3" dir="$out/$1"
    shift 3
    local launcher=("$@")
    [[ ${#launcher[@]} -gt 0 ]] || launcher=("$python")
    mkdir -p "$dir"
    local t0 t1
    t0=$(date +%s.%N)
    "${launcher[@]}" "$here/$script" "$dir/$name.jsonl" >"$dir/train.log" 2>&1 || {
        echo "FAIL $name: $script exited non-zero" >&2
        tail -n 30 "$dir/train.log" >&2
        return 1
    }
    t1=$(date +%s.%N)
    grep '^{"script"' "$dir/train.log" || true
    "$exporter" logs "$dir/$name.jsonl" --model "$dir/config.json" --gpu a100-sxm --gpus "$gpus" \
        --seq-len 32 --json --quiet >"$dir/summary.json" 2>"$dir/exporter.err" || {
        echo "FAIL $name: the exporter's dry run exited non-zero:" >&2
        cat "$dir/exporter.err" >&2
        return 1
    }
    "$python" - "$name" "$dir/$name.jsonl" "$dir/summary.json" "$t0" "$t1" <<'EOF'
import json, sys

name, log, summary_path, t0, t1 = sys.argv[1:]
lines = [json.loads(l) for l in open(log, encoding="utf-8") if l.strip()]
summary = json.load(open(summary_path, encoding="utf-8"))
last = lines[-1]
last_loss = next((r["loss"] for r in reversed(lines) if "loss" in r), None)
want = {
    "records": len(lines),
    "tokens": sum(r["tokens"] for r in lines),
    "steps": len(lines),
    "last_step": last["step"],
    "last_loss": last_loss,
    "errors": {},
    "ignored": 0,
}
bad = [f"{k}: exporter {summary.get(k)!r} != file {v!r}" for k, v in want.items() if summary.get(k) != v]
if "loss" not in last:
    bad.append("the last line has no loss")
if not summary.get("mfu") or not summary["mfu"].get("palm"):
    bad.append(f"no MFU in the summary: {summary.get('mfu')!r}")
if bad:
    print(f"FAIL {name}:", *bad, sep="\n  ", file=sys.stderr)
    print(json.dumps(summary), file=sys.stderr)
    sys.exit(1)
print(f"ok   {name}: records={summary['records']} steps={summary['steps']:g} tokens={summary['tokens']:g} "
      f"last_step={summary['last_step']} last_loss={summary['last_loss']:.6f} "
      f"mfu_palm={summary['mfu']['palm']:.3e} training_wall_s={float(t1) - float(t0):.1f}")
EOF
}

passed=0 failed=0
run() { if check "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }
run hf tiny_hf.py 1
run lightning tiny_lightning.py 1
if [[ "${DDP:-0}" == 1 ]]; then
    run hf_ddp2 tiny_hf.py 2 "$python" -m torch.distributed.run --nproc_per_node 2
    TINY_DEVICES=2 run lightning_ddp2 tiny_lightning.py 2
fi
echo "$passed passed, $failed failed"
status=$((failed > 0 ? 1 : 0))
exit $status
