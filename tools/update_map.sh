#!/bin/sh
# Regenerate lib/pathint.map from the PI_API declarations of include/pathint.h (the ABI node
# PATHINT_1.0; functions added after 1.0 go to a new node by hand, never into an old one).
set -eu
cd "$(dirname "$0")/.."
{
    echo "/* Exported symbols of libpathint. Every name here is declared with PI_API in"
    echo " * include/pathint.h and vice versa (tests/check_symbols.py checks both, and the built library). */"
    echo "PATHINT_1.0 {"
    echo "  global:"
    grep -oE 'PI_API [^(]*[ *]pi_[a-z0-9_]+\(' include/pathint.h | sed -E 's/.*[ *](pi_[a-z0-9_]+)\($/    \1;/' | sort -u
    echo "  local:"
    echo "    *;"
    echo "};"
} > lib/pathint.map
