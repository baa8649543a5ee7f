#!/usr/bin/env bash
# Few-shot stage 2 on amazon-beauty (the first N = 1,024 target training windows) after different stage-1 choices:
# plain mixture training, Reptile, first-order MAML, or no stage 1. All start from the stage-0 backbone saved by
# bench/calrec-beauty.sh; each row writes $OUT/<name>.json. Rows named in ONLY run (default: all), PARALLEL=1 runs the
# chosen rows side by side (equal conditions for wall-clock budgets). SEED selects the few-shot seed (0, 1, 2).
# Usage: [ONLY="..."] [PARALLEL=1] [SEED=0] bash bench/meta-beauty.sh [OUT_DIR]   (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/results}"
DATA=../shared/data
SEED="${SEED:-0}"
ONLY="${ONLY:-}"
CLI=src/CalRec.Cli/bin/Release/net10.0/calrec.dll
COMMON=(--target "$DATA/amazon-beauty" --mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty" --backbone "$OUT/calrec-stage0"
  --pretrain-steps 0 --max-history 8 --max-item-tokens 24 --stage1-minutes 8 --stage2-epochs 2 --few-shot 1024 --seed "$SEED")

run() {
  local name="$1-seed$SEED"; shift
  if [[ -n "$ONLY" && " $ONLY " != *" $1 "* && " $ONLY " != *" ${name%-seed*} "* ]]; then return; fi
  dotnet "$CLI" train --recommender calrec "${COMMON[@]}" --out "$OUT/$name.zip" "$@" > "$OUT/$name.log" 2>&1
  dotnet "$CLI" evaluate --model "$OUT/$name.zip" --data "$DATA/amazon-beauty" --json > "$OUT/$name.json"
}

rows=(
  "fewshot-plain --stage1-epochs 1"
  "fewshot-reptile --stage1-epochs 1 --meta reptile --meta-inner-steps 4 --meta-inner-lr 0.01 --meta-outer-lr 0.5"
  "fewshot-fomaml --stage1-epochs 1 --meta fomaml --meta-inner-steps 4 --meta-inner-lr 0.01 --meta-outer-lr 0.001"
  "fewshot-none --stage1-epochs 0"
)
for row in "${rows[@]}"; do
  # shellcheck disable=SC2086
  if [[ "${PARALLEL:-0}" == 1 ]]; then run $row & else run $row; fi
done
wait
