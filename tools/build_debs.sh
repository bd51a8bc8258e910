#!/bin/sh
# Build the Debian packages (debian/) from a copy of the tree, check them with lintian (no
# errors allowed), and try what they install in a scratch root: the command runs, the Python
# package imports with the packaged library, pkg-config sees the library.
#   tools/build_debs.sh [OUT_DIR]       (the .deb files are left in OUT_DIR, default build-deb)
# Environment: DEB_BUILD_OPTIONS (CI passes nocheck: it has just run the same test suite).
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
out=${1:-build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# dpkg-buildpackage writes beside the tree, so build in a copy (tracked and new files, no builds).
mkdir "$work/pathint"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$src" ls-files -co --exclude-standard | tar -C "$src" -cf - -T - | tar -C "$work/pathint" -xf -
else
    tar -C "$src" --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$work/pathint" -xf -
fi
(cd "$work/pathint" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
    { tail -n 80 "$work/build.log"; echo "build_debs: dpkg-buildpackage failed"; exit 1; }
grep -E "^dpkg-deb: building package" "$work/build.log"
lintian --fail-on error --suppress-tags no-symbols-control-file "$work"/*.changes

# What the packages install, unpacked into a scratch root.
root="$work/root"
for deb in "$work"/*.deb; do
    case "$deb" in *dbgsym*) continue;; esac
    dpkg-deb -x "$deb" "$root"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for f in usr/bin/pathint usr/share/man/man1/pathint.1.gz usr/include/pathint.h usr/include/pathint.hpp \
         "usr/lib/$multiarch/libpathint.so.1" "usr/lib/$multiarch/libpathint.a" \
         "usr/lib/$multiarch/pkgconfig/pathint.pc" usr/lib/python3/dist-packages/pathint/__init__.py; do
    [ -e "$root/$f" ] || { echo "build_debs: the packages lack /$f"; exit 1; }
done
LD_LIBRARY_PATH="$root/usr/lib/$multiarch" "$root/usr/bin/pathint" info
(cd "$work" && PYTHONPATH="$root/usr/lib/python3/dist-packages" \
    PATHINT_LIBRARY="$root/usr/lib/$multiarch/libpathint.so.1" /usr/bin/python3 -c \
    'import pathint; print("python3-pathint imports; library", pathint.version())')
PKG_CONFIG_PATH="$root/usr/lib/$multiarch/pkgconfig" pkg-config --modversion pathint
cp "$work"/*.deb "$out"/
echo "build_debs: packages in $out"
