#!/usr/bin/env bash
# Where a decode step's time goes: every kernel of a short greedy run, timed one by one by
# Nsight Compute inside the CUDA graph (clocks and caches left as they are), and the last decode
# step (the kernels after the last argmax but one) summed per kernel with the DRAM bandwidth
# each reached. Kernels timed alone miss the gaps between them: the step's sum is below its
# time in a real run.
# Usage: bench/decode_profile.sh LLCUDA_BINARY MODEL.gguf OUT_DIR
set -euo pipefail
llcuda=$1 model=$2 out=$3
ncu=${NCU:-/usr/local/cuda/bin/ncu}
mkdir -p "$out"
"$ncu" --graph-profiling node --clock-control none --cache-control none \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv \
    "$llcuda" run -m "$model" --device cuda -n 3 -p Hi --temp 0 > "$out/ncu.csv" 2> "$out/ncu.log"
python3 - "$out/ncu.csv" <<'PY' | tee "$out/profile.md"
import collections, csv, re, sys
time_scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}
byte_scale = {"byte": 1, "B": 1, "Kbyte": 1e3, "KB": 1e3, "Mbyte": 1e6, "MB": 1e6, "Gbyte": 1e9,
              "GB": 1e9}
kernels = {}
for r in csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"')):
    name = r["Kernel Name"].split("(")[0].replace("<unnamed>", "").replace("void ", "")
    head, bracket, arguments = name.partition("<")
    name = head.split("::")[-1] + bracket + arguments
    k = kernels.setdefault(int(r["ID"]), {"name": name, "us": 0.0, "bytes": 0.0})
    value = float(r["Metric Value"].replace(",", ""))
    if r["Metric Name"] == "gpu__time_duration.sum":
        k["us"] = value * time_scale[r["Metric Unit"]]
    else:
        k["bytes"] = value * byte_scale[r["Metric Unit"]]
ordered = [kernels[i] for i in sorted(kernels)]
ends = [i for i, k in enumerate(ordered) if k["name"].startswith("argmax")]
step = ordered[ends[-2] + 1 : ends[-1] + 1]
time = collections.defaultdict(float); data = collections.defaultdict(float)
count = collections.Counter()
for k in step:
    time[k["name"]] += k["us"]; data[k["name"]] += k["bytes"]; count[k["name"]] += 1
total = sum(time.values()); total_bytes = sum(data.values())
print("| kernel | launches | µs total | share | µs each | GB/s |\n|---|---|---|---|---|---|")
for name, t in sorted(time.items(), key=lambda kv: -kv[1]):
    print(f"| {name} | {count[name]} | {t:.1f} | {100 * t / total:.1f}% | {t / count[name]:.2f} "
          f"| {data[name] / (t * 1e3):.0f} |")
print(f"\nstep: {total:.1f} µs over {len(step)} kernels (each timed alone), "
      f"{total_bytes / 1e9:.2f} GB read from DRAM, {total_bytes / (total * 1e3):.0f} GB/s")
PY
