#!/usr/bin/env bash
# CALRec on amazon-beauty (target) with the stage-1 mixture ml-100k + amazon-office + amazon-beauty (train splits), then
# full-ranking evaluation on beauty's leave-one-out test split. Writes $OUT/calrec-beauty.zip and $OUT/calrec-beauty.json.
# Usage: bash bench/calrec-beauty.sh [OUT_DIR] [extra train flags...]   (needs ../shared/data; about 50 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/results}"
shift || true
DATA=../shared/data
NAME="${NAME:-calrec-beauty}"
mkdir -p "$OUT"
dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
calrec() { dotnet src/CalRec.Cli/bin/Release/net10.0/calrec.dll "$@"; }

/usr/bin/time -v -o "$OUT/$NAME.time" dotnet src/CalRec.Cli/bin/Release/net10.0/calrec.dll train --recommender calrec \
  --target "$DATA/amazon-beauty" --mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty" --out "$OUT/$NAME.zip" \
  --backbone mini --vocab-size 8192 --pretrain-steps 800 --max-history 8 --max-item-tokens 24 \
  --stage1-epochs 1 --stage1-minutes 15 --stage2-epochs 2 --stage2-minutes 20 "$@"
calrec evaluate --model "$OUT/$NAME.zip" --data "$DATA/amazon-beauty" --json | tee "$OUT/$NAME.json"
grep -E "Maximum resident|Elapsed" "$OUT/$NAME.time"
