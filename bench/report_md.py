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
    if m.get("blis_kernel_choice"):
        print()
        print("Kernels: BLIS %s (chosen by %s; BLIS threading %s); CPU vector extensions %s; %s CPUs "
              "for the process." % (m.get("blis_arch"), m.get("blis_kernel_choice"),
                                    m.get("blis_threading"),
                                    " ".join(m.get("cpu_vector_extensions", [])), m.get("cpu_count")))
    hw = m.get("hardware_reference")
    if hw:
        peaks = hw.get("fma_peak_gflops", {})
        print()
        print("Hardware reference: kernel sets tried %s; FMA-loop peak %s GFLOP/s at 1 thread, "
              "%s at 2 (%s-lane FMA)." % (", ".join(hw.get("kernel_sets_tried", [])),
                                          fmt(peaks.get("1")), fmt(peaks.get("2")),
                                          hw.get("fma_vector_lanes")))
        print()
        print("| GEMM chain | threads | " + " | ".join(hw.get("kernel_sets_tried", [])) + " | best |")
        print("|---|---|" + "---|" * (len(hw.get("kernel_sets_tried", [])) + 1))
        for key, c in sorted(hw.get("chains", {}).items()):
            chain, th = key.rsplit("_", 1)
            print("| %s | %s | %s | %s |" % (chain.replace("chain_", ""), th[:-1], " | ".join(
                fmt(c["by_kernels"].get(k)) for k in hw.get("kernel_sets_tried", [])),
                c["best_kernels"]))
    print()
    print("| name | value | unit | reference | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for r in rep["results"]:
        met = {True: "yes", False: "**no**", None: "–"}[r.get("meets_target")]
        tgt = "" if r.get("target") is None else ("≥ " if r["better"] == "higher" else "≤ ") + fmt(r["target"])
        name = r["name"] + (" (secondary)" if r.get("secondary") else "")
        print("| %s | %s | %s | %s | %s | %s | %s |" % (name, fmt(r["value"]), r["unit"],
                                                    fmt(r["reference"]), fmt(r["ratio"]), tgt, met))


if __name__ == "__main__":
    main()
