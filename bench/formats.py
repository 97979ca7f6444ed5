#!/usr/bin/env python3
"""Daemon catch-up per log format: lines/s until /metrics has counted every line of a log read
from its first byte, for JSON lines (the driver's line) and for each built-in text format (its
real fixture lines, repeated). With --baseline BINARY the same JSON log is also read by another
build in the same run, so the ratio is measured, not remembered.

    python3 bench/formats.py [--lines 1000000] [--reps 3] [--baseline path/to/mfu-exporter]
"""

import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from driver import log_line  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lines_read(port):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return -1
    for line in body.splitlines():
        if line.startswith("mfu_exporter_lines_read_total "):
            return float(line.split()[1])
    return -1


def catchup(binary, log, line_count, format_name):
    port = free_port()
    args = [binary, "serve", "--model", "gpt2", "--gpu", "a100-sxm", "--gpus", "8",
            "--seq-len", "1024", "--tail.path", log, "--tail.read-from", "beginning",
            "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error"]
    if format_name != "json":
        args += ["--tail.format", format_name, "--tail.tokens-per-step", "65536"]
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = started + 300
        while time.monotonic() < deadline:
            if lines_read(port) >= line_count:
                return line_count / (time.monotonic() - started)
            time.sleep(0.01)
        return 0.0
    finally:
        process.terminate()
        process.wait()


def measure(binary, line_count, reps, baseline=None):
    """Median catch-up lines/s per format (and of the baseline build on the JSON log), each
    format's daemon run in turn, the rounds alternating; keys as "mfu-exporter NAME"."""
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        logs = {}
        path = os.path.join(directory, "json.log")
        with open(path, "w") as out:
            out.writelines(log_line(step) for step in range(line_count))
        logs["json"] = path
        for fixtures in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/logs/*/"))):
            name = os.path.basename(os.path.dirname(fixtures))
            sample = []
            for fixture in sorted(glob.glob(os.path.join(fixtures, "*.log"))):
                with open(fixture, errors="replace") as text:
                    sample.extend(line.rstrip("\n") for line in text)
            if not sample or name in ("json", "models"):
                continue
            path = os.path.join(directory, f"{name}.log")
            with open(path, "w") as out:
                for index in range(line_count):
                    out.write(sample[index % len(sample)] + "\n")
            logs[name] = path
        runs = [("mfu-exporter", binary, name) for name in logs]
        if baseline:
            runs.insert(1, ("baseline", baseline, "json"))
        for _ in range(reps):
            for label, run_binary, name in runs:
                rate = catchup(run_binary, logs[name], line_count, name)
                results.setdefault(f"{label} {name}", []).append(rate)
    return {key: sorted(values)[len(values) // 2] for key, values in results.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/mfu-exporter"))
    parser.add_argument("--baseline")
    options = parser.parse_args()
    summary = measure(options.binary, options.lines, options.reps, options.baseline)
    for key, rate in summary.items():
        print(f"{key:<28} {rate:>12,.0f} lines/s (median of {options.reps})")
    if options.baseline:
        ratio = summary["mfu-exporter json"] / summary["baseline json"]
        print(f"json ingest against the baseline build: {ratio:.2f}x")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
