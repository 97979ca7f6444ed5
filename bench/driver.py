#!/usr/bin/env python3
"""The benchmark harness: starts mfu-exporter and the peers a user would pick instead, one
at a time on loopback, measures each the same way in the same run, and writes
bench/results/latest.json. `driver.py render` turns that file into BENCHMARKS.md.

Peers: mtail (with bench/mfu.mtail), the hand-written Python sidecar (bench/sidecar.py),
prometheus-pushgateway (pushes) and prometheus-node-exporter (a reference /metrics server).

Every figure is the median over the repetitions; ratios compare medians from the same run.
"""

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
EXPORTER = os.environ.get("BENCH_EXPORTER", os.path.join(ROOT, "target", "release", "mfu-exporter"))
PYTHON = os.environ.get("BENCH_PYTHON", sys.executable)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

PORTS = {"mfu-exporter": 19077, "mtail": 19903, "sidecar": 19800, "pushgateway": 19091,
         "node-exporter": 19100}

# Catch-up runs once per program by default: the peers take minutes to read 1 GiB.
FULL = dict(reps=3, catchup_reps=1, ingest_lines=1_000_000, catchup_bytes=1 << 30,
            freshness_lines=100,
            load_seconds=5, idle_seconds=60, connections=8, files_lines=1_000_000,
            files_counts=(1, 10, 100, 1000), files_idle_seconds=10,
            limit_reps=8, formats_lines=1_000_000)
QUICK = dict(reps=1, catchup_reps=1, ingest_lines=100_000, catchup_bytes=32 << 20, freshness_lines=20,
             load_seconds=2, idle_seconds=5, connections=8, files_lines=100_000,
             files_counts=(1, 100), files_idle_seconds=5, limit_reps=2, formats_lines=100_000)


# --- the log lines ---------------------------------------------------------------------------

