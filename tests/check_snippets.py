#!/usr/bin/env python3
"""The whole programs shown to users must build and run: the README's tour (its first ```c
block) and the usage sketch at the top of include/pathint.h (its first @code block). Each is
compiled with the C compiler given against the built library and run; it must exit 0.
usage: check_snippets.py SOURCE_ROOT LIBDIR CC"""
import os
import re
import subprocess
import sys
import tempfile

root, libdir, cc = sys.argv[1], sys.argv[2], sys.argv[3]


def readme_program():
    text = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    m = re.search(r"```c\n(.*?)```", text, re.S)
    return m.group(1)


def header_program():
    text = open(os.path.join(root, "include", "pathint.h"), encoding="utf-8").read()
    m = re.search(r"@code\n(.*?)@endcode", text, re.S)
    lines = [re.sub(r"^ \* ?", "", line) for line in m.group(1).splitlines()]
    return "\n".join(lines) + "\n"


failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for name, source in (("README.md", readme_program()), ("pathint.h", header_program())):
        src = os.path.join(tmp, "prog.c")
        exe = os.path.join(tmp, "prog")
        with open(src, "w", encoding="utf-8") as f:
            f.write(source)
        build = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", exe, src,
                                "-I" + os.path.join(root, "include"), "-L" + libdir,
                                "-Wl,-rpath," + libdir, "-lpathint", "-lm"],
                               capture_output=True, text=True)
        if build.returncode != 0:
            print(f"{name}: the program does not build:\n{build.stderr}")
            failed = 1
            continue
        run = subprocess.run([exe], capture_output=True, text=True, timeout=120)
        print(f"{name}: exit {run.returncode}: {run.stdout.strip()} {run.stderr.strip()}")
        failed |= run.returncode != 0
sys.exit(failed)
