#!/usr/bin/env bash
# CALRec's ablations with the shipped defaults (item-ID hybrid, 12 tokens per item text, max history 8; stage 1 one
# whole epoch, stage 2 three whole epochs at lr 1e-3, model selection on every validation user, no time budgets) on one
# target, each compared with the full defaults on the same test users (paired bootstrap), SASRec beside them. Whole
# epochs rather than minutes, so the figures do not depend on how busy the machine is.
# Every run starts from one stage-0 backbone (mini preset, 8,192-id tokenizer, 800 LM steps on the three datasets'
# training parts; pass it in STAGE0=DIR to reuse one: stage 0 reads every dataset of the mixture once, so the backbone
# saved for one target of the mixture is the one the other target's runs would train with the same seed).
# Usage: bash bench/ablations.sh amazon-office|amazon-beauty [OUT_DIR]
#   (needs ../shared/data; about 90 minutes on 2 cores for office, 150 for beauty)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:?usage: bash bench/ablations.sh amazon-office|amazon-beauty [OUT_DIR]}"
DATA=../shared/data
[[ -d "$DATA/$TARGET" ]] || { echo "bench/ablations.sh: no dataset '$DATA/$TARGET'" >&2; exit 2; }
OUT="${2:-runs/ablations-$TARGET}"
mkdir -p "$OUT"
CLI="${CLI:-src/CalRec.Cli/bin/Release/net10.0/calrec.dll}"
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
MIXTURE=(--mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty")
STAGE0="${STAGE0:-$OUT/stage0}"

[[ -f "$OUT/sasrec.zip" ]] || dotnet "$CLI" train sasrec --target "$DATA/$TARGET" --minutes 0 --out "$OUT/sasrec.zip"
if [[ ! -d "$STAGE0" ]]; then
  # Stage 0 alone: no finetuning step after it (the model it saves is not used).
  dotnet "$CLI" train calrec --target "$DATA/$TARGET" "${MIXTURE[@]}" --save-pretrained "$STAGE0" --stage1-epochs 0 --stage2-steps 1 --out "$OUT/stage0-only.zip"
fi

run() {
  local name="$1"; shift
  if [[ ! -f "$OUT/$name.zip" ]]; then
    /usr/bin/time -v -o "$OUT/$name.time" dotnet "$CLI" train calrec --target "$DATA/$TARGET" "${MIXTURE[@]}" --backbone "$STAGE0" --pretrain-steps 0 \
      --out "$OUT/$name.zip" "$@" > "$OUT/$name.log" 2>&1
  fi
  local against="$OUT/defaults.zip"
  [[ "$name" != defaults ]] || against="$OUT/sasrec.zip"
  dotnet "$CLI" evaluate --model "$OUT/$name.zip" --data "$DATA/$TARGET" --against "$against" --json > "$OUT/$name.json"
  echo "== $name"; grep -E "Maximum resident|Elapsed" "$OUT/$name.time"; cat "$OUT/$name.json"
}

run defaults
run stage2-only --stage1-epochs 0
run stage1-only --stage2-epochs 0
run no-lm --w-lm 0
run no-contrastive --w-tt 0 --w-ut 0
run catalogue-negatives --negatives catalogue
run text-only --item-ids false
