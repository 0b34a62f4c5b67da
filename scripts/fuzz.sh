#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer) of every parser that reads outside bytes.
# Not part of CI: each target runs for a bounded time, on its corpus in fuzz/corpus/<target>/,
# which is minimized afterwards (`cargo fuzz cmin`) so what is kept in the repo stays small.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS   run time per target (default 600)
#   TARGET    jd_general jd_game agiso form card_import supplier_callback (default: all, in turn)
#   FUZZ_SANITIZER=none   build without AddressSanitizer (default: address, and `none` when the
#                         address build fails)
#   FUZZ_NO_CMIN=1        keep new corpus entries without minimizing
#
# Prints per target the executions run, the crashes found (inputs saved under
# fuzz/artifacts/<target>/) and the corpus size; exits non-zero when a target crashed.
# A crash reproduces with `scripts/fuzz.sh` 's build: cargo fuzz run -a <target> <artifact>.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(jd_general jd_game agiso form card_import supplier_callback)
seconds=${1:-600}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2; }
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer, -Cpasses=sancov-module, …) and
# this project builds with its stable toolchain only (no nightly is installed or fetched).
# RUSTC_BOOTSTRAP=1 lets the stable compiler accept those flags; it is set for the fuzz build
# alone and never for the services.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# -a: debug assertions (integer overflow checks) on, so an overflow is a crash, not a wrap.
sanitizer=${FUZZ_SANITIZER:-address}
build() { cargo fuzz build -a -s "$sanitizer" "$@"; }
echo "== building fuzz targets (sanitizer: $sanitizer)"
if ! build; then
  if [[ $sanitizer == address && -z ${FUZZ_SANITIZER:-} ]]; then
    echo "== AddressSanitizer build failed; building without a sanitizer" >&2
    sanitizer=none
    build
  else
    exit 1
  fi
fi

mkdir -p fuzz/logs
failed=0
summary=()
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  log=fuzz/logs/$t.log
  before=$(find "fuzz/artifacts/$t" -type f | wc -l)
  echo "== $t: ${seconds}s on $corpus (log: $log)"
  status=0
  cargo fuzz run -a -s "$sanitizer" "$t" "$corpus" -- \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(($(find "fuzz/artifacts/$t" -type f | wc -l) - before))
  if [[ $status -ne 0 && $crashes -eq 0 ]]; then crashes="? (exit $status, see $log)"; fi
  if [[ $status -ne 0 ]]; then failed=1; fi
  if [[ $status -eq 0 && -z ${FUZZ_NO_CMIN:-} ]]; then
    cargo fuzz cmin -a -s "$sanitizer" "$t" "$corpus" >>"$log" 2>&1 || echo "   (cmin failed, see $log)"
  fi
  files=$(find "$corpus" -type f | wc -l)
  size=$(du -sh --apparent-size "$corpus" | cut -f1)
  line="$t: executions ${execs:-?}, crashes $crashes, corpus $files files ($size)"
  echo "   $line"
  summary+=("$line")
done

echo "== summary (${seconds}s per target, sanitizer: $sanitizer)"
printf '   %s\n' "${summary[@]}"
exit $failed
