#!/usr/bin/env bash
# Regenerates the measurements behind docs/results.md: for each shared dataset, pretrain the project's small language
# model on the dataset's text (for LLMSeqSim and LLM2SASRec item embeddings), then train and evaluate every baseline
# with `calrec report baselines` (leave-one-out, full ranking, seen items excluded). JSON lines land in $OUT.
# Usage: bash bench/results.sh [OUT_DIR]   (needs ../shared/data; about 70 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/results}"
DATA=../shared/data
mkdir -p "$OUT"
dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
calrec() { dotnet src/CalRec.Cli/bin/Release/net10.0/calrec.dll "$@"; }

calrec pretrain --data "$DATA/amazon-beauty" --config models/small.json --out "$OUT/lm-beauty" --steps 1000 --eval-every 100
calrec report baselines --data "$DATA/amazon-beauty" --lm "$OUT/lm-beauty/model" --minutes 10 --with-bce --json | tee "$OUT/amazon-beauty.jsonl"

calrec pretrain --data "$DATA/amazon-office" --config models/small.json --out "$OUT/lm-office" --steps 400 --eval-every 100
calrec report baselines --data "$DATA/amazon-office" --lm "$OUT/lm-office/model" --minutes 4 --patience 20 --json | tee "$OUT/amazon-office.jsonl"

calrec pretrain --data "$DATA/ml-100k" --config models/small.json --out "$OUT/lm-ml-100k" --steps 400 --eval-every 100
calrec report baselines --data "$DATA/ml-100k" --lm "$OUT/lm-ml-100k/model" --hidden 50 --max-length 200 --dropout 0.2 --lr 2e-3 \
  --minutes 7 --patience 40 --json | tee "$OUT/ml-100k.jsonl"
