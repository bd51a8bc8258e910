#!/bin/sh
# Install pathint into a temporary DESTDIR, then build and run programs against it using only
# `pkg-config --cflags --libs pathint`: tests/pkgconfig/consumer.c and examples/minimal.c.
# Usage: consumer_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --no-rebuild --destdir "$tmp/root" --quiet >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log"; echo "meson install failed"; exit 1; }
pc=$(find "$tmp/root" -name pathint.pc | head -n 1)
[ -n "$pc" ] || { echo "no pathint.pc was installed"; exit 1; }
pcdir=$(dirname "$pc")
# The .pc file names the real prefix; point it into the DESTDIR.
prefix=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=prefix pathint)
export PKG_CONFIG_PATH="$pcdir"
flags="--define-variable=prefix=$tmp/root$prefix"
cflags=$(pkg-config $flags --cflags pathint)
libs=$(pkg-config $flags --libs pathint)
libdir=$(pkg-config $flags --variable=libdir pathint)
echo "cflags: $cflags"
echo "libs:   $libs"
case "$cflags" in *"$tmp"*) ;; *) echo "cflags do not point into the install"; exit 1;; esac

$cc -std=c11 -Wall -Wextra -Werror "$src/tests/pkgconfig/consumer.c" $cflags $libs -o "$tmp/consumer"
LD_LIBRARY_PATH="$libdir" "$tmp/consumer" "$tmp/model.pim"

if [ -f "$src/examples/minimal.c" ]; then
    $cc -std=c11 -Wall -Wextra -Werror "$src/examples/minimal.c" $cflags $libs -o "$tmp/minimal"
    LD_LIBRARY_PATH="$libdir" "$tmp/minimal" "$tmp/model.pim" 0.5 >"$tmp/samples.csv"
    lines=$(wc -l <"$tmp/samples.csv")
    echo "minimal printed $lines samples; first: $(head -n 1 "$tmp/samples.csv")"
    [ "$lines" -eq 1000 ] || { echo "expected 1000 lines"; exit 1; }
fi
echo "pkg-config consumer OK"
