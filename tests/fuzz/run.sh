#!/bin/sh
# run.sh TARGET [SECONDS]: runs the fuzzer fuzz_TARGET for SECONDS (default
# $MQG_FUZZ_SECONDS, else 30) over a copy of tests/fuzz/corpus/TARGET, so
# the committed corpus does not grow, and prints how many inputs it ran.
# Exits non-zero on a crash, a leak, a failed check or an input slower than
# 10 s; the input is then kept as $BUILD/fuzz-artifacts/TARGET/crash-*
# (reproduce with: $BUILD/tests/fuzz/fuzz_TARGET FILE).
# The fuzz build is $MQG_FUZZ_BUILD_DIR, else build-fuzz (make fuzz-build).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: run.sh TARGET [SECONDS]}
seconds=${2:-${MQG_FUZZ_SECONDS:-30}}
build=${MQG_FUZZ_BUILD_DIR:-$here/../../build-fuzz}
bin=$build/tests/fuzz/fuzz_$target
seeds=$here/corpus/$target

[ -x "$bin" ] || { echo "run.sh: no $bin (configure with CC=clang -DMQG_FUZZ=ON)" >&2; exit 2; }
[ -d "$seeds" ] || { echo "run.sh: no corpus $seeds" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mqg-fuzz-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
artifacts=$build/fuzz-artifacts/$target
mkdir -p "$artifacts"

# One process, one job: results are comparable from run to run, and ctest
# runs targets side by side itself.
status=0
(cd "$work" && "$bin" -max_total_time="$seconds" -print_final_stats=1 \
   -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" \
   "$work/corpus") >"$work/log" 2>&1 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/log")
if [ "$status" -ne 0 ]; then
  # The report: the sanitizer's or the check's lines, not the progress.
  grep -v -E '^#[0-9]+' "$work/log" | tail -n 60 >&2
  echo "fuzz.$target: FAILED (exit $status) after ${execs:-?} executions;" \
       "input in $artifacts/" >&2
  exit 1
fi
cov=$(sed -n 's/^#[0-9]*.*DONE *cov: \([0-9]*\).*/\1/p' "$work/log")
echo "fuzz.$target: ${execs:-?} executions in ${secs:-$seconds} s" \
     "($(( ${execs:-0} / (${secs:-$seconds} > 0 ? ${secs:-$seconds} : 1) ))/s)," \
     "coverage ${cov:-?} edges, $(ls "$work/corpus" | wc -l) corpus files" \
     "($(ls "$seeds" | wc -l) seeds)"
