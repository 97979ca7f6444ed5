#!/bin/sh
# The fault-injection soak run long: the integration test `soak::soak_short`
# (tests/it/soak.rs) with a longer duration and higher rates, built in release (or debug). It prints
# the soak's summary and exits non-zero if any check failed (the failure says which, and
# with which seed).
#
#   bench/soak.sh                  # 10 minutes
#   bench/soak.sh 3600             # an hour
#   MFU_SOAK_SEED=7 bench/soak.sh  # another seed
#   MFU_SOAK_POLL=1 bench/soak.sh  # tail by polling once a second instead of inotify
#   MFU_SOAK_BUILD=debug bench/soak.sh  # the debug build (where a release build is too slow)
#
# Other knobs (see SoakConfig::from_env): MFU_SOAK_RANKS, MFU_SOAK_LINES_PER_SECOND (per
# rank), MFU_SOAK_PUSH_CLIENTS, MFU_SOAK_PUSHES_PER_SECOND (per client), MFU_SOAK_FAULT_MS
# (mean time between two faults).
set -eu
cd "$(dirname "$0")/.."

MFU_SOAK_SECONDS="${1:-${MFU_SOAK_SECONDS:-600}}"
MFU_SOAK_LINES_PER_SECOND="${MFU_SOAK_LINES_PER_SECOND:-5000}"
MFU_SOAK_PUSH_CLIENTS="${MFU_SOAK_PUSH_CLIENTS:-4}"
MFU_SOAK_PUSHES_PER_SECOND="${MFU_SOAK_PUSHES_PER_SECOND:-100}"
export MFU_SOAK_SECONDS MFU_SOAK_LINES_PER_SECOND MFU_SOAK_PUSH_CLIENTS MFU_SOAK_PUSHES_PER_SECOND

if [ "${MFU_SOAK_BUILD:-release}" = debug ]; then profile=""; else profile="--release"; fi
cargo test $profile --locked --test it --no-run
echo "soak: ${MFU_SOAK_SECONDS} s (${MFU_SOAK_BUILD:-release} build); load before: $(uptime)"
cargo test $profile --locked --test it soak::soak_short -- --exact --nocapture
echo "load after: $(uptime)"
