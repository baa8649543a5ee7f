#!/usr/bin/env bash
# CALRec's item-ID hybrid (--item-ids true, the defaults since 2026-12-01) on amazon-beauty and amazon-office, each
# compared on the same test users with SASRec (paired bootstrap). Every run starts from one stage-0 backbone (the mini
# preset, 8,192-id tokenizer, 800 LM steps on the three datasets' item texts and training windows: `calrec train calrec`
# does exactly this first when no --backbone folder is given; here it is trained once and shared, 3.3 minutes).
# Usage: bash bench/calrec-hybrid.sh [OUT_DIR]   (needs ../shared/data; about 75 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/hybrid}"
DATA=../shared/data
mkdir -p "$OUT"
dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
CLI=src/CalRec.Cli/bin/Release/net10.0/calrec.dll
MIXTURE=(--mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty")

for target in amazon-beauty amazon-office; do
  sasrec="$OUT/sasrec-$target.zip"
  [[ -f "$sasrec" ]] || dotnet "$CLI" train sasrec --target "$DATA/$target" --minutes 10 --out "$sasrec"
done

if [[ ! -d "$OUT/stage0" ]]; then
  # Stage 0 alone: no finetuning step after it (the model it saves is not used).
  dotnet "$CLI" train calrec --target "$DATA/amazon-beauty" "${MIXTURE[@]}" --save-pretrained "$OUT/stage0" --stage1-epochs 0 --stage2-steps 1 --out "$OUT/stage0-only.zip"
fi

run() {
  local name="$1" target="$2"; shift 2
  /usr/bin/time -v -o "$OUT/$name.time" dotnet "$CLI" train calrec --target "$DATA/$target" "${MIXTURE[@]}" --backbone "$OUT/stage0" --pretrain-steps 0 --out "$OUT/$name.zip" "$@"
  dotnet "$CLI" evaluate --model "$OUT/$name.zip" --data "$DATA/$target" --against "$OUT/sasrec-$target.zip" --json > "$OUT/$name.json"
  grep -E "Maximum resident|Elapsed" "$OUT/$name.time"
  cat "$OUT/$name.json"
}

# The shipped defaults (item-ID hybrid, 12 tokens per item text, stages 1 and 2 capped at 10 minutes each).
run hybrid-beauty amazon-beauty
run hybrid-office amazon-office