def log_line(step):
    """One training-log line as common training loops write it (about 170 bytes); the
    trainer's clock starts at 2024-05-01T00:00:00Z and moves 1 ms a step."""
    seconds, millis = divmod(step, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return ('{"time": "2024-05-%02dT%02d:%02d:%02d.%03dZ", "step": %d, "loss": %.4f, '
            '"lr": 0.0003, "grad_norm": 1.0213, "tokens": 524288, "step_time": 0.5123, '
            '"tokens_per_sec": 1023400.5}\n') % (1 + days, hours, minutes, seconds, millis,
                                                 step, 2.0 + (step % 997) / 1000)


def log_bytes(first_step, count):
    return "".join(log_line(s) for s in range(first_step, first_step + count)).encode()


def write_log_file(path, total_bytes):
    """Writes at least `total_bytes` of log lines; returns how many lines."""
    block_lines = 100_000
    lines = 0
    written = 0
    with open(path, "wb") as out:
        while written < total_bytes:
            block = log_bytes(lines, block_lines)
            out.write(block)
            written += len(block)
            lines += block_lines
    return lines


# --- process probes --------------------------------------------------------------------------

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_mib(pid):
    return status_kib(pid, "VmRSS") / 1024


def peak_rss_mib(pid):
    return status_kib(pid, "VmHWM") / 1024


def context_switches(pid):
    """Voluntary context switches per thread (thread id → count)."""
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        counts[tid] = int(line.split()[1])
        except FileNotFoundError:
            pass
    return counts


# --- HTTP ------------------------------------------------------------------------------------

class Scraper:
    """A keep-alive client for one /metrics endpoint."""

    def __init__(self, port, path="/metrics"):
        self.port, self.path, self.connection = port, path, None

    def get(self):
        for attempt in (0, 1):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.connection.request("GET", self.path)
                response = self.connection.getresponse()
                return response.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                self.connection = None
                if attempt:
                    raise
        return ""

    def close(self):
        if self.connection is not None:
            self.connection.close()


def metric_value(text, name, label_filter=""):
    """Sum of the samples of `name` (whose labels contain `label_filter`) in an exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            rest = line[len(name):]
            if rest[:1] not in ("{", " "):
                continue
            if label_filter and label_filter not in rest:
                continue
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for(predicate, deadline_seconds, interval=0.02):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(interval)
    return False


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# --- targets ---------------------------------------------------------------------------------

class Target:
    """One program under test: how to start it and where its line counter is."""

    def __init__(self, name, lines_metric=None):
        self.name, self.port, self.lines_metric = name, PORTS[name], lines_metric
        self.process = None

    def command(self, log, from_beginning, workdir):
        raise NotImplementedError

    def start(self, workdir, log=None, from_beginning=False):
        if not port_free(self.port):
            sys.exit(f"port {self.port} for {self.name} is taken; stop what listens there")
        stderr = open(os.path.join(workdir, f"{self.name}.stderr"), "ab")
        self.process = subprocess.Popen(self.command(log, from_beginning, workdir),
                                        stdout=subprocess.DEVNULL, stderr=stderr, cwd=workdir)
        stderr.close()
        scraper = Scraper(self.port)
        if not wait_for(lambda: scraper.get() is not None, 30, 0.01):
            self.stop()
            sys.exit(f"{self.name} did not answer /metrics within 30 s; see {workdir}")
        scraper.close()
        return self.process.pid

    def lines(self, scraper):
        return metric_value(scraper.get(), self.lines_metric)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Ours(Target):
    def __init__(self):
        super().__init__("mfu-exporter", "mfu_exporter_lines_read_total")

    def command(self, log, from_beginning, workdir):
        command = [EXPORTER, "serve", "--model", "gpt2", "--gpu", "a100-sxm", "--gpus", "8",
                   "--web.listen-address", f"127.0.0.1:{self.port}", "--log.level", "warn"]
        if log:
            command += ["--tail.path", log, "--tail.read-from",
                        "beginning" if from_beginning else "end"]
        return command


class Mtail(Target):
    def __init__(self):
        super().__init__("mtail", "bench_lines_read_total")

    def command(self, log, from_beginning, workdir):
        return ["mtail", "--progs", os.path.join(BENCH, "mfu.mtail"), "--logs", log,
                "--address", "127.0.0.1", "--port", str(self.port), "--logtostderr"]


class Sidecar(Target):
    def __init__(self):
        super().__init__("sidecar", "sidecar_lines_read_total")

    def command(self, log, from_beginning, workdir):
        command = [PYTHON, os.path.join(BENCH, "sidecar.py"), log, str(self.port)]
        return command + (["--from-beginning"] if from_beginning else [])


class Pushgateway(Target):
    def __init__(self):
        super().__init__("pushgateway")

    def command(self, log, from_beginning, workdir):
        return ["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{self.port}",
                "--persistence.file=", "--log.level=warn"]


class NodeExporter(Target):
    def __init__(self):
        super().__init__("node-exporter")

    def command(self, log, from_beginning, workdir):
        return ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn"]


TAILERS = [Ours, Mtail, Sidecar]


# --- measurements ----------------------------------------------------------------------------

def fresh_dir(root, name):
    path = tempfile.mkdtemp(prefix=name + "-", dir=root)
    return path


def measure_ingest(target, root, payload, line_count):
    """Lines per second until /metrics has counted every appended line."""
    workdir = fresh_dir(root, "ingest")
    log = os.path.join(workdir, "train.jsonl")
    open(log, "wb").close()
    pid = target.start(workdir, log)
    scraper = Scraper(target.port)
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    with open(log, "ab", buffering=0) as out:
        view = memoryview(payload)
        for offset in range(0, len(payload), 1 << 20):
            out.write(view[offset:offset + (1 << 20)])
    done = wait_for(lambda: target.lines(scraper) >= line_count, 300, 0.01)
    seconds = time.monotonic() - started
    result = dict(lines_per_second=line_count / seconds if done else 0.0, seconds=seconds,
                  cpu_seconds=cpu_seconds(pid) - cpu_before, peak_rss_mib=peak_rss_mib(pid),
                  complete=done)
    scraper.close()
    target.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def measure_catchup(target, root, log, line_count):
    """Seconds to read an existing log from its first byte."""
    workdir = fresh_dir(root, "catchup")
    if isinstance(target, Mtail):
        # mtail starts existing logs at their end; its one-shot mode is its way to read a
        # log from the start, and it exits when done.
        started = time.monotonic()
        process = subprocess.Popen(
            ["mtail", "--one_shot", "--one_shot_format", "prometheus", "--progs",
             os.path.join(BENCH, "mfu.mtail"), "--logs", log, "--address", "127.0.0.1",
             "--port", str(target.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        output = process.stdout.read()
        _, _, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = 0
        process.stdout.close()
        counted = metric_value(output.decode(), target.lines_metric)
        shutil.rmtree(workdir, ignore_errors=True)
        return dict(seconds=seconds, complete=counted >= line_count,
                    cpu_seconds=usage.ru_utime + usage.ru_stime,
                    peak_rss_mib=usage.ru_maxrss / 1024,
                    megabytes_per_second=os.path.getsize(log) / seconds / 1e6)
    started = time.monotonic()
    pid = target.start(workdir, log, from_beginning=True)
    scraper = Scraper(target.port)
    done = wait_for(lambda: target.lines(scraper) >= line_count, 600, 0.02)
    seconds = time.monotonic() - started
    result = dict(seconds=seconds, complete=done, cpu_seconds=cpu_seconds(pid),
                  peak_rss_mib=peak_rss_mib(pid),
                  megabytes_per_second=os.path.getsize(log) / seconds / 1e6)
    scraper.close()
    target.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def freshness(port, count, produce, counted, metric_filter=None):
    """Calls `produce(i)` every 100 ms and scrapes continuously; returns the delays (ms) from
    each `produce` returning to the first scrape whose answer shows it."""
    produced = []
    observed = []
    stop = threading.Event()

    def scrape_loop():
        scraper = Scraper(port)
        while not stop.is_set():
            text = scraper.get()
            observed.append((time.monotonic(), counted(text)))
            time.sleep(0.001)
        scraper.close()

    thread = threading.Thread(target=scrape_loop, daemon=True)
    thread.start()
    time.sleep(0.2)
    next_at = time.monotonic()
    for i in range(count):
        next_at += 0.1
        time.sleep(max(0.0, next_at - time.monotonic()))
        produce(i)
        produced.append(time.monotonic())
    time.sleep(1.5)
    stop.set()
    thread.join()
    delays = []
    position = 0
    for i, written in enumerate(produced):
        while position < len(observed) and (observed[position][0] < written
                                            or observed[position][1] < i + 1):
            position += 1
        if position == len(observed):
            break
        delays.append((observed[position][0] - written) * 1000)
    return delays


def measure_tail_freshness(target, root, count):
    workdir = fresh_dir(root, "freshness")
    log = os.path.join(workdir, "train.jsonl")
    open(log, "wb").close()
    pid = target.start(workdir, log)
    cpu_before = cpu_seconds(pid)
    out = open(log, "ab", buffering=0)
    delays = freshness(target.port, count, lambda i: out.write(log_line(i).encode()),
                       lambda text: metric_value(text, target.lines_metric))
    out.close()
    result = summarize_delays(delays, count)
    result["cpu_seconds"] = cpu_seconds(pid) - cpu_before
    target.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def measure_push_freshness(target, root, count):
    workdir = fresh_dir(root, "push-freshness")
    target.start(workdir)
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)

    def push(i):
        if isinstance(target, Pushgateway):
            body = f"# TYPE training_tokens_total counter\ntraining_tokens_total {(i + 1) * 1000}\n"
            connection.request("PUT", "/metrics/job/bench/instance/a", body)
        else:
            body = json.dumps({"tokens": 1000, "seconds": 0.5, "run": "a"})
            connection.request("POST", "/api/v1/push", body,
                               {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status < 300, response.status

    delays = freshness(target.port, count, push,
                       lambda text: metric_value(text, "training_tokens_total") / 1000)
    connection.close()
    target.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return summarize_delays(delays, count)


def summarize_delays(delays, count):
    if not delays:
        return dict(p50_ms=None, p99_ms=None, max_ms=None, samples=0, expected=count)
    return dict(p50_ms=percentile(delays, 0.5), p99_ms=percentile(delays, 0.99),
                max_ms=max(delays), samples=len(delays), expected=count)


WRK_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def run_wrk(port, path, seconds, connections, script=None, env=None):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", script]
    command.append(f"http://127.0.0.1:{port}{path}")
    output = subprocess.run(command, capture_output=True, text=True, env=env,
                            timeout=seconds + 60).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    elapsed = re.search(r"requests in ([\d.]+)(us|ms|s|m)", output)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
    elapsed_seconds = float(elapsed.group(1)) * scale[elapsed.group(2)]
    rejected = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rejected = int(rejected.group(1)) if rejected else 0
    errors = re.search(r"Socket errors: (.*)", output)
    latencies = {m.group(1): float(m.group(2)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(3)]
                 for m in WRK_LATENCY.finditer(output)}
    return dict(requests_per_second=(requests - rejected) / elapsed_seconds,
                p50_ms=latencies.get("50"), p99_ms=latencies.get("99"), rejected=rejected,
                socket_errors=errors.group(1) if errors else "")


def measure_scrape(target, root, options):
    workdir = fresh_dir(root, "scrape")
    log = os.path.join(workdir, "train.jsonl")
    open(log, "wb").close()
    pid = target.start(workdir, log) if target.lines_metric else target.start(workdir)
    scraper = Scraper(target.port)
    if target.lines_metric:
        with open(log, "ab") as out:
            out.write(log_bytes(0, 1000))
        wait_for(lambda: target.lines(scraper) >= 1000, 30)
    if isinstance(target, Pushgateway):
        push_sample(target.port)
    body_bytes = len(scraper.get().encode())
    scraper.close()
    cpu_before = cpu_seconds(pid)
    result = run_wrk(target.port, "/metrics", options["load_seconds"], options["connections"])
    result.update(body_bytes=body_bytes,
                  cpu_seconds_per_second=(cpu_seconds(pid) - cpu_before) / options["load_seconds"],
                  rss_mib=rss_mib(pid), peak_rss_mib=peak_rss_mib(pid))
    target.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def push_sample(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("PUT", "/metrics/job/bench/instance/a",
                       "# TYPE training_tokens_total counter\ntraining_tokens_total 1000\n")
    connection.getresponse().read()
    connection.close()


def measure_push(target, root, options):
    workdir = fresh_dir(root, "push")
    pid = target.start(workdir)
    cpu_before = cpu_seconds(pid)
    env = dict(os.environ, PUSH_TARGET="pushgateway" if isinstance(target, Pushgateway)
               else "mfu")
    result = run_wrk(target.port, "/", options["load_seconds"], options["connections"],
                     os.path.join(BENCH, "push.lua"), env)
    result.update(cpu_seconds_per_second=(cpu_seconds(pid) - cpu_before) / options["load_seconds"],
                  rss_mib=rss_mib(pid), peak_rss_mib=peak_rss_mib(pid))
    target.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def measure_idle(root, seconds):
    """All five programs started together, each given a little to hold, then left alone."""
    workdir = fresh_dir(root, "idle")
    log = os.path.join(workdir, "train.jsonl")
    open(log, "wb").close()
    targets = [Ours(), Mtail(), Sidecar(), Pushgateway(), NodeExporter()]
    pids = {}
    try:
        for target in targets:
            pids[target.name] = (target.start(workdir, log) if target.lines_metric
                                 else target.start(workdir))
        with open(log, "ab") as out:
            out.write(log_bytes(0, 1000))
        push_sample(PORTS["pushgateway"])
        time.sleep(3)
        before = {name: (cpu_seconds(pid), context_switches(pid)) for name, pid in pids.items()}
        time.sleep(seconds)
        results = {}
        for name, pid in pids.items():
            cpu, switches = before[name]
            after = context_switches(pid)
            per_thread = {tid: (after[tid] - switches.get(tid, 0)) / seconds for tid in after}
            results[name] = dict(
                cpu_seconds=cpu_seconds(pid) - cpu, seconds=seconds, rss_mib=rss_mib(pid),
                threads=len(after), wakeups_per_second=sum(per_thread.values()),
                max_thread_wakeups_per_second=max(per_thread.values(), default=0.0))
        return results
    finally:
        for target in targets:
            target.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def spread_paths(directory, count):
    return [os.path.join(directory, f"rank-{i:04d}.jsonl") for i in range(count)]


def spread_shares(count, line_count):
    """`line_count` log lines split over `count` files: file i gets steps i, i + count, ...,
    so every step is written once."""
    return ["".join(log_line(s) for s in range(i, line_count, count)).encode()
            for i in range(count)]


LIMIT_LINE = re.compile(r"^(limit loop|tailer \+ json format)\b.*?([\d.]+) M lines/s", re.M)


def limit_bench_binary():
    """The release binary of `benches/limit.rs`, built if needed."""
    output = subprocess.run(
        ["cargo", "bench", "--bench", "limit", "--no-run", "--locked", "--message-format=json"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable") \
                and message["target"]["name"] == "limit":
            return message["executable"]
    sys.exit("cargo bench --bench limit --no-run named no executable")


def measure_limit(binary):
    """One run of the limit bench: the minimal loop's and the exporter's lines per second."""
    output = subprocess.run([binary], capture_output=True, text=True, check=True).stdout
    rates = {name: float(value) * 1e6 for name, value in LIMIT_LINE.findall(output)}
    loop, ours = rates.get("limit loop"), rates.get("tailer + json format")
    return dict(limit_lines_per_second=loop, exporter_lines_per_second=ours,
                ratio=ours / loop if loop and ours else None)


def measure_files(root, count, line_count, idle_seconds):
    """One glob over `count` files holding `line_count` lines in all: the seconds to read them
    from the first byte (catch-up); the seconds to count the same lines appended to the files
    while followed, each file's share written in 1 MiB writes, the files in turn; and, with
    the files followed and nothing written, wake-ups and CPU per second."""
    target = Ours()
    result = dict(files=count, lines=line_count)
    workdir = fresh_dir(root, f"files-{count}")
    logs = os.path.join(workdir, "logs")
    os.mkdir(logs)
    paths = spread_paths(logs, count)
    shares = spread_shares(count, line_count)
    for path, share in zip(paths, shares):
        with open(path, "wb") as out:
            out.write(share)
    pattern = os.path.join(logs, "*.jsonl")
    started = time.monotonic()
    pid = target.start(workdir, pattern, from_beginning=True)
    scraper = Scraper(target.port)
    done = wait_for(lambda: target.lines(scraper) >= line_count, 600, 0.02)
    seconds = time.monotonic() - started
    result.update(catchup_seconds=seconds, catchup_lines_per_second=line_count / seconds,
                  catchup_complete=done, catchup_peak_rss_mib=peak_rss_mib(pid))
    scraper.close()
    target.stop()
    shutil.rmtree(logs)

    os.mkdir(logs)
    for path in paths:
        open(path, "wb").close()
    pid = target.start(workdir, pattern)
    scraper = Scraper(target.port)
    handles = [open(path, "ab", buffering=0) for path in paths]
    started = time.monotonic()
    offset = 0
    while offset < max(len(share) for share in shares):
        for handle, share in zip(handles, shares):
            if offset < len(share):
                handle.write(share[offset:offset + (1 << 20)])
        offset += 1 << 20
    done = wait_for(lambda: target.lines(scraper) >= line_count, 600, 0.01)
    seconds = time.monotonic() - started
    for handle in handles:
        handle.close()
    del shares
    result.update(append_seconds=seconds, append_lines_per_second=line_count / seconds,
                  append_complete=done, append_peak_rss_mib=peak_rss_mib(pid))
    scraper.close()
    time.sleep(2)
    cpu, switches = cpu_seconds(pid), context_switches(pid)
    time.sleep(idle_seconds)
    after = context_switches(pid)
    result.update(idle_seconds=idle_seconds,
                  idle_cpu_seconds_per_second=(cpu_seconds(pid) - cpu) / idle_seconds,
                  idle_wakeups_per_second=sum(after[t] - switches.get(t, 0) for t in after)
                  / idle_seconds, idle_rss_mib=rss_mib(pid))
    target.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return result


# --- the run ---------------------------------------------------------------------------------

def median_of(runs):
    """Per-key median over repetitions (numbers only); the repetitions are kept alongside."""
    keys = runs[0].keys()
    summary = {}
    for key in keys:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float))
                  and not isinstance(r.get(key), bool)]
        if values:
            summary[key] = statistics.median(values)
        elif isinstance(runs[0][key], bool):
            summary[key] = all(r[key] for r in runs)
    summary["repetitions"] = runs
    return summary


def command_output(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory_kib = int(f.readline().split()[1])
    return dict(
        cpu=cpu, cores=os.cpu_count(), memory_gib=round(memory_kib / 2**20, 1),
        kernel=platform.release(), os=command_output(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        versions=dict(
            mfu_exporter=command_output([EXPORTER, "--version"]),
            mtail=command_output(["mtail", "--version"]).split(" git")[0],
            pushgateway=command_output(["sh", "-c", "prometheus-pushgateway --version 2>&1 | head -1"]),
            node_exporter=command_output(["sh", "-c", "prometheus-node-exporter --version 2>&1 | head -1"]),
            wrk=command_output(["sh", "-c", "wrk --version 2>&1 | head -1"]),
            python=platform.python_version(),
        ))


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(options, quick, only):
    root = tempfile.mkdtemp(prefix="mfu-bench-")
    results = dict(machine=machine(), quick=quick, options=options,
                   started=time.strftime("%Y-%m-%d %H:%M:%S %z"), load_before=load_average(),
                   results={})
    out = results["results"]

    def log(message):
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    try:
        def interleaved(test, makes, measure, reps=options["reps"]):
            """Repetition by repetition, every program in turn, so that a change in the
            machine's load falls on all of them alike."""
            runs = {make().name: [] for make in makes}
            for _ in range(reps):
                for make in makes:
                    runs[make().name].append(measure(make()))
            table = out.setdefault(test, {})
            for name, measured in runs.items():
                table[name] = median_of(measured)
            return table

        if "ingest" in only:
            payload = log_bytes(0, options["ingest_lines"])
            table = interleaved("ingest", TAILERS, lambda target: measure_ingest(
                target, root, payload, options["ingest_lines"]))
            log("ingest: " + ", ".join(f"{k} {v['lines_per_second']:.0f} lines/s"
                                       for k, v in table.items()))
            del payload
        if "catchup" in only:
            log_path = os.path.join(root, "catchup.jsonl")
            line_count = write_log_file(log_path, options["catchup_bytes"])
            out["catchup"] = dict(log_bytes=os.path.getsize(log_path), log_lines=line_count)
            table = interleaved("catchup", TAILERS, lambda target: measure_catchup(
                target, root, log_path, line_count), options.get("catchup_reps", options["reps"]))
            log("catch-up: " + ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in table.items()
                                         if isinstance(v, dict)))
            os.remove(log_path)
        if "freshness" in only:
            table = interleaved("freshness", TAILERS, lambda target: measure_tail_freshness(
                target, root, options["freshness_lines"]))
            log("freshness: " + ", ".join(f"{k} p99 {v['p99_ms']:.1f} ms" for k, v in table.items()))
            table = interleaved("push_freshness", (Ours, Pushgateway),
                                lambda target: measure_push_freshness(
                                    target, root, options["freshness_lines"]))
            log("push freshness: " + ", ".join(f"{k} p99 {v['p99_ms']:.1f} ms"
                                               for k, v in table.items()))
        if "scrape" in only:
            table = interleaved("scrape", (Ours, Mtail, Sidecar, Pushgateway, NodeExporter),
                                lambda target: measure_scrape(target, root, options))
            log("scrape: " + ", ".join(f"{k} {v['requests_per_second']:.0f}/s"
                                       for k, v in table.items()))
        if "push" in only:
            table = interleaved("push", (Ours, Pushgateway),
                                lambda target: measure_push(target, root, options))
            log("push: " + ", ".join(f"{k} {v['requests_per_second']:.0f}/s"
                                     for k, v in table.items()))
        if "limit" in only:
            binary = limit_bench_binary()
            out["limit"] = median_of([measure_limit(binary)
                                      for _ in range(options["limit_reps"])])
            log(f"limit: {out['limit']['ratio'] * 100:.1f} % of the limit loop")
        if "formats" in only:
            import formats  # beside this file; it imports this module's log lines
            out["formats"] = dict(lines=options["formats_lines"], lines_per_second={
                key.removeprefix("mfu-exporter "): rate for key, rate in formats.measure(
                    EXPORTER, options["formats_lines"], options["reps"]).items()})
            log("formats: " + ", ".join(f"{k} {v:.0f} lines/s"
                                        for k, v in out["formats"]["lines_per_second"].items()))
        if "files" in only:
            runs = {count: [] for count in options["files_counts"]}
            for _ in range(options["reps"]):
                for count in options["files_counts"]:
                    runs[count].append(measure_files(root, count, options["files_lines"],
                                                     options["files_idle_seconds"]))
            out["files"] = {str(count): median_of(measured) for count, measured in runs.items()}
            log("files: " + ", ".join(
                f"{k} files {v['catchup_lines_per_second']:.0f} / {v['append_lines_per_second']:.0f} lines/s"
                for k, v in out["files"].items()))
        if "idle" in only:
            out["idle"] = measure_idle(root, options["idle_seconds"])
            log("idle: " + ", ".join(f"{k} {v['cpu_seconds']:.2f} s CPU, {v['rss_mib']:.1f} MiB"
                                     for k, v in out["idle"].items()))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results["load_after"] = load_average()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    return results


