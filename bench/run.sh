#!/bin/sh
# Runs the benchmark suite: checks for the peers, builds the release binary, measures
# everything (bench/driver.py) and regenerates BENCHMARKS.md from bench/results/latest.json.
#
#   bench/run.sh [--quick] [--only ingest,catchup,freshness,scrape,push,idle,files,limit]
set -eu
cd "$(dirname "$0")/.."

python=/usr/bin/python3
[ -x "$python" ] || python=python3
missing=""
for program in mtail prometheus-pushgateway prometheus-node-exporter wrk; do
    command -v "$program" >/dev/null 2>&1 || missing="$missing $program"
done
"$python" -c 'import prometheus_client' 2>/dev/null || missing="$missing python3-prometheus-client"
if [ -n "$missing" ]; then
    echo "bench/run.sh: missing:$missing" >&2
    echo "install them with: apt-get install -y mtail prometheus-pushgateway prometheus-node-exporter wrk python3-prometheus-client" >&2
    echo "(or 'pip install prometheus_client' for the Python module)" >&2
    exit 2
fi

cargo build --release --locked
echo "load before: $(uptime)"
BENCH_PYTHON="$python" "$python" bench/driver.py run "$@"
echo "load after: $(uptime)"
"$python" bench/driver.py render
