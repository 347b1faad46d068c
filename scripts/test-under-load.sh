#!/usr/bin/env bash
# scripts/test-under-load.sh: `make test` on a small, busy machine. The suite must never
# flake because the machine is slow: every wait in a test is derived from the sandbox's
# settings (docs/contributing.md). This script checks that: it pins `make test` and as
# many busy loops as cores to the same CORES CPUs (default 2, like a small CI runner),
# so every test runs with half the CPU it would get alone, and reports the time.
#
# Usage: scripts/test-under-load.sh [make arguments...]     e.g. PKGS=./internal/faults
#
# Environment:
#   CORES   CPUs to run on (default 2; needs taskset, from util-linux, to pin)
#   LOAD    busy loops competing with the tests (default: CORES)
#   RUNS    how many times to run make test in a row, stopping at the first failure (default 1)
#
# stress-ng is used for the load when installed (apt-get install stress-ng); otherwise a
# shell busy loop per core does the same. Exit status: that of the first failing run.
set -euo pipefail

cd "$(dirname "$0")/.."
CORES=${CORES:-2}
LOAD=${LOAD:-$CORES}
RUNS=${RUNS:-1}
if ! [[ "$CORES" =~ ^[1-9][0-9]*$ && "$LOAD" =~ ^[0-9]+$ && "$RUNS" =~ ^[1-9][0-9]*$ ]]; then
	echo "test-under-load: CORES and RUNS must be positive integers, LOAD a non-negative one" >&2
	exit 2
fi
have=$(nproc)
if ((CORES > have)); then
	echo "test-under-load: CORES=$CORES but this machine has $have CPUs; using $have" >&2
	CORES=$have
fi

pin=()
if command -v taskset >/dev/null 2>&1; then
	pin=(taskset -c "0-$((CORES - 1))")
else
	echo "test-under-load: taskset not found: not pinned, the load competes on every CPU" >&2
fi

loaders=()
stop_load() {
	for p in "${loaders[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${loaders[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	loaders=()
}
trap stop_load EXIT INT TERM

if ((LOAD > 0)); then
	if command -v stress-ng >/dev/null 2>&1; then
		"${pin[@]}" stress-ng --quiet --cpu "$LOAD" --timeout 0 &
		loaders+=($!)
	else
		for _ in $(seq "$LOAD"); do
			"${pin[@]}" sh -c 'while :; do :; done' &
			loaders+=($!)
		done
	fi
fi
echo "== make test on ${CORES} CPU(s) with ${LOAD} busy loop(s) beside it, ${RUNS} run(s)"

status=0
for run in $(seq "$RUNS"); do
	start=$(date +%s)
	"${pin[@]}" make test "$@" || status=$?
	took=$(($(date +%s) - start))
	echo "== run $run of $RUNS: exit $status after $((took / 60))m$((took % 60))s"
	if ((status != 0)); then
		break
	fi
done
exit "$status"
