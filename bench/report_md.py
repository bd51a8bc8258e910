#!/usr/bin/python3
"""Render a bench/run --json report as a Markdown table (for bench/README.md and
docs/benchmarks.md):   bench/run --json > report.json && bench/report_md.py report.json"""
import json
import sys


def fmt(v):
    if v is None:
        return "null"
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def main():
    rep = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    m = rep["machine"]
    print("Machine: %s, %s cores online, BLIS %s (%s, %s), %s; Python %s, PyTorch %s; "
          "load average before/after %s / %s; run took %s s (%s UTC)."
          % (m.get("cpu_model"), m.get("cores_online"), m.get("blis_version"),
             m.get("blis_arch"), m.get("blis_library"), "gcc " + str(m.get("compiler")),
             m.get("python"), m.get("torch_version"), m.get("load_average_before"),
             m.get("load_average_after"), m.get("wall_seconds"), m.get("date_utc")))
    print()
    print("| name | value | unit | reference | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for r in rep["results"]:
        met = {True: "yes", False: "**no**", None: "–"}[r.get("meets_target")]
        tgt = "" if r.get("target") is None else ("≥ " if r["better"] == "higher" else "≤ ") + fmt(r["target"])
        print("| %s | %s | %s | %s | %s | %s | %s |" % (r["name"], fmt(r["value"]), r["unit"],
                                                    fmt(r["reference"]), fmt(r["ratio"]), tgt, met))


if __name__ == "__main__":
    main()
