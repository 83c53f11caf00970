#!/usr/bin/env bash
# Decode cost of constrained sampling: `llcuda run` tokens/s without a grammar and with a JSON
# schema that keeps the output going (an array of 64 objects: structural tokens, where few
# tokens pass, and strings, where most do), for greedy, top-k (run's defaults) and plain
# temperature (the server's OpenAI defaults). Runs alternate, and the median of each is printed.
#
# Usage: bench/grammar_decode_cost.sh LLCUDA MODEL_OR_EMPTY [TOKENS] [REPETITIONS] [RUN ARGS...]
#   bench/grammar_decode_cost.sh build/src/llcuda "" 256 5 -t 1        # embedded stories260K
#   llcuda synth --shape llama3-1b --type Q4_K_M -o /tmp/l1b.gguf
#   bench/grammar_decode_cost.sh build/src/llcuda /tmp/l1b.gguf 32 3 -t 2
set -euo pipefail
llcuda=$1 model=$2 tokens=${3:-256} repetitions=${4:-5}
shift $(( $# < 4 ? $# : 4 ))
model_args=()
[[ -n $model ]] && model_args=(-m "$model")
schema='{"type":"array","minItems":64,"maxItems":64,"items":{"type":"object",
 "properties":{"id":{"type":"integer"},"name":{"type":"string","maxLength":12},
 "ok":{"type":"boolean"}},"required":["id","name","ok"]}}'
declare -A samplers=(
  [greedy]="--temp 0"
  [top-k]="--temp 0.8 --top-k 40 --top-p 0.95 --min-p 0.05"
  [temperature]="--temp 1 --top-k 0 --top-p 1 --min-p 0"
)
# tokens/s of one run: "generated: N tokens, X tokens/s" on stderr.
speed() {
  "$llcuda" run "${model_args[@]}" -p "Here is the list:" -n "$tokens" -s 7 "$@" 2>&1 >/dev/null |
    sed -n 's/.*generated: \([0-9]*\) tokens, \([0-9.]*\) tokens\/s.*/\2 \1/p'
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo "model: ${model:-embedded stories260K}; $tokens tokens, $repetitions runs each; extra: $*"
printf '%-12s %14s %14s %8s\n' sampler "free tok/s" "schema tok/s" cost
for name in greedy top-k temperature; do
  free=() constrained=()
  for ((r = 0; r < repetitions; ++r)); do
    read -r value count < <(speed ${samplers[$name]} "$@")
    free+=("$value")
    read -r value count < <(speed ${samplers[$name]} --json-schema "$schema" "$@")
    constrained+=("$value")
    (( count == tokens )) || echo "  note: the schema run stopped at $count tokens" >&2
  done
  a=$(printf '%s\n' "${free[@]}" | median) b=$(printf '%s\n' "${constrained[@]}" | median)
  printf '%-12s %14.1f %14.1f %7.1f%%\n' "$name" "$a" "$b" "$(echo "100 * (1 - $b / $a)" | bc -l)"
done
