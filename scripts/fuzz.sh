#!/usr/bin/env bash
# scripts/fuzz.sh: make fuzz. Each target (package:FuzzFunc, from the Makefile's FUZZ_TARGETS)
# runs for FUZZTIME on top of its seed corpus; a crasher it finds is written to the package's
# testdata/fuzz and fails the run.
#
# `go test -fuzz` links a new instrumented test binary for every target, which on a loaded
# 2-core machine cost more than the fuzzing itself (about 13 s a target beside 10 s of
# fuzzing). Here each package's test binary is built once, with the fuzzer's coverage
# instrumentation (`go test -c -fuzz`), and runs each of its targets in the package's
# directory with go test's fuzz cache; FUZZ_JOBS packages (default 2) build and fuzz at
# once, so one builds while another fuzzes. List the package with the most targets first.
#
# Go's fuzzer sometimes ends a run on a loaded machine with "context deadline exceeded" and
# no input at fault (its workers overrun the -fuzztime deadline): such a run, and only such
# a run (no crasher written), is tried once more; a crasher always fails.
#
# Usage: scripts/fuzz.sh ./pkg:FuzzFunc...      Environment: GO, FUZZTIME, FUZZ_JOBS
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
FUZZ_JOBS=${FUZZ_JOBS:-2}
if ! [[ "$FUZZ_JOBS" =~ ^[1-9][0-9]*$ ]]; then
	echo "fuzz: FUZZ_JOBS must be a positive integer" >&2
	exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=$($GO env GOCACHE)/fuzz

declare -A bin=() importpath=() targets=()
order=()
for t in "$@"; do
	pkg=${t%%:*}
	[ -n "${targets[$pkg]:-}" ] || order+=("$pkg")
	targets[$pkg]="${targets[$pkg]:-} ${t##*:}"
done

# fuzz_once PKG FN: one run of one target, as go test -fuzz runs it (its 10m timeout too).
fuzz_once() {
	(cd "$1" && "${bin[$1]}" -test.run='^$' -test.fuzz="^$2\$" -test.fuzztime="$FUZZTIME" \
		-test.fuzzminimizetime=200x -test.fuzzcachedir="$cache/${importpath[$1]}" \
		-test.timeout=10m -test.paniconexit0)
}

# fuzz_target PKG FN: the target, tried once more only after a deadline overrun that wrote
# no crasher.
entries() { ls "$1" 2>/dev/null | wc -l || true; }
fuzz_target() {
	local corpus=$1/testdata/fuzz/$2 before log=$work/$2.log
	before=$(entries "$corpus")
	echo "fuzz $1 $2 ($FUZZTIME)"
	fuzz_once "$1" "$2" >"$log" 2>&1 && { cat "$log"; return 0; }
	cat "$log"
	grep -q 'context deadline exceeded' "$log" && [ "$(entries "$corpus")" = "$before" ] || return 1
	echo "fuzz $1 $2: the fuzzer overran its deadline with no crasher; once more"
	fuzz_once "$1" "$2"
}

# fuzz_package PKG: builds the package's instrumented test binary (the -fuzz pattern only
# turns instrumentation on here), then runs its targets one after the other; the first
# failure ends it.
fuzz_package() {
	local fn
	importpath[$1]=$($GO list "$1")
	bin[$1]=$work/$(echo "${1#./}" | tr / _).test
	$GO test -c -fuzz . -o "${bin[$1]}" "$1"
	for fn in ${targets[$1]}; do
		fuzz_target "$1" "$fn" || return 1
	done
}

# FUZZ_JOBS packages at once, in FUZZ_TARGETS' order, each one's output printed whole
# when it ends.
declare -A running=() # pid -> package
status=0
reap() {
	local pid rc=0 pkg
	wait -n -p pid "${!running[@]}" || rc=$?
	pkg=${running[$pid]}
	unset "running[$pid]"
	cat "$work/$(echo "${pkg#./}" | tr / _).out"
	if ((rc != 0)); then
		echo "fuzz $pkg: FAILED"
		status=1
	fi
}
for pkg in "${order[@]}"; do
	while ((${#running[@]} >= FUZZ_JOBS)); do reap; done
	fuzz_package "$pkg" >"$work/$(echo "${pkg#./}" | tr / _).out" 2>&1 &
	running[$!]=$pkg
done
while ((${#running[@]} > 0)); do reap; done
exit "$status"
