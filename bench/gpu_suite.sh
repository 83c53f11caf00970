#!/usr/bin/env bash
# The CUDA backend's benchmark suite (issue 3's figures): Llama-3-shaped synthetic models in
# Q4_K_M, Q8_0 and F16, pp512 and tg128, and the partial-offload sweep.
# Usage: bench/gpu_suite.sh LLCUDA_BINARY MODEL_DIR OUT_DIR [models|bench|offload]
set -euo pipefail
llcuda=$1 models=$2 out=$3 step=${4:-all}
mkdir -p "$models" "$out"

if [[ $step == models || $step == all ]]; then
    for shape in llama3-8b llama3-1b; do
        for type in Q4_K_M Q8_0 F16; do
            file=$models/$shape-$type.gguf
            [[ -f $file ]] || "$llcuda" synth --shape "$shape" --type "$type" -o "$file"
        done
    done
fi

if [[ $step == bench || $step == all ]]; then
    for shape in llama3-8b llama3-1b; do
        for type in Q4_K_M Q8_0 F16; do
            "$llcuda" bench -m "$models/$shape-$type.gguf" --device cuda -p 512 -n 128 -r 5 --tg-from-empty \
                -o json > "$out/bench-$shape-$type.json"
            "$llcuda" bench -m "$models/$shape-$type.gguf" --device cuda -p 512 -n 128 -r 5 --tg-from-empty \
                | tee "$out/bench-$shape-$type.md"
        done
    done
fi

if [[ $step == offload || $step == all ]]; then
    for layers in 0 4 8 12 16; do
        "$llcuda" bench -m "$models/llama3-1b-Q4_K_M.gguf" --gpu-layers "$layers" -p 64 -n 32 -r 2 \
            --warmup 1 -o csv | tail -1
    done | tee "$out/offload-llama3-1b-Q4_K_M.csv"
fi
