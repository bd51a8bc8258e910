#!/usr/bin/env python3
"""Check that the shared library exports exactly the pi_ symbols of lib/pathint.map, and that
the map lists exactly the PI_API functions declared in include/pathint.h."""
import re
import subprocess
import sys

root, lib = sys.argv[1], sys.argv[2]
header = open(f"{root}/include/pathint.h", encoding="utf-8").read()
declared = set(re.findall(r"PI_API\s+[^;(]*?\b(pi_\w+)\s*\(", header))
mapped = set(re.findall(r"^\s+(pi_\w+);", open(f"{root}/lib/pathint.map", encoding="utf-8").read(), re.M))
out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
exported = set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) >= 3 and parts[1] in "TtWwDdBbRr":
        exported.add(parts[2].split("@")[0])
ok = True
def report(what, names):
    global ok
    if names:
        ok = False
        print(f"{what}: {', '.join(sorted(names))}")
report("declared in the header but not in the map", declared - mapped)
report("in the map but not declared in the header", mapped - declared)
report("exported but not in the map", {n for n in exported if n not in mapped})
report("in the map but not exported (unimplemented?)", mapped - exported)
print(f"{len(declared)} declared, {len(mapped)} mapped, {len(exported)} exported")
sys.exit(0 if ok else 1)
