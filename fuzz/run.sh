#!/usr/bin/env bash
# Runs one fuzz target at low priority: fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags...]
# (default 600 seconds). Uses fuzz/dict/TARGET.dict when there is one, stops at the first crash
# (written to fuzz/artifacts/TARGET/), and prints libFuzzer's final statistics.
set -euo pipefail

target="${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]}"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))
cd "$(dirname "${BASH_SOURCE[0]}")"

flags=(-max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1)
if [[ -f "dict/$target.dict" ]]; then
    flags+=(-dict="dict/$target.dict")
fi
mkdir -p "corpus/$target"
RUSTC_BOOTSTRAP=1 exec nice -n 19 cargo fuzz run "$target" -- "${flags[@]}" "$@"