# --- BENCHMARKS.md ---------------------------------------------------------------------------

def fmt(value, digits=0):
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(ours, theirs):
    if not ours or not theirs:
        return "n/a"
    return f"{ours / theirs:,.1f}x"


def render(results):
    r = results["results"]
    m = results["machine"]
    ours = "mfu-exporter"
    lines = ["# Benchmarks", "",
             "Figures from `bench/run.sh`, which starts mfu-exporter and the programs a user "
             "would pick instead, one at a time on the same machine in the same run, and measures "
             "each the same way. Every figure is the median over the repetitions; every ratio "
             "compares figures from the same run, so it holds up better than the absolute numbers "
             "on a busy machine. Regenerated from `bench/results/latest.json` by "
             "`python3 bench/driver.py render`.", "",
             "## Machine", "",
             f"- {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}, Linux {m['kernel']}",
             f"- load average (1, 5, 15 min) before: {results['load_before']}; after: "
             f"{results['load_after']} (a shared machine: other processes ran during the run)",
             f"- run {results['started']} to {results['finished']}; "
             f"{'quick smoke run' if results['quick'] else 'full run'}, "
             f"{results['options']['reps']} repetition(s) per figure",
             *[f"- re-run later with `--merge`: {', '.join(rerun['tests'])} at {rerun['started']} "
               f"(load {rerun['load_before']} before, {rerun['load_after']} after)"
               for rerun in results.get("reruns", [])],
             "- versions: " + "; ".join(f"{k}: {v}" for k, v in m["versions"].items() if v), ""]

    if "ingest" in r:
        ing = r["ingest"]
        lines += ["## Ingest", "",
                  f"{results['options']['ingest_lines']:,} JSON lines (about 170 bytes each) appended "
                  "to a followed log as fast as the writer can; timed until `/metrics` counts all "
                  "of them (scraped every 10 ms).", "",
                  "| program | lines/s | mfu-exporter is | CPU seconds | peak RSS MiB |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for name, v in ing.items():
            lines.append(f"| {name} | {fmt(v['lines_per_second'])} | "
                         f"{'' if name == ours else ratio(ing[ours]['lines_per_second'], v['lines_per_second'])} | "
                         f"{fmt(v['cpu_seconds'], 2)} | {fmt(v['peak_rss_mib'], 1)} |")
        lines.append("")
    if "catchup" in r:
        c = r["catchup"]
        lines += ["## Catch-up", "",
                  f"An existing log of {c['log_bytes'] / 2**20:,.0f} MiB ({c['log_lines']:,} lines) "
                  "read from its first byte, timed from start-up until `/metrics` counts every line. "
                  "mtail starts existing logs at their end, so it is timed in its `--one_shot` mode "
                  "(read from the start, print, exit). "
                  f"{results['options'].get('catchup_reps', results['options']['reps'])} "
                  "repetition(s).", "",
                  "| program | seconds | MB/s | mfu-exporter is | CPU seconds | peak RSS MiB |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, v in c.items():
            if not isinstance(v, dict):
                continue
            lines.append(f"| {name} | {fmt(v['seconds'], 2)} | {fmt(v['megabytes_per_second'])} | "
                         f"{'' if name == ours else ratio(v['seconds'], c[ours]['seconds'])} | "
                         f"{fmt(v.get('cpu_seconds'), 2)} | {fmt(v.get('peak_rss_mib'), 1)} |")
        lines.append("")
    if "freshness" in r:
        lines += ["## Freshness", "",
                  f"A line appended (or a push answered) every 100 ms, {results['options']['freshness_lines']} "
                  "per repetition, while a client scrapes `/metrics` back to back (1 ms apart); the "
                  "delay is from the write returning to the first scrape answer that shows it.", "",
                  "| source | program | p50 ms | p99 ms | max ms | p99: peer / mfu-exporter |",
                  "| --- | --- | ---: | ---: | ---: | ---: |"]
        for kind, key in (("log line", "freshness"), ("push", "push_freshness")):
            table = r.get(key, {})
            for name, v in table.items():
                lines.append(f"| {kind} | {name} | {fmt(v['p50_ms'], 1)} | {fmt(v['p99_ms'], 1)} | "
                             f"{fmt(v['max_ms'], 1)} | "
                             f"{'' if name == ours else ratio(v['p99_ms'], table[ours]['p99_ms'])} |")
        lines.append("")
    if "scrape" in r:
        s = r["scrape"]
        lines += ["## Scrape", "",
                  f"`wrk -t1 -c{results['options']['connections']} -d{results['options']['load_seconds']}s "
                  "--latency` against `/metrics`, each program holding the state of 1,000 log lines "
                  "(pushgateway one pushed group; node-exporter its default collectors).", "",
                  "| program | requests/s | mfu-exporter is | p50 ms | p99 ms | body bytes | CPU s/s | RSS MiB |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, v in s.items():
            lines.append(f"| {name} | {fmt(v['requests_per_second'])} | "
                         f"{'' if name == ours else ratio(s[ours]['requests_per_second'], v['requests_per_second'])} | "
                         f"{fmt(v['p50_ms'], 2)} | {fmt(v['p99_ms'], 2)} | {fmt(v['body_bytes'])} | "
                         f"{fmt(v['cpu_seconds_per_second'], 2)} | {fmt(v['rss_mib'], 1)} |")
        lines.append("")
    if "push" in r:
        p = r["push"]
        lines += ["## Push", "",
                  f"`wrk -t1 -c{results['options']['connections']} -d{results['options']['load_seconds']}s "
                  "--latency -s bench/push.lua`: mfu-exporter takes "
                  "`{\"tokens\": 1000, \"seconds\": 0.5, \"run\": \"a\"}` at `POST /api/v1/push`; "
                  "pushgateway takes a one-sample text exposition at `POST /metrics/job/bench/instance/a`. "
                  "Only 2xx answers count.", "",
                  "| program | accepted pushes/s | mfu-exporter is | p50 ms | p99 ms | CPU s/s | RSS MiB |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, v in p.items():
            lines.append(f"| {name} | {fmt(v['requests_per_second'])} | "
                         f"{'' if name == ours else ratio(p[ours]['requests_per_second'], v['requests_per_second'])} | "
                         f"{fmt(v['p50_ms'], 2)} | {fmt(v['p99_ms'], 2)} | "
                         f"{fmt(v['cpu_seconds_per_second'], 2)} | {fmt(v['rss_mib'], 1)} |")
        lines.append("")
    if "idle" in r:
        idle = r["idle"]
        seconds = next(iter(idle.values()))["seconds"]
        lines += ["## Footprint", "",
                  f"Idle: all five programs started together, given 1,000 log lines (pushgateway one "
                  f"push), then left alone for {seconds} s. CPU is user + system time from "
                  "`/proc/PID/stat` (10 ms resolution); wake-ups are voluntary context switches from "
                  "`/proc/PID/task/*/status`.", "",
                  "| program | RSS MiB | CPU seconds | threads | wake-ups/s (all threads) | busiest thread wake-ups/s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, v in idle.items():
            lines.append(f"| {name} | {fmt(v['rss_mib'], 1)} | {fmt(v['cpu_seconds'], 2)} | "
                         f"{v['threads']} | {fmt(v['wakeups_per_second'], 2)} | "
                         f"{fmt(v['max_thread_wakeups_per_second'], 2)} |")
        lines += ["", "Under load, CPU and memory are in the tables above: CPU seconds and peak RSS "
                  "for ingest and catch-up, CPU seconds per second and RSS for scrape and push.", ""]
    if "limit" in r:
        limit = r["limit"]
        runs = limit["repetitions"]
        lines += ["## Parsing limit, this run", "",
                  f"`benches/limit.rs`, {len(runs)} runs in this session (each the median of its own 3 "
                  "alternating repetitions): one file of 1,000,000 JSON lines read by a minimal loop "
                  "(1 MiB reads, `memchr` line splits, `serde_json` into `IgnoredAny`) and by the tailer "
                  "handing each line to the `json` format's parser. Medians of the runs; the ratio's "
                  "range beside it. bench/LIMITS.md has the before/after history.", "",
                  "| path | M lines/s | share of the limit loop |",
                  "| --- | ---: | ---: |",
                  f"| limit loop | {limit['limit_lines_per_second'] / 1e6:.2f} | |",
                  f"| tailer + json format | {limit['exporter_lines_per_second'] / 1e6:.2f} | "
                  f"{limit['ratio'] * 100:.1f} % (runs {min(x['ratio'] for x in runs) * 100:.1f}-"
                  f"{max(x['ratio'] for x in runs) * 100:.1f} %) |", ""]
    if "formats" in r:
        rates = r["formats"]["lines_per_second"]
        json_rate = rates.get("json")
        lines += ["## Log formats, this run", "",
                  f"Catch-up of {fmt(r['formats']['lines'])} lines per format, read from the first byte, "
                  "timed from start-up until `/metrics` counts every line (`bench/formats.py`), the "
                  "formats in turn, each round alternating; medians. The JSON log is the ingest "
                  "line; each text format's log repeats its real fixture lines from "
                  "`tests/fixtures/logs/` (lines that are not records included, as in a real log).", "",
                  "| format | lines/s | vs json |",
                  "| --- | ---: | ---: |"]
        for name, rate in rates.items():
            share = f"{rate / json_rate:.2f}x" if json_rate and name != "json" else ""
            lines.append(f"| {name} | {fmt(rate)} | {share} |")
        lines.append("")
    if "files" in r:
        files = r["files"]
        one = files.get("1")
        first = next(iter(files.values()))
        lines += ["## Files", "",
                  f"One glob over N files that hold {fmt(first['lines'])} lines in all (the ingest "
                  "lines, each step once). Catch-up: the exporter started at the first byte, timed until "
                  "`mfu_exporter_lines_read_total` has every line. Append: the files followed from their "
                  "end, each file's share written in 1 MiB writes, the files in turn, timed the same way. "
                  f"Idle: then {first['idle_seconds']} s with nothing written; wake-ups are voluntary "
                  "context switches of all threads, CPU is user + system time per second.", "",
                  "| files | catch-up lines/s | time vs 1 file | append lines/s | time vs 1 file | peak RSS MiB | "
                  "idle wake-ups/s | idle CPU s/s |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for count, v in files.items():
            slower = lambda key: ("" if one is None or count == "1" or not v[key]
                                  else f"{one[key] / v[key]:.2f}x")
            lines.append(
                f"| {fmt(int(count))} | {fmt(v['catchup_lines_per_second'])} | "
                f"{slower('catchup_lines_per_second')} | {fmt(v['append_lines_per_second'])} | "
                f"{slower('append_lines_per_second')} | "
                f"{fmt(max(v['catchup_peak_rss_mib'], v['append_peak_rss_mib']), 1)} | "
                f"{fmt(v['idle_wakeups_per_second'], 2)} | {fmt(v['idle_cpu_seconds_per_second'], 3)} |")
        lines.append("")
    lines += ["## Commands", "",
              "```sh",
              "apt-get install -y mtail prometheus-pushgateway prometheus-node-exporter wrk python3-prometheus-client",
              "bench/run.sh            # full run (about 15 minutes on 2 cores)",
              "bench/run.sh --quick    # smoke run (about 2 minutes)",
              "bench/run.sh --only ingest,scrape   # some of: ingest, catchup, freshness, scrape, push, idle, files, limit, formats",
              "bench/run.sh --only catchup --merge # re-measure some, keep the rest of latest.json",
              "python3 bench/driver.py render      # BENCHMARKS.md from bench/results/latest.json",
              "bench/callgrind.sh                  # instructions per scrape and per line (valgrind)",
              "cargo bench --bench ingest          # parse_line micro-benchmark",
              "cargo bench --bench limit           # tailer + JSON parse against a memchr + serde_json IgnoredAny loop",
              "python3 bench/compare_builds.py --binary before=PATH --binary after=PATH  # catch-up and ingest of builds side by side",
              "```", ""]
    notes = results.get("notes")
    if notes:
        lines += ["## Notes", "", notes.strip(), ""]
    # Results measured by other scripts, kept in their own files so that a render keeps them.
    for extra in (os.path.join(BENCH, "FORMATS.md"), os.path.join(BENCH, "LIMITS.md"),
                  os.path.join(BENCH, "SCRAPE.md"), os.path.join(BENCH, "SOAK.md"),
                  os.path.join(BENCH, "..", "fuzz", "RESULTS.md")):
        if os.path.exists(extra):
            with open(extra) as f:
                lines += [f.read().strip(), ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("run")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--only", default="ingest,catchup,freshness,scrape,push,idle,files,limit,formats")
    bench.add_argument("--output", default=os.path.join(BENCH, "results", "latest.json"))
    bench.add_argument("--merge", action="store_true",
                       help="replace only the tests run in an existing --output")
    show = sub.add_parser("render")
    show.add_argument("--input", default=os.path.join(BENCH, "results", "latest.json"))
    show.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = parser.parse_args()
    if args.command == "run":
        options = dict(QUICK if args.quick else FULL)
        results = run(options, args.quick, set(args.only.split(",")))
        notes_path = os.path.join(BENCH, "NOTES.md")
        if os.path.exists(notes_path):
            with open(notes_path) as f:
                results["notes"] = f.read()
        if args.merge and os.path.exists(args.output):
            with open(args.output) as f:
                previous = json.load(f)
            previous["results"].update(results["results"])
            # Merging assumes the same mode; the options that differ by test (catchup_reps)
            # are then those of the newer run.
            previous["options"].update(results["options"])
            previous.setdefault("reruns", []).append(dict(
                tests=sorted(results["results"]), started=results["started"],
                load_before=results["load_before"], load_after=results["load_after"]))
            results = previous
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {args.output}")
    else:
        with open(args.input) as f:
            results = json.load(f)
        notes_path = os.path.join(BENCH, "NOTES.md")
        if os.path.exists(notes_path):
            with open(notes_path) as f:
                results["notes"] = f.read()
        with open(args.output, "w") as f:
            f.write(render(results))
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
