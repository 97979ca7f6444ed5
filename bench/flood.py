#!/usr/bin/env python3
"""A connection flood from loopback against `mfu-exporter serve`, with a scraper beside it.

The exporter runs with the open-file limit of the shipped systemd unit (LimitNOFILE=1024,
set here with `prlimit`). For --seconds, the flooder opens connections as fast as it can,
holds up to --hold of them at once (idle ones, and ones that send half a request), and closes
the oldest to open more, so that well over 20,000 connections are made in all; meanwhile a
scraper asks for /metrics every 100 ms on a fresh connection with a 1 s deadline. Reported:
connections made, scrapes answered within 1 s / failed / slowest, and the exporter's peak
resident memory (VmHWM), which the Kubernetes sidecar caps at 64 MiB; the process must still
be running at the end.

    python3 bench/flood.py --binary target/release/mfu-exporter --seconds 60
"""
import argparse
import os
import collections
import resource
import socket
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def scrape(port, timeout=1.0):
    started = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as error:
        raise RuntimeError(f"connect: {error!r}") from error
    with s:
        s.settimeout(max(0.01, timeout - (time.monotonic() - started)))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(data[:40])
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--hold", type=int, default=15000)
    parser.add_argument("--memory-limit-mib", type=int, default=0,
                        help="run the exporter in a cgroup (v1 memory controller, root) "
                             "with this memory limit, as the Kubernetes sidecar's 64 MiB")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    hold = min(args.hold, hard - 200)

    port = free_port()
    exporter = subprocess.Popen(
        ["prlimit", "--nofile=1024", "--", args.binary, "serve", "--model", "gpt2",
         "--gpu", "a100-sxm", "--web.listen-address", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cgroup = None
    if args.memory_limit_mib:
        cgroup = f"/sys/fs/cgroup/memory/mfu-exporter-flood-{os.getpid()}"
        os.makedirs(cgroup, exist_ok=True)
        with open(f"{cgroup}/memory.limit_in_bytes", "w") as f:
            f.write(str(args.memory_limit_mib << 20))
        with open(f"{cgroup}/cgroup.procs", "w") as f:
            f.write(str(exporter.pid))
    deadline = time.monotonic() + 10
    while True:
        try:
            scrape(port)
            break
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                sys.exit("the exporter did not start")
            time.sleep(0.05)

    stop = threading.Event()
    latencies, failures = [], []

    def scraper():
        while not stop.is_set():
            try:
                latencies.append(scrape(port))
            except Exception as error:  # a refused, reset or late scrape
                failures.append(repr(error))
            time.sleep(0.1)

    thread = threading.Thread(target=scraper)
    thread.start()
    made = refused = 0
    open_sockets = collections.deque()
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        try:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            if made % 2:
                try:
                    s.send(b"GET /metrics HTTP/1.1\r\nHost:")
                except OSError:
                    pass
            open_sockets.append(s)
            made += 1
        except OSError:
            refused += 1
        while len(open_sockets) >= hold:
            open_sockets.popleft().close()
    stop.set()
    thread.join()
    alive = exporter.poll() is None
    hwm = vm_hwm_mib(exporter.pid) if alive else float("nan")
    for s in open_sockets:
        s.close()
    # After the flood: still answering.
    after = scrape(port) if alive else float("nan")
    exporter.terminate()
    exporter.wait(timeout=30)
    if cgroup:
        with open(f"{cgroup}/memory.failcnt") as f:
            print(f"cgroup memory limit {args.memory_limit_mib} MiB, times the limit was hit: "
                  f"{f.read().strip()}", file=sys.stderr)
        os.rmdir(cgroup)
    slowest = max(latencies) if latencies else float("nan")
    print(f"| {args.seconds:.0f} s | {made:,} | {hold:,} | {len(latencies):,} | "
          f"{len(failures)} | {slowest * 1000:.1f} | {after * 1000:.1f} | {hwm:.1f} | "
          f"{'yes' if alive else 'NO'} |")
    if failures:
        print("failures:", failures[:5], file=sys.stderr)
    return 0 if alive and not failures and slowest < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
