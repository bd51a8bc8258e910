"""`meson install` into a staging root (DESTDIR): every artefact in place, nothing unexpected.

Expected: the shared library (real name, SONAME link, development link), the static library,
pathint.h and the C++ wrapper pathint.hpp beside it, pathint.pc, the pathint command and its
man page pathint(1) (when built), every guide docs/*.md and the demo figure, and every .py file
of bindings/python/pathint in the Python's site-packages (when that option is on).

Usage: check_installed.py BUILD_DIR SOURCE_DIR --tool yes|no --man yes|no --python yes|no
"""
import argparse
import os
import subprocess
import sys
import json
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("source")
    ap.add_argument("--tool", choices=["yes", "no"], required=True)
    ap.add_argument("--man", choices=["yes", "no"], required=True)
    ap.add_argument("--python", choices=["yes", "no"], required=True)
    a = ap.parse_args()

    info = subprocess.run(["meson", "introspect", a.build, "--buildoptions"], capture_output=True,
                          text=True, check=True).stdout
    opts = {o["name"]: o["value"] for o in json.loads(info)}
    prefix, libdir, includedir = opts["prefix"], opts["libdir"], opts["includedir"]
    bindir, datadir, mandir = opts["bindir"], opts["datadir"], opts["mandir"]
    version = subprocess.run(["meson", "introspect", a.build, "--projectinfo"], capture_output=True,
                             text=True, check=True).stdout
    version = json.loads(version)["version"]

    def under(d, *names):
        base = d if os.path.isabs(d) else os.path.join(prefix, d)
        return [os.path.join(base, n) for n in names]

    expected = set()
    expected.update(under(libdir, f"libpathint.so.{version}", "libpathint.so.1", "libpathint.so",
                          "libpathint.a", "pkgconfig/pathint.pc"))
    expected.update(under(includedir, "pathint.h", "pathint.hpp"))
    docs = sorted(f for f in os.listdir(os.path.join(a.source, "docs")) if f.endswith(".md"))
    expected.update(under(os.path.join(datadir, "doc", "pathint"), *docs, "demo.png", "digits.png",
                          "wkb-digits.png"))
    if a.tool == "yes":
        expected.update(under(bindir, "pathint"))
    if a.man == "yes":
        expected.update(under(os.path.join(mandir, "man1"), "pathint.1"))
    python_files = []
    pkg_root = os.path.join(a.source, "bindings", "python")
    for root, dirs, files in os.walk(os.path.join(pkg_root, "pathint")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        python_files += [os.path.relpath(os.path.join(root, f), pkg_root) for f in files if f.endswith(".py")]

    with tempfile.TemporaryDirectory() as stage:
        done = subprocess.run(["meson", "install", "-C", a.build, "--no-rebuild", "--destdir", stage,
                               "--quiet"], capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        installed = set()
        for root, dirs, files in os.walk(stage):
            for f in files:
                installed.add("/" + os.path.relpath(os.path.join(root, f), stage))
        # The Python package's directory depends on the Python; find it by its __init__.py.
        site = None
        for path in installed:
            if path.endswith("/pathint/__init__.py"):
                site = path[: -len("/pathint/__init__.py")]
        if a.python == "yes":
            if site is None:
                print("missing: the Python package (pathint/__init__.py)")
                return 1
            expected.update(os.path.join(site, f) for f in python_files)
        missing = sorted(expected - installed)
        extra = sorted(installed - expected)
        for path in sorted(installed):
            print(("  " if path in expected else "? ") + path)
        for path in missing:
            print("missing:", path)
        for path in extra:
            print("not expected (list it in tests/install/check_installed.py):", path)
        if a.man == "yes":
            page = os.path.join(stage, under(os.path.join(mandir, "man1"), "pathint.1")[0].lstrip("/"))
            if '.TH "pathint" "1"' not in open(page, encoding="utf-8").read():
                print("pathint.1 is not the man page pathint(1)")
                return 1
        so = os.path.join(stage, under(libdir, "libpathint.so")[0].lstrip("/"))
        if os.path.exists(so) and not os.path.islink(so):
            print("libpathint.so should be a link to the versioned library")
            return 1
        if missing or extra:
            return 1
    print(f"{len(expected)} artefacts installed as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
