#!/bin/sh
# The house rules of ARCHITECTURE.md that a grep can check (issue 13's definition of done):
# one mechanism per job and data flowing one way between the modules of lib/.
set -u
cd "${1:-$(dirname "$0")/..}"
fail=0
check() { # description, command that must print nothing
    out=$(sh -c "$2" 2>&1)
    if [ -n "$out" ]; then
        echo "layering: $1:"
        echo "$out" | sed 's/^/    /'
        fail=1
    fi
}
check "lib/nn includes model/ (nn knows only its own network)" 'grep -rn "model/" lib/nn'
check "lib/train or the model door reaches into nn/" 'grep -rn "include \"nn/" lib/train lib/model/model.c'
check "lib/likelihood includes sample/" 'grep -rn "include \"sample/" lib/likelihood'
check "lib/sample includes likelihood/" 'grep -rn "include \"likelihood/" lib/sample'
check "lib/ode or lib/core include a module above them" \
      'grep -rnE "include \"(sde|model|nn|sample|likelihood|train|data)/" lib/ode lib/core'
check "pthread_create outside lib/core" 'grep -rln pthread_create lib | grep -v "^lib/core/"'
check "a Dormand-Prince tableau outside lib/ode (35/384)" \
      'grep -rlnE "35\.0 */ *384|35 */ *384\.0" lib | grep -v "^lib/ode/"'
check "more than one Dormand-Prince tableau in lib/ode" \
      '[ "$(grep -rhcE "35\.0 */ *384|35 */ *384\.0" lib/ode | awk "{s += \$1} END {print s}")" -le 1 ] || echo several'
check "tools/*.c over 600 lines" 'for f in tools/*.c; do [ "$(wc -l < "$f")" -le 600 ] || wc -l "$f"; done'
check "a module meson.build that skips missing sources" 'grep -ln "fs.exists" lib/*/meson.build'
check "a library file names a file outside the tree (MATH.md, ARCHITECTURE.md) in the public header" \
      'grep -nE "MATH\.md|ARCHITECTURE\.md|STYLE\.md" include/pathint.h'
exit $fail
