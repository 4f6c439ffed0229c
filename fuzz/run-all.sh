#!/usr/bin/env bash
# Runs every fuzz target for N executions (default 1,000,000), one after the other, and prints
# each one's executions, time, coverage and outcome. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Usage: fuzz/run-all.sh [runs] [target...]
set -euo pipefail
cd "$(dirname "$0")"

runs="${1:-1000000}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# The address sanitizer finds nothing in safe Rust that a panic would not, and halves the
# speed; debug assertions stay on (overflow checks).
cargo +nightly fuzz build --sanitizer none --debug-assertions
bin="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

status=0
printf '%-16s %12s %8s %8s %8s  %s\n' target executions seconds cov ft outcome
for target in "${targets[@]}"; do
  # New inputs go to generated/ (not committed); the seeds in corpus/ stay as they are.
  mkdir -p "generated/$target" "artifacts/$target"
  dict=()
  case "$target" in
    fleet_json | escalation_json | event_decoding) dict=(-dict=dict/json.dict) ;;
    config | scenario | topology) dict=(-dict=dict/toml.dict) ;;
    sse_framing) dict=(-dict=dict/sse.dict) ;;
  esac
  log="artifacts/$target/run.log"
  start=$(date +%s)
  # One process (libFuzzer's default; -jobs would fork and log elsewhere).
  if "$bin/$target" "generated/$target" "corpus/$target" -runs="$runs" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="artifacts/$target/" "${dict[@]}" >"$log" 2>&1; then
    outcome=ok
  else
    outcome="FOUND: see $log and artifacts/$target/"
    status=1
  fi
  seconds=$(($(date +%s) - start))
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-16s %12s %8s %8s %8s  %s\n' "$target" "$executions" "$seconds" "${cov:-?}" "${ft:-?}" "$outcome"
done
exit $status
