#!/bin/bash
# Run `bench/run_all.py --quick` on two commits and show every figure that differs,
# with timings (seconds, speed-ups, load averages, timestamps) masked out.
#   scripts/bench_compare.sh <before-rev> <after-rev> [out.md]
# Each commit is exported with `git archive` into a temporary folder that uses
# this checkout's .venv; the two runs go one after the other.
set -euo pipefail
before=$1; after=$2; out=${3:-reports/bench/compare_$(git rev-parse --short "$before")_$(git rev-parse --short "$after").md}
repo=$(pwd)
mask() { sed -E -e 's/[0-9]+(\.[0-9]+)? s\b/<t>/g' -e 's/[0-9.]+x \|/<x> |/g' -e 's/load average [0-9.]+/load average <l>/g' \
  -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z/<time>/g' -e 's/^(\| [^|]+\| )[0-9.]+( \| [0-9.]+ \|)/\1<t>\2/' "$1"; }
for rev in "$before" "$after"; do
  dir=$(mktemp -d /tmp/shoplens-bench-XXXX)
  git archive "$rev" | tar -x -C "$dir"
  ln -s "$repo/.venv" "$dir/.venv"
  (cd "$dir" && PYTHONPATH="$dir" SHOPLENS_PII_SALT=${SHOPLENS_PII_SALT:-bench-salt} TF_CPP_MIN_LOG_LEVEL=2 \
     .venv/bin/python bench/run_all.py --quick)
  cp "$dir/reports/bench/SUMMARY.md" "/tmp/bench-summary-$(git rev-parse --short "$rev").md"
done
b=/tmp/bench-summary-$(git rev-parse --short "$before").md; a=/tmp/bench-summary-$(git rev-parse --short "$after").md
{ echo "# Quick bench, $before vs $after (timings masked)"; echo; echo '```'
  diff <(mask "$b") <(mask "$a") && echo "no figure differs"; echo '```'; } > "$out" || true
cat "$out"
