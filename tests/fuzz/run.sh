#!/bin/sh
# Build and run the libFuzzer harnesses (issue 9).
#   tests/fuzz/run.sh [SECONDS_PER_HARNESS] [HARNESS...]
# SECONDS defaults to 60 (the CI run); the long local run uses e.g. 1800. Environment:
#   PI_FUZZ_BUILD  build folder (default build-fuzz), configured here with clang + ASan/UBSan
#   PI_FUZZ_JOBS   harnesses fuzzed at the same time (default 2, the CI machine's cores; each
#                  is one process), in batches of that many
#   PI_FUZZ_TIMEOUT  seconds one input may take (default 10); a wall-clock limit, so a long run
#                  niced under other work needs more (a 0.4 s input was once starved past 10 s)
# Findings go to $PI_FUZZ_BUILD/artifacts/<harness>/; the grown corpus to
# $PI_FUZZ_BUILD/corpus/<harness>/ (the committed seeds in tests/fuzz/corpus/ are read only).
# Exit status: 0 = no findings, 1 = a harness crashed, 77 = skipped (no clang/libFuzzer).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
secs=${1:-60}
[ $# -gt 0 ] && shift
harnesses=${*:-"model_load safetensors data_csv data_npy setters"}
build=${PI_FUZZ_BUILD:-build-fuzz}

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: SKIPPED: clang not found (apt-get install clang)"
    exit 77
fi
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long s) { (void)d; (void)s; return 0; }\n' > "$probe/p.c"
if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    rm -rf "$probe"
    echo "fuzz: SKIPPED: clang's libFuzzer runtime is missing (apt-get install libclang-rt-14-dev)"
    exit 77
fi
rm -rf "$probe"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link -Dtests=disabled -Dbench=disabled -Dtools=disabled \
        -Dexamples=disabled -Ddocs=disabled -Dbindings=disabled >"$build.setup.log" 2>&1 ||
        { cat "$build.setup.log"; exit 1; }
fi
targets=""
for h in $harnesses; do targets="$targets tests/fuzz/fuzz_$h"; done
# shellcheck disable=SC2086
ninja -C "$build" $targets >/dev/null || { ninja -C "$build" $targets; exit 1; }

status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fuzz_one() { # harness: fuzz it, leave the exit status in $build/fuzz_$1.rc
    h=$1
    mkdir -p "$build/corpus/$h" "$build/artifacts/$h"
    seeds=tests/fuzz/corpus/$h
    [ -d "$seeds" ] || seeds=""
    # -rss_limit_mb / -malloc_limit_mb: a hostile size field must be rejected, not allocated.
    # shellcheck disable=SC2086
    "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -timeout="${PI_FUZZ_TIMEOUT:-10}" -rss_limit_mb=1024 \
        -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$h/" "$build/corpus/$h" $seeds >"$build/fuzz_$h.log" 2>&1
    echo $? >"$build/fuzz_$h.rc"
}
jobs=${PI_FUZZ_JOBS:-2}
running=0
for h in $harnesses; do
    fuzz_one "$h" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait
for h in $harnesses; do
    log="$build/fuzz_$h.log"
    rc=$(cat "$build/fuzz_$h.rc" 2>/dev/null || echo 1)
    runs=$(grep -a -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1)
    [ -n "$runs" ] || runs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1)
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "fuzz: $h: FINDING (exit $rc) after ${runs:-?}; see $log and $build/artifacts/$h/"
        grep -a -m 5 -E 'ERROR|SUMMARY|fuzz check failed|runtime error' "$log" | sed 's/^/    /'
    else
        echo "fuzz: $h: ok ($runs; corpus $(ls "$build/corpus/$h" | wc -l) files)"
    fi
done
exit $status
