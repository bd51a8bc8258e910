#!/bin/sh
# Checks of the pathint command: exit codes, messages, and a small train → sample → nll → wkb →
# info round trip on files. Usage: cli_test.sh PATH_TO_PATHINT
set -u
tool=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

expect() { # expect CODE DESCRIPTION COMMAND...
    want=$1
    what=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want"
        sed 's/^/  stderr: /' "$tmp/err" | head -n 5
        failures=$((failures + 1))
    else
        echo "ok:   $what (exit $got)"
    fi
}

expect 2 "no arguments" "$tool"
expect 0 "--help" "$tool" --help
expect 0 "--version" "$tool" --version
expect 2 "unknown command" "$tool" frobnicate
for c in train sample nll wkb demo info; do
    expect 0 "$c --help" "$tool" "$c" --help
done
expect 2 "unknown option" "$tool" sample --bogus
grep -q "unknown option '--bogus'" "$tmp/err" || { echo "FAIL: message names the option"; failures=$((failures + 1)); }
expect 2 "missing value" "$tool" sample --model
expect 2 "bad number" "$tool" sample --model x --hbar abc
expect 2 "bad choice" "$tool" sample --model x --method nope
grep -q "choose from" "$tmp/err" || { echo "FAIL: message lists the choices"; failures=$((failures + 1)); }
expect 2 "missing --model" "$tool" sample
expect 1 "model file that does not exist" "$tool" sample --model "$tmp/none.pim"
printf 'not a model' >"$tmp/junk.pim"
expect 1 "corrupt model file" "$tool" sample --model "$tmp/junk.pim"
grep -q "error" "$tmp/err" || { echo "FAIL: runtime errors say 'error'"; failures=$((failures + 1)); }
expect 1 "invalid hbar reported by the library" "$tool" train --dataset moons --n 200 --steps 2 --out "$tmp/m0.pim" --lr -1

# A tiny model through every subcommand.
expect 0 "train" "$tool" train --dataset moons --n 2000 --steps 60 --batch 64 --width 16 --layers 2 \
    --out "$tmp/m.pim" --checkpoint "$tmp/ck.bin" --quiet
expect 0 "train --resume" "$tool" train --dataset moons --n 2000 --steps 20 --resume "$tmp/ck.bin" \
    --out "$tmp/m2.pim" --quiet
expect 0 "info MODEL" "$tool" info "$tmp/m.pim"
grep -q "dimension   2" "$tmp/out" || { echo "FAIL: info shows the dimension"; failures=$((failures + 1)); }
expect 0 "sample to CSV on stdout" "$tool" sample --model "$tmp/m.pim" -n 50 --hbar 0.5 --steps 10 --quiet
[ "$(wc -l <"$tmp/out")" -eq 50 ] || { echo "FAIL: 50 CSV lines expected"; failures=$((failures + 1)); }
expect 0 "sample to .npy" "$tool" sample --model "$tmp/m.pim" -n 50 --steps 10 --seed 3 --out "$tmp/s.npy" --quiet
expect 0 "sample to .csv, same seed" "$tool" sample --model "$tmp/m.pim" -n 50 --steps 10 --seed 3 --out "$tmp/s.csv" --quiet
expect 0 "sample to .png" "$tool" sample --model "$tmp/m.pim" -n 200 --steps 10 --out "$tmp/s.png" --quiet
expect 0 "nll" "$tool" nll --model "$tmp/m.pim" --data "$tmp/s.csv" --rtol 1e-4 --atol 1e-6 --out "$tmp/nll.csv" --quiet
grep -q "NLL0" "$tmp/out" || { echo "FAIL: nll prints NLL0"; failures=$((failures + 1)); }
head -n 4 "$tmp/s.csv" >"$tmp/few.csv"
expect 0 "wkb" "$tool" wkb --model "$tmp/m.pim" --data "$tmp/few.csv" --rtol 1e-4 --atol 1e-6 --hbar 0.3 --quiet
grep -q "c1" "$tmp/out" || { echo "FAIL: wkb prints c1"; failures=$((failures + 1)); }
# issue 18: the stochastic sweep from the command line, and its probes refused at 0
expect 0 "wkb stochastic" "$tool" wkb --model "$tmp/m.pim" --data "$tmp/few.csv" --rtol 1e-4 --atol 1e-6 --algorithm stochastic --wkb-probes 4 --quiet
grep -q "c1" "$tmp/out" || { echo "FAIL: stochastic wkb prints c1"; failures=$((failures + 1)); }
expect 2 "wkb-probes 0" "$tool" wkb --model "$tmp/m.pim" --data "$tmp/few.csv" --algorithm stochastic --wkb-probes 0
expect 2 "nll rejects --algorithm" "$tool" nll --model "$tmp/m.pim" --data "$tmp/few.csv" --algorithm sweep
printf '1,2,3\n4,5,6\n' >"$tmp/d3.csv"
expect 1 "data of the wrong dimension" "$tool" nll --model "$tmp/m.pim" --data "$tmp/d3.csv"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all CLI checks passed"
