#!/usr/bin/env bash
# CALRec's ablations with the shipped defaults (item-ID hybrid, 12 tokens per item text, max history 8) on amazon-office,
# each compared with the full defaults on the same test users (paired bootstrap), SASRec beside them. The stages are
# capped in steps, not minutes (stage 1: 2,876 steps, stage 2: 1,398 = its three epochs, what the defaults' 10-minute
# budgets reached in the office run of 2026-12-01), so the figures do not depend on how busy the machine is.
# Every run starts from one stage-0 backbone (mini preset, 8,192-id tokenizer, 800 LM steps on the training parts).
# Usage: bash bench/ablations-office.sh [OUT_DIR]   (needs ../shared/data; about 100 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/ablations}"
DATA=../shared/data
TARGET=amazon-office
mkdir -p "$OUT"
CLI="${CLI:-src/CalRec.Cli/bin/Release/net10.0/calrec.dll}"
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
MIXTURE=(--mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty")
STEPS=(--stage1-minutes 0 --stage2-minutes 0 --stage1-steps 2876 --stage2-steps 1398)

[[ -f "$OUT/sasrec.zip" ]] || dotnet "$CLI" train sasrec --target "$DATA/$TARGET" --minutes 10 --out "$OUT/sasrec.zip"
if [[ ! -d "$OUT/stage0" ]]; then
  # Stage 0 alone: no finetuning step after it (the model it saves is not used).
  dotnet "$CLI" train calrec --target "$DATA/$TARGET" "${MIXTURE[@]}" --save-pretrained "$OUT/stage0" --stage1-epochs 0 --stage2-steps 1 --out "$OUT/stage0-only.zip"
fi

run() {
  local name="$1"; shift
  if [[ ! -f "$OUT/$name.zip" ]]; then
    /usr/bin/time -v -o "$OUT/$name.time" dotnet "$CLI" train calrec --target "$DATA/$TARGET" "${MIXTURE[@]}" --backbone "$OUT/stage0" --pretrain-steps 0 \
      "${STEPS[@]}" --out "$OUT/$name.zip" "$@" > "$OUT/$name.log" 2>&1
  fi
  local against="$OUT/defaults.zip"
  [[ "$name" != defaults ]] || against="$OUT/sasrec.zip"
  dotnet "$CLI" evaluate --model "$OUT/$name.zip" --data "$DATA/$TARGET" --against "$against" --json > "$OUT/$name.json"
  echo "== $name"; grep -E "Maximum resident|Elapsed" "$OUT/$name.time"; cat "$OUT/$name.json"
}

run defaults
run text-only --item-ids false
run no-contrastive --w-tt 0 --w-ut 0
run no-lm --w-lm 0
run stage2-only --stage1-epochs 0
run stage1-only --stage2-epochs 0
