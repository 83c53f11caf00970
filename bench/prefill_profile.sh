#!/usr/bin/env bash
# Where a prompt's time goes: every kernel of one `llcuda bench` prefill (no warm-up, one
# repetition, one generated token), timed one by one by Nsight Compute (clocks and caches left
# as they are), summed per kernel name. The decode step's few kernels and the copy-bandwidth
# probe are in the sum too (under 1 ms on an 8B model). Kernels timed alone miss the gaps
# between them: the sum is near, not equal to, the pp time of a real run.
# Usage: bench/prefill_profile.sh LLCUDA_BINARY MODEL.gguf OUT_DIR [PROMPT_TOKENS]
set -euo pipefail
llcuda=$1 model=$2 out=$3 tokens=${4:-512}
ncu=${NCU:-/usr/local/cuda/bin/ncu}
mkdir -p "$out"
"$ncu" --graph-profiling node --clock-control none --cache-control none \
    --metrics gpu__time_duration.sum --csv \
    "$llcuda" bench -m "$model" --device cuda -p "$tokens" -n 1 -r 1 --warmup 0 \
    > "$out/ncu.csv" 2> "$out/ncu.log"
python3 - "$out/ncu.csv" <<'PY' | tee "$out/profile.md"
import collections, csv, sys
scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}
time = collections.defaultdict(float)
count = collections.Counter()
for r in csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"')):
    if r["Metric Name"] != "gpu__time_duration.sum":
        continue
    name = r["Kernel Name"].split("(")[0].replace("void ", "")[:90]
    time[name] += float(r["Metric Value"].replace(",", "")) * scale[r["Metric Unit"]]
    count[name] += 1
total = sum(time.values())
print(f"total kernel time {total / 1000:.2f} ms over {sum(count.values())} launches\n")
print("| kernel | launches | ms | share |\n|---|---|---|---|")
for name, t in sorted(time.items(), key=lambda kv: -kv[1])[:40]:
    print(f"| {name} | {count[name]} | {t / 1000:.3f} | {100 * t / total:.1f}% |")
PY
