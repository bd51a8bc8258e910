#!/bin/sh
# The Python package installed the way a user installs it, with no PYTHONPATH and no
# PATHINT_LIBRARY:
#   1. `pip install --no-build-isolation .` into a virtual environment (meson-python builds the
#      library and puts its own libpathint.so inside the package), then `import pathint` from
#      another directory, and the binding tests (tests/python) against the installed package;
#   2. `python3 -m build --wheel --no-isolation`, the wheel installed into a fresh virtual
#      environment, imported.
# The environments see the system's site-packages for numpy/pytest (offline).
# Usage: python_install_test.sh SOURCE_DIR PYTHON. Exit 77 (skip) without meson-python/build/venv.
set -eu
src=$1
py=${2:-python3}
for m in mesonpy build venv pytest numpy; do
    "$py" -c "import $m" 2>/dev/null || { echo "skip: $py lacks the module $m"; exit 77; }
done
command -v patchelf >/dev/null 2>&1 || { echo "skip: meson-python needs patchelf"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset PYTHONPATH PATHINT_LIBRARY PATHINT_TOOL

# A copy of the source tree without build directories (pip builds in the tree it is given).
mkdir "$tmp/src"
tar -C "$src" --exclude='./build*' --exclude='./.git' --exclude='./obj-*' --exclude='./debian' \
    --exclude='__pycache__' -cf - . | tar -C "$tmp/src" -xf -

check_import() { # venv: import from another directory; the library must be the package's own
    (cd "$tmp" && "$1/bin/python" -c '
import os, sys, pathint
lib = pathint.load_library().path
pkg = os.path.dirname(pathint.__file__)
print("pathint", pathint.version(), "from", pkg, "library", lib)
assert pkg.startswith(sys.prefix), "the package was not imported from the environment"
assert os.path.dirname(lib) == pkg, "the library is not the one inside the package"
assert pathint.version() == pathint.__version__, (pathint.version(), pathint.__version__)
')
}

echo "== pip install --no-build-isolation"
"$py" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-build-isolation --no-index --no-cache-dir "$tmp/src" \
    >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; echo "pip install failed"; exit 1; }
check_import "$tmp/venv"
echo "== binding tests against the installed package"
# Left out here (python-bindings runs them over the build tree, and the ASan pass once more):
# the long numerical runs, which test the algorithms, not the installation — the DDP training
# run, the digits training, the torch-autograd likelihoods, the second-order and stochastic
# likelihood sweeps, the Dask example and the conditional MLP's training. Every other
# binding test (about 300) runs against the installed package and its bundled library.
t=$src/tests/python
(cd "$tmp" && "$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider "$t" \
    --ignore="$t/test_torch_ddp.py" --ignore="$t/test_digits.py" --ignore="$t/test_torch_model.py" \
    -k "not (test_likelihood_second_order or test_likelihood_stochastic_c1_agrees_with_the_exact_sweep \
or test_dask_example_runs or test_conditional_mlp_trains_and_guides)")

echo "== python3 -m build --wheel --no-isolation, installed into a fresh environment"
(cd "$tmp/src" && "$py" -m build --wheel --no-isolation --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1) ||
    { cat "$tmp/build.log"; echo "wheel build failed"; exit 1; }
wheel=$(ls "$tmp"/dist/pathint-*.whl)
echo "wheel: $(basename "$wheel")"
"$py" -m venv --system-site-packages "$tmp/fresh"
"$tmp/fresh/bin/python" -m pip install -q --no-index --no-cache-dir "$wheel"
check_import "$tmp/fresh"

echo "== a package whose library does not match fails with LibraryNotFoundError"
lib=$("$tmp/fresh/bin/python" -c 'import pathint, os; print(pathint.load_library().path)')
echo "not a library" >"$lib"
out=$(cd "$tmp" && "$tmp/fresh/bin/python" -c '
import pathint
try:
    pathint.version()
except pathint.LibraryNotFoundError as exc:
    print("LibraryNotFoundError:", exc)
else:
    raise SystemExit("a broken bundled library was accepted")
') || { echo "$out"; exit 1; }
echo "$out"
case "$out" in *"cannot load the pathint library"*) ;; *) echo "unexpected message"; exit 1;; esac
echo "python install OK"
