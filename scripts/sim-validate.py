#!/usr/bin/env python3
"""Validates `sparkctl simulate` against the published concurrency sweeps in
data/perf-measurements.tsv: kubis.ai's vLLM gpt-oss-120b (with its weight layout) and
Nemotron-3-Super single-node rows, and llama.cpp's batched-bench S_TG rows. Each row is simulated
as its own closed-loop load (c users, one request each, all arriving together, as the benchmarks
run them) and the aggregate decode rate c * 1000 / median ITL is compared with the measurement.
Prints the markdown table docs/dev/sim.md carries.

Usage: scripts/sim-validate.py build/ci/sparkctl [data/perf-measurements.tsv]
"""
import csv
import json
import re
import statistics
import subprocess
import sys


def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if not l.startswith("#")]
    for r in csv.DictReader(lines, delimiter="\t"):
        if r["metric"] != "decode" or r["nodes"] != "1":
            continue
        if r["source"].startswith("kubis.ai") or (
            r["engine"] == "llama.cpp" and r["test"].startswith("batched") and
            r["source"].startswith("ggml-org")):
            yield r


def simulate(binary, r):
    c = int(r["concurrency"])
    llama = r["engine"] == "llama.cpp"
    prompt = int(r["depth"]) if llama else int(r["prompt_tokens"])
    out = int(r["gen_tokens"])
    args = [binary, "simulate", r["catalog_model"] or r["model"], "--engine", r["engine"],
            "--quant", r["quant"], "--users", str(c), "--context", str(prompt + out + 64),
            "--concurrency", str(c), "--prompt-tokens", str(prompt), "--output-tokens", str(out),
            "--requests", str(c), "--json"]
    if r["weight_layout"]:
        args += ["--weight-layout", r["weight_layout"]]
    if llama:
        args += ["--max-num-seqs", str(c), "--override", "R-OPS-3"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr else "exit %d" % p.returncode
    j = json.loads(p.stdout)
    # The median inter-token latency is the step time with all c sequences decoding (the few
    # steps that also carry another request's prompt chunk are the upper tail).
    return c * 1000.0 / j["itl_ms"]["p50"], j["output_tokens_per_s"]


def interleaved(r):
    """llama.cpp batched-bench prefills every prompt before it decodes; llama-server (what the
    simulator models) decodes a finished slot while the other slots' prompts fill the rest of
    each 512-token micro-batch. When the prompts need more micro-batches than there are output
    tokens, the server never reaches the benchmark's all-decoding phase for most of the run."""
    if r["engine"] != "llama.cpp":
        return False
    pp = int(re.search(r"PP=(\d+)", r["test"]).group(1))
    return int(r["concurrency"]) * pp / 512 > int(r["gen_tokens"])


def main():
    binary = sys.argv[1]
    tsv = sys.argv[2] if len(sys.argv) > 2 else "data/perf-measurements.tsv"
    print("| source | model | engine | test | c | measured tok/s | simulated tok/s | error | "
          "simulated output tok/s (with prefill) | interleaved |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    errors = {False: [], True: []}
    for r in rows(tsv):
        sim, total = simulate(binary, r)
        src = "kubis.ai" if r["source"].startswith("kubis") else "llama.cpp benches/dgx-spark.md"
        measured = float(r["value"])
        if sim is None:
            print(f"| {src} | {r['model']} | {r['engine']} | {r['test']} | {r['concurrency']} | "
                  f"{measured:g} | n/a ({total}) | | |")
            continue
        err = (sim - measured) / measured
        errors[interleaved(r)].append(abs(err))
        print(f"| {src} | {r['model']} | {r['engine']} | {r['test']} | {r['concurrency']} | "
              f"{measured:g} | {sim:.1f} | {100 * err:+.1f}% | {total:.1f} | "
              f"{'yes' if interleaved(r) else ''} |")
    both = errors[False] + errors[True]
    for name, e in (("all rows", both), ("comparable rows", errors[False]),
                    ("llama.cpp rows whose prompts interleave with decoding", errors[True])):
        if e:
            print(f"\nMedian absolute error, {name} ({len(e)}): {100 * statistics.median(e):.1f}%")


if __name__ == "__main__":
    main()
