#!/bin/sh
# Counts the instructions mfu-exporter spends per /metrics scrape and per log line, with
# valgrind's callgrind (repeatable where wall-clock timing on a shared machine is not).
#
#   bench/callgrind.sh [BINARY]      # default: target/release/mfu-exporter
#
# Per scrape: (instructions for 501 scrapes - instructions for 1 scrape) / 500, on a process
# holding the state of 1,000 log lines. Per line: instructions to start and read 100,000 lines
# minus those for 1,000 lines, divided by 99,000. Profiles are left in $WORK for
# callgrind_annotate.
set -eu
cd "$(dirname "$0")/.."
binary=${1:-target/release/mfu-exporter}
python=/usr/bin/python3
[ -x "$python" ] || python=python3
WORK=${WORK:-$(mktemp -d /tmp/mfu-callgrind-XXXXXX)}
port=19277

total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'; }

# run LINES SCRAPES OUT: start under callgrind on a log of LINES lines, wait until all are
# counted, make SCRAPES more scrapes, stop.
run() {
    "$python" -c "import sys; sys.path.insert(0, 'bench'); import driver; open('$WORK/train.jsonl', 'wb').write(driver.log_bytes(0, $1))"
    valgrind --tool=callgrind --callgrind-out-file="$3" "$binary" serve --model gpt2 \
        --gpu a100-sxm --gpus 8 --tail.path "$WORK/train.jsonl" --tail.read-from beginning \
        --web.listen-address 127.0.0.1:$port --log.level warn 2>/dev/null &
    pid=$!
    "$python" - "$port" "$1" "$2" <<'PY'
import http.client, sys, time
port, lines, scrapes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/metrics")
        if f"mfu_exporter_lines_read_total {lines}\n" in c.getresponse().read().decode():
            break
    except OSError:
        pass
    time.sleep(0.2)
else:
    sys.exit("the exporter did not count every line")
for _ in range(scrapes):
    c.request("GET", "/metrics")
    c.getresponse().read()
PY
    kill "$pid"
    wait "$pid" || true
}

run 1000 1 "$WORK/scrape-1.out"
run 1000 501 "$WORK/scrape-501.out"
run 100000 1 "$WORK/lines-100000.out"
echo "instructions per scrape: $(( ($(total "$WORK/scrape-501.out") - $(total "$WORK/scrape-1.out")) / 500 ))"
echo "instructions per line:   $(( ($(total "$WORK/lines-100000.out") - $(total "$WORK/scrape-1.out")) / 99000 ))"
echo "profiles: $WORK"
