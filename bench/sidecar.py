"""The hand-written sidecar people put next to a training job: a polling readline loop
over the JSON-lines log, exported with prometheus_client. Used by bench/run.sh only.

usage: sidecar.py LOG PORT [--from-beginning]
"""

import json
import sys
import time

from prometheus_client import Counter, Gauge, start_http_server


def main() -> None:
    path, port = sys.argv[1], int(sys.argv[2])
    from_beginning = "--from-beginning" in sys.argv[3:]
    lines_read = Counter("sidecar_lines_read", "Lines read from the log.")
    tokens = Counter("training_tokens", "Tokens trained on.")
    steps = Counter("training_steps", "Optimizer steps completed.")
    tokens_per_second = Gauge("training_tokens_per_second", "Throughput the trainer reports.")
    loss = Gauge("training_loss", "Training loss.")
    step_seconds = Gauge("training_step_seconds", "Duration of the last step.")
    with open(path, "r", encoding="utf-8") as log:
        if not from_beginning:
            log.seek(0, 2)
        # Serve only once the log is open, so that "scrape answers" means "lines are followed".
        start_http_server(port, addr="127.0.0.1")
        pending = ""
        while True:
            line = log.readline()
            if not line:
                time.sleep(0.1)
                continue
            if not line.endswith("\n"):
                pending += line
                continue
            line, pending = pending + line, ""
            lines_read.inc()
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "tokens" in record:
                tokens.inc(record["tokens"])
                steps.inc()
            if "tokens_per_sec" in record:
                tokens_per_second.set(record["tokens_per_sec"])
            if "loss" in record:
                loss.set(record["loss"])
            if "step_time" in record:
                step_seconds.set(record["step_time"])


if __name__ == "__main__":
    main()
