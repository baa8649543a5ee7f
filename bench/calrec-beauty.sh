#!/usr/bin/env bash
# CALRec on amazon-beauty and its ablations, then amazon-office as a second target. Target amazon-beauty; stage-1 mixture = the train splits of ml-100k,
# amazon-office and amazon-beauty; leave-one-out, full ranking, seen items excluded. The first run trains the mini
# backbone from scratch (stage 0) and saves it; the ablations start from that same stage-0 backbone. Each run writes
# $OUT/<name>.zip, $OUT/<name>.json (metrics with 95% intervals, train seconds) and $OUT/<name>.time (peak memory).
# Usage: [ONLY="names"] bash bench/calrec-beauty.sh [OUT_DIR]   (needs ../shared/data; about 2 hours on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/results}"
DATA=../shared/data
mkdir -p "$OUT"
dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
CLI=src/CalRec.Cli/bin/Release/net10.0/calrec.dll
# The paper's text-only CALRec, as these rows were measured (the defaults are the item-ID hybrid since 2026-12-01).
COMMON=(--mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty" --max-history 8 --max-item-tokens 24 --stage1-minutes 10 --stage2-minutes 10 --item-ids false)
ONLY="${ONLY:-}"   # run only the named rows (space-separated), e.g. ONLY="calrec-beauty-no-lm"

run() {
  local name="$1" target="$DATA/$2"; shift 2
  if [[ -n "$ONLY" && " $ONLY " != *" $name "* ]]; then return; fi
  /usr/bin/time -v -o "$OUT/$name.time" dotnet "$CLI" train calrec --target "$target" "${COMMON[@]}" --out "$OUT/$name.zip" "$@"
  dotnet "$CLI" evaluate --model "$OUT/$name.zip" --data "$target" --json > "$OUT/$name.json"
  grep -E "Maximum resident|Elapsed" "$OUT/$name.time"
  cat "$OUT/$name.json"
}

run calrec-beauty amazon-beauty --backbone mini --vocab-size 8192 --pretrain-steps 800 --save-pretrained "$OUT/calrec-stage0" --stage1-epochs 1 --stage2-epochs 2
STAGE0=(--backbone "$OUT/calrec-stage0" --pretrain-steps 0)
run calrec-beauty-stage2-only amazon-beauty "${STAGE0[@]}" --stage1-epochs 0 --stage2-epochs 2
run calrec-beauty-stage1-only amazon-beauty "${STAGE0[@]}" --stage1-epochs 1 --stage2-epochs 0
run calrec-beauty-no-contrastive amazon-beauty "${STAGE0[@]}" --stage1-epochs 1 --stage2-epochs 2 --w-tt 0 --w-ut 0
run calrec-beauty-no-lm amazon-beauty "${STAGE0[@]}" --stage1-epochs 1 --stage2-epochs 2 --w-lm 0
# amazon-office as a second target, from the same stage-0 backbone (trained on the same three datasets' train splits).
run calrec-office amazon-office "${STAGE0[@]}" --stage1-epochs 1 --stage2-epochs 2
