#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the repository's fixtures and a few hand-written inputs.
# Safe to run again: seeds are named by content hash, so nothing is duplicated, and what the
# fuzzer has added to the corpus is kept. Needs bash, coreutils and jq.
set -euo pipefail

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$fuzz_dir")"
corpus="$fuzz_dir/corpus"

# seed TARGET < input: stores stdin as one corpus file named by its SHA-1.
seed() {
    local target="$1" tmp hash
    mkdir -p "$corpus/$target"
    tmp="$(mktemp "$corpus/$target/.seed.XXXXXX")"
    cat >"$tmp"
    hash="$(sha1sum "$tmp" | cut -d' ' -f1)"
    mv "$tmp" "$corpus/$target/$hash"
}

# log_line: every fixture log line on its own, and a few with a mapping header (the fuzz target
# reads what comes before the first newline as `|`-separated field paths).
for log in "$repo"/tests/fixtures/logs/*.jsonl; do
    while IFS= read -r line || [[ -n "$line" ]]; do
        printf '%s' "$line" | seed log_line
    done <"$log"
done
printf '%s' '{"tokens_per_sec": 41943.0, "step": 1, "loss": 10.9, "time": 1767607200.5, "mfu_pct": 38}' | seed log_line
printf '%s' '{"ts": "2026-01-05T10:00:00.123456789+02:00", "iter": "7", "throughput": "1e5", "iter_time_ms": 900}' | seed log_line
printf '%s' $'\xef\xbb\xbf{"consumed_tokens": 1, "timestamp": 1767607200123456789}\r' | seed log_line
printf '%s' '' | seed log_line
printf '%s' $'metrics.tps|n|total|/timing/step~1ms|it|/train.loss|t|mfu\n{"metrics": {"tps": 1200}, "timing": {"step/ms": 500}, "train.loss": 2.5, "t": "2026-01-05 10:00:00Z", "mfu": 0.4}' | seed log_line
printf '%s' $'a.b.c|x\n{"a": {"b": {"c": 3}}, "a": null, "x": [1, {"y": 2}]}' | seed log_line

# push_body: the shapes the push API accepts and a few it refuses.
for body in \
    '{"tokens_per_sec": 1234.5}' \
    '{"tokens": 524288, "seconds": 12.5, "step": 3, "loss": 2.1, "mfu": 0.41, "run": "llama3-8b.pretrain_1"}' \
    '[{"tokens_per_sec": 1, "run": "a"}, {"tokens": 10, "seconds": 0.5, "run": "b", "step": 2.0}]' \
    '{"tokens_per_sec": null, "tokens": 1, "seconds": 1, "loss": null}' \
    '{"tokens_per_sec": 1, "seconds": 1}' \
    '{"tokens_per_sec": 1e13}' \
    '{"tokens_per_secs": 1}' \
    '[]' \
    '[1, "x", null, true, [], {}]' \
    '{"tokens_per_sec": 1, "tokens_per_sec": 2}' \
    '{"tokens": 1, "seconds": 0}' \
    '{"tokens_per_sec": 1, "step": -1, "mfu": 41}' \
    '{"tokens_per_sec": 1e400}'; do
    printf '%s' "$body" | seed push_body
done

# model_config: the bundled presets, the test models, and the `config` of every reference case.
for config in "$repo"/configs/models/*.json "$repo"/tests/fixtures/models/*.json; do
    seed model_config <"$config"
done
for case in "$repo"/tests/fixtures/reference/*.json; do
    jq -e 'has("config")' "$case" >/dev/null 2>&1 || continue
    jq '.config' "$case" | seed model_config
done
printf '%s' '{"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 1024, "bias": false, "vocab_size": 50304}' | seed model_config

# exporter_config: the deployment examples, and one that sets every key.
seed exporter_config <"$repo/deploy/systemd/config.toml"
if [[ -f "$repo/deploy/kubernetes/configmap.yaml" ]]; then
    # The TOML inside the ConfigMap: the indented block after `config.toml: |`.
    sed -n '/config.toml: |/,$p' "$repo/deploy/kubernetes/configmap.yaml" | tail -n +2 | sed 's/^    //' | seed exporter_config
fi
seed exporter_config <<'TOML'
stale_after = "5m"
state_file = "/var/lib/mfu-exporter/positions.json"

[model]
model = "llama-3-8b"
seq_len = 8192
attention = "causal"
recompute = "selective"
mtp = false

[hardware]
gpu = "h100-sxm"
dtype = "fp8"
gpus = 8
peak_tflops = 989.5

[web]
listen_address = ":10077"
telemetry_path = "/metrics"

[log]
level = "debug"

[push]
token_file = "/etc/mfu-exporter/token"
allow_remote = true
max_body_bytes = 1048576
expire_after = "1h"
max_runs = 100

[[tail]]
path = ["/logs/a-*.jsonl", "/logs/b.jsonl"]
run = "pretrain"
throughput_scope = "per-gpu"
read_from = "beginning"
poll = true
max_line_bytes = 65536
mfu_unit = "percent"

[tail.fields]
tokens_per_second = "metrics.tps"
tokens = ["n_tokens", "/batch/tokens"]
step_seconds = { path = "/timing/step_ms", scale = 0.001 }

[[tail]]
path = "/logs/eval.jsonl"
run = "eval"
TOML
printf '%s' '' | seed exporter_config

# tail_lines: the first byte is max_line_bytes, 0xFF cuts the rest into appends.
for log in "$repo"/tests/fixtures/logs/*.jsonl; do
    { printf '\x40'; cat "$log"; } | seed tail_lines
done
printf '\x08short\nline that is too long\r\nok\r\n\xffpartial\xff line\n\xff\n\n' | seed tail_lines
printf '\x00\n\r\n\xffa\xff\n' | seed tail_lines

# positions_file: what the tailer saves with --state-file.
seed positions_file <<'JSON'
{
  "version": 1,
  "files": [
    {
      "path": "/logs/train-0.jsonl",
      "dev": 2049,
      "inode": 1234567,
      "fingerprint_bytes": 256,
      "fingerprint_fnv1a64": "cbf29ce484222325",
      "offset": 1048576
    },
    {
      "path": "/logs/train-1.jsonl",
      "dev": 2049,
      "inode": 7654321,
      "fingerprint_bytes": 12,
      "fingerprint_fnv1a64": "00000000000000ff",
      "offset": 0
    }
  ]
}
JSON
printf '%s' '{"version": 1, "files": []}' | seed positions_file

for target in "$corpus"/*/; do
    printf '%-16s %s inputs\n' "$(basename "$target")" "$(find "$target" -type f | wc -l)"
done
