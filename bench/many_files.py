#!/usr/bin/env python3
"""CPU cost of following a glob that matches many files, for one or more builds.

For each build given with --binary LABEL=PATH, the script creates N log files matched by one
glob, starts `mfu-exporter serve` on them, and measures the exporter's CPU (user + system
time from /proc/PID/stat) per second of wall-clock time in three phases:

* idle: nothing is written;
* one file: one of the N files gets a JSON line every 10 ms (100 lines/s);
* spread: the lines go to the N files in turn, at the same rate.

Every line is checked to be counted (training_tokens_total) before the next phase starts.
Builds run one after the other in the same session, so the figures are comparable as
ratios; the machine is shared and noisy, so repeat with --rounds.

    python3 bench/many_files.py --files 3000 --binary before=/tmp/mfu-before \\
        --binary after=target/release/mfu-exporter
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tokens(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('training_tokens_total{run="r"}'):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_tokens(port, expected, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if tokens(port) >= expected:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def write_phase(paths, seconds, step):
    """Appends one line every 10 ms to `paths` in turn; returns the lines written."""
    start = time.time()
    written = 0
    while time.time() - start < seconds:
        path = paths[written % len(paths)]
        with open(path, "a") as f:
            f.write(json.dumps({"step": step + written, "tokens": 1000}) + "\n")
        written += 1
        time.sleep(max(0.0, start + written * 0.01 - time.time()))
    return written


def measure(binary, files, seconds):
    root = tempfile.mkdtemp(prefix="many-files-")
    try:
        paths = [os.path.join(root, f"rank{i:05d}.jsonl") for i in range(files)]
        for path in paths:
            open(path, "w").close()
        port = free_port()
        proc = subprocess.Popen(
            [binary, "serve", "--model", "gpt2", "--gpu", "a100-sxm", "--gpus", "8",
             "--tail.path", os.path.join(root, "*.jsonl"), "--tail.run", "r",
             "--tail.read-from", "beginning", "--tail.throughput-scope", "per-file",
             "--web.listen-address", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with open(paths[0], "a") as f:
                f.write(json.dumps({"step": 0, "tokens": 1000}) + "\n")
            if not wait_tokens(port, 1000):
                raise RuntimeError(f"{binary} never counted the first line")
            counted = 1000.0
            results = {}
            for phase, targets in [("idle", None), ("one file", paths[:1]), ("spread", paths)]:
                before, t0 = cpu_seconds(proc.pid), time.time()
                if targets is None:
                    time.sleep(seconds)
                    written = 0
                else:
                    written = write_phase(targets, seconds, int(counted))
                    counted += 1000.0 * written
                    if not wait_tokens(port, counted):
                        raise RuntimeError(f"{binary}: {phase}: lines not counted")
                results[phase] = (cpu_seconds(proc.pid) - before) / (time.time() - t0)
            return results
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", action="append", required=True, help="LABEL=PATH")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    builds = [b.split("=", 1) for b in args.binary]
    table = {label: [] for label, _ in builds}
    for _ in range(args.rounds):
        for label, path in builds:
            table[label].append(measure(path, args.files, args.seconds))
    first = builds[0][0]
    print(f"{args.files} files, {args.seconds:.0f} s per phase, {args.rounds} round(s); "
          "CPU seconds per second (lower is better), the best round of each")
    print()
    print("| build | idle | one file, 100 lines/s | spread over all files, 100 lines/s |")
    print("| --- | ---: | ---: | ---: |")
    best = {label: {phase: min(r[phase] for r in rounds) for phase in rounds[0]}
            for label, rounds in table.items()}
    for label, _ in builds:
        cells = []
        for phase in ["idle", "one file", "spread"]:
            value = best[label][phase]
            ratio = "" if label == first or best[first][phase] == 0 else \
                f" ({value / best[first][phase]:.2f}x)"
            cells.append(f"{value:.3f}{ratio}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
