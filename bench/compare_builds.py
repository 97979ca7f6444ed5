#!/usr/bin/env python3
"""Two or more builds of mfu-exporter on the same JSON-lines log, in the same run, build after
build in every repetition: catch-up (`serve` reading an existing log from its first byte until
/metrics has counted every line) and ingest (the lines appended to a followed log in 1 MiB
writes). The lines and the measurements are bench/driver.py's.

    python3 bench/compare_builds.py --binary before=/tmp/mfu-before \\
        --binary after=target/release/mfu-exporter [--lines 1000000] [--reps 3]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driver  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    builds = [entry.split("=", 1) for entry in args.binary]
    root = tempfile.mkdtemp(prefix="mfu-compare-")
    try:
        payload = driver.log_bytes(0, args.lines)
        log = os.path.join(root, "catchup.jsonl")
        with open(log, "wb") as out:
            out.write(payload)
        runs = {name: {"catchup": [], "ingest": []} for name, _ in builds}
        for _ in range(args.reps):
            for name, path in builds:
                driver.EXPORTER = path
                catchup = driver.measure_catchup(driver.Ours(), root, log, args.lines)
                ingest = driver.measure_ingest(driver.Ours(), root, payload, args.lines)
                if not (catchup["complete"] and ingest["complete"]):
                    sys.exit(f"{name} did not count every line")
                runs[name]["catchup"].append(catchup)
                runs[name]["ingest"].append(ingest)
        print(f"{args.lines:,} lines, {len(payload) / 1e6:.0f} MB, median of {args.reps}")
        print("| build | catch-up s | catch-up M lines/s | catch-up CPU s | ingest M lines/s "
              "| ingest CPU s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, _ in builds:
            catchup = statistics.median(r["seconds"] for r in runs[name]["catchup"])
            catchup_cpu = statistics.median(r["cpu_seconds"] for r in runs[name]["catchup"])
            ingest = statistics.median(r["lines_per_second"] for r in runs[name]["ingest"])
            ingest_cpu = statistics.median(r["cpu_seconds"] for r in runs[name]["ingest"])
            print(f"| {name} | {catchup:.2f} | {args.lines / catchup / 1e6:.2f} | "
                  f"{catchup_cpu:.2f} | {ingest / 1e6:.2f} | {ingest_cpu:.2f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
