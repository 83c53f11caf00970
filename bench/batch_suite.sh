#!/usr/bin/env bash
# Issue 6's GPU figures: a gpu-layers sweep of a Llama-3-8B-shaped Q4_K_M model (with its
# chart), --auto-tune, and `llcuda batch` throughput with 1, 8 and 32 parallel sequences.
# Usage: bench/batch_suite.sh LLCUDA_BINARY MODEL_DIR OUT_DIR
set -euo pipefail
llcuda=$1 models=$2 out=$3
mkdir -p "$models" "$out"
model=$models/llama3-8b-Q4_K_M.gguf
[[ -f $model ]] || "$llcuda" synth --shape llama3-8b --type Q4_K_M -o "$model"

"$llcuda" bench -m "$model" --sweep gpu-layers=0,8,16,24,32 -p 32 -n 8 -r 2 --warmup 0 \
    --chart "$out/sweep-gpu-layers-llama3-8b-Q4_K_M.svg" --metric tg -o json \
    > "$out/sweep-gpu-layers-llama3-8b-Q4_K_M.json"
"$llcuda" bench --compare "$out/sweep-gpu-layers-llama3-8b-Q4_K_M.json" \
    | tee "$out/sweep-gpu-layers-llama3-8b-Q4_K_M.md"

"$llcuda" bench -m "$model" --device cuda --auto-tune -p 256 -n 32 -r 1 | tee "$out/auto-tune.md"

python3 - "$out/prompts.jsonl" <<'PY'
import json, sys
starts = ["Once upon a time", "The little dog", "Lily and Tom", "A big red ball"]
with open(sys.argv[1], "w") as f:
    for i in range(64):
        f.write(json.dumps({"id": i, "prompt": f"{starts[i % 4]} {i}", "max_tokens": 64,
                            "temperature": 0}) + "\n")
PY
for parallel in 1 8 32; do
    "$llcuda" batch -m "$model" --device cuda -i "$out/prompts.jsonl" \
        -o "$out/batch-p$parallel.jsonl" --parallel "$parallel" -q \
        --summary "$out/batch-summary-p$parallel.json"
done
