#!/bin/sh
# The README's two set-up commands:
#   tools/bootstrap.sh demo   install what is missing (Debian/Ubuntu, as root or via sudo),
#                             configure, build, and run the demo (train, sample, likelihood, PNG)
#   tools/bootstrap.sh test   the same, then the whole test suite: the normal build with
#                             -Werror, an ASan+UBSan build (C suites, and the Python binding
#                             tests with the sanitizer runtimes preloaded), the ABI check and the analysers
#                             (valgrind, TSan, cppcheck, short fuzz runs)
# Environment: BUILD_DIR (default build), PI_SKIP_ANALYZERS=1 skips the analyser stage.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-demo}
build=${BUILD_DIR:-build}

demo_packages="meson ninja-build pkg-config gcc libc6-dev libblis-dev libblis-pthread-dev libpng-dev"
test_packages="$demo_packages libcmocka-dev doxygen abigail-tools python3 python3-numpy python3-pytest python3-sklearn python3-pil
  python3-torch python3-matplotlib valgrind g++ cppcheck clang libclang-rt-14-dev binutils locales-all
  python3-mesonpy python3-build python3-venv patchelf scdoc
  debhelper dh-python dpkg-dev lintian python3-dask python3-distributed"

install_missing() {
    missing=""
    for p in $1; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "bootstrap: installing missing Debian packages:$missing"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    else
        echo "bootstrap: not root and no sudo; please install:$missing" >&2
        exit 1
    fi
}

configure() {
    if [ -f "$build/build.ninja" ]; then
        meson setup --reconfigure "$build" "$@" >/dev/null
    else
        meson setup "$build" "$@"
    fi
    ninja -C "$build"
}

case "$mode" in
demo)
    install_missing "$demo_packages"
    configure -Dtests=disabled
    "$build/tools/pathint" demo --out pathint-demo.png
    echo "bootstrap: the demo's picture is pathint-demo.png"
    ;;
test)
    install_missing "$test_packages"
    configure -Dwerror=true -Dtests=enabled
    meson test -C "$build" --print-errorlogs --num-processes 2
    # The same suites under AddressSanitizer + UndefinedBehaviorSanitizer.
    asan="$build-asan"
    if [ -f "$asan/build.ninja" ]; then
        meson setup --reconfigure "$asan" >/dev/null
    else
        meson setup "$asan" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
            -Dbench=disabled -Ddocs=disabled -Dtools=disabled -Dexamples=disabled
    fi
    ninja -C "$asan"
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
        meson test -C "$asan" --print-errorlogs --num-processes 2 --suite c
    # The Python binding's tests over the same ASan+UBSan library (issue 20): the interpreter is
    # not instrumented, so the sanitizer runtimes are preloaded; the interpreter's own
    # allocations at exit are not ours, hence detect_leaks=0.
    py=/usr/bin/python3 # Debian's, with python3-numpy and python3-pytest (as tests/python/meson.build)
    [ -x "$py" ] || py=python3
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
        ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        PATHINT_LIBRARY="$asan/lib/libpathint.so" PYTHONPATH=bindings/python PYTHONDONTWRITEBYTECODE=1 \
        "$py" -m pytest -q -rs -p no:cacheprovider tests/python
    abi/check.sh "$build"
    if [ "${PI_SKIP_ANALYZERS:-0}" != 1 ] && [ -x tests/run_analyzers.sh ]; then
        tests/run_analyzers.sh "$build"
    fi
    echo "bootstrap: all tests passed"
    ;;
*)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
