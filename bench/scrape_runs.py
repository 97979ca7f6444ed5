#!/usr/bin/env python3
"""Scrape time of /metrics with 1, 10 and 100 pushed runs, for one or more builds.

Each build is started push-only (no tailed log), given N runs by one push each (tokens/s, step,
loss, 8 GPUs, so that every family, MFU included, has samples), then scraped over one keep-alive
connection: 50 scrapes to warm up, then `--scrapes` timed ones. Builds alternate within each
round; the table takes each build's best median over the rounds (the machine is shared, and the
best round is the one least disturbed by other work), with its p90, the body size, and the
exporter's own CPU time per scrape (`mfu_exporter_cpu_seconds_total` before and after the timed
scrapes, so the client's share of the latency is left out). Last, the cost of one more run: the
slope of the best medians between the fewest and the most runs.

    python3 bench/scrape_runs.py --rounds 3 \\
        --binary before=/tmp/mfu-before --binary after=target/release/mfu-exporter
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import Scraper, port_free, wait_for  # noqa: E402

PORT = 19431


def push(port, runs):
    body = json.dumps([{"run": f"run-{i:03}", "tokens_per_sec": 100000.0 + i, "step": 10 + i,
                        "loss": 2.5, "gpus": 8} for i in range(runs)])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/api/v1/push", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    if response.status != 200:
        sys.exit(f"push of {runs} runs answered {response.status}: {text}")


def cpu_seconds(text):
    """The exporter's `mfu_exporter_cpu_seconds_total` in an exposition."""
    for line in text.splitlines():
        if line.startswith("mfu_exporter_cpu_seconds_total "):
            return float(line.split()[1])
    sys.exit("the exposition has no mfu_exporter_cpu_seconds_total")


def measure(binary, runs, scrapes):
    if not port_free(PORT):
        sys.exit(f"port {PORT} is taken")
    workdir = tempfile.mkdtemp(prefix="scrape-runs-")
    command = [binary, "serve", "--model", "gpt2", "--gpu", "a100-sxm", "--gpus", "8",
               "--web.listen-address", f"127.0.0.1:{PORT}", "--log.level", "warn",
               "--push.max-runs", str(max(runs, 1) + 10)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=workdir)
    try:
        scraper = Scraper(PORT)
        if not wait_for(lambda: scraper.get() is not None, 30, 0.01):
            sys.exit(f"{binary} did not answer /metrics within 30 s")
        push(PORT, runs)
        body = scraper.get()
        expected = f'training_mfu_ratio{{run="run-{runs - 1:03}"'
        if expected not in body:
            sys.exit(f"{binary}: the exposition has no {expected}")
        for _ in range(50):
            scraper.get()
        cpu_before = cpu_seconds(scraper.get())
        times = []
        for _ in range(scrapes):
            start = time.perf_counter()
            scraper.get()
            times.append((time.perf_counter() - start) * 1e3)
        cpu_after = cpu_seconds(scraper.get())
        scraper.close()
        times.sort()
        return {"median_ms": statistics.median(times),
                "p90_ms": times[int(len(times) * 0.9) - 1], "body_bytes": len(body.encode()),
                "cpu_us": (cpu_after - cpu_before) / (scrapes + 1) * 1e6}
    finally:
        process.terminate()
        process.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", action="append", required=True, help="LABEL=PATH")
    parser.add_argument("--runs", default="1,10,100")
    parser.add_argument("--scrapes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binaries = [b.split("=", 1) for b in args.binary]
    run_counts = [int(n) for n in args.runs.split(",")]
    best = {}
    for round_index in range(args.rounds):
        for runs in run_counts:
            for label, path in binaries:
                result = measure(path, runs, args.scrapes)
                print(f"round {round_index + 1}: {label} {runs} runs: {result}", file=sys.stderr)
                key = (label, runs)
                if key not in best or result["median_ms"] < best[key]["median_ms"]:
                    best[key] = result
    header = "| build | " + " | ".join(f"{n} run{'s' if n > 1 else ''}" for n in run_counts)
    print(header + " |")
    print("| --- |" + " ---: |" * len(run_counts))
    for label, _ in binaries:
        cells = [f"{best[(label, n)]['median_ms']:.3f} ms (p90 {best[(label, n)]['p90_ms']:.3f}, "
                 f"{best[(label, n)]['body_bytes'] // 1024} KiB, CPU {best[(label, n)]['cpu_us']:.0f} µs)"
                 for n in run_counts]
        print(f"| {label} | " + " | ".join(cells) + " |")
    fewest, most = min(run_counts), max(run_counts)
    if most > fewest:
        print()
        print(f"| build | latency per run ({fewest} to {most} runs) | CPU per run |")
        print("| --- | ---: | ---: |")
        for label, _ in binaries:
            low, high = best[(label, fewest)], best[(label, most)]
            latency = (high["median_ms"] - low["median_ms"]) / (most - fewest) * 1e3
            cpu = (high["cpu_us"] - low["cpu_us"]) / (most - fewest)
            print(f"| {label} | {latency:.2f} µs | {cpu:.2f} µs |")


if __name__ == "__main__":
    main()
