#!/bin/sh
# Compare the built shared library's ABI with the committed baseline abi/pathint.abi
# (abidw/abidiff from Debian's abigail-tools). Added symbols are fine; removed or changed
# ones fail. Types defined outside include/ (the opaque handles' internal structs) are dropped
# (--drop-private-types): callers never see their layout. Refresh the baseline only on
# purpose: abi/check.sh BUILD --update
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
lib="$build/lib/libpathint.so"
[ -f "$lib" ] || { echo "abi/check.sh: $lib not built" >&2; exit 1; }
if ! command -v abidw >/dev/null 2>&1; then
    echo "abi/check.sh: abidw not installed (apt-get install abigail-tools)" >&2
    exit 1
fi
if [ "${2:-}" = "--update" ]; then
    abidw --no-corpus-path --drop-private-types --headers-dir "$root/include" "$lib" > "$root/abi/pathint.abi"
    echo "abi/check.sh: baseline updated"
    exit 0
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
abidw --no-corpus-path --drop-private-types --headers-dir "$root/include" "$lib" > "$tmp"
if abidiff --no-added-syms "$root/abi/pathint.abi" "$tmp"; then
    echo "abi/check.sh: ABI matches the baseline"
else
    status=$?
    echo "abi/check.sh: ABI differs from abi/pathint.abi (abidiff status $status)" >&2
    exit 1
fi
