#!/usr/bin/env bash
# Each grounding path of the CALRec beauty model (from bench/calrec-beauty.sh) alone and fused, on the same seeded sample
# of amazon-beauty test users (generation-based paths cost about a second per user on 2 cores). gamma and the fusion
# weights are chosen on validation users only (--tune), on a copy of the model; the fusion row also carries its paired
# NDCG@10 difference against dense retrieval on the same users. JSON lines land in $OUT/grounding-beauty.jsonl.
# Usage: bash bench/grounding-beauty.sh [OUT_DIR] [USERS]   (needs ../shared/data and $OUT/calrec-beauty.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/results}"
USERS="${2:-500}"
DATA=../shared/data/amazon-beauty
CLI=src/CalRec.Cli/bin/Release/net10.0/calrec.dll
MODEL="$OUT/calrec-beauty.zip"
TUNED="$OUT/calrec-beauty-tuned.zip"
RESULT="$OUT/grounding-beauty.jsonl"
: > "$RESULT"
evaluate() { dotnet "$CLI" evaluate --data "$DATA" --users "$USERS" --json "$@" | tail -1 | tee -a "$RESULT"; }

evaluate --model "$MODEL" --grounding dense
evaluate --model "$MODEL" --grounding bm25 --candidates 4
evaluate --model "$MODEL" --grounding embedding --candidates 4 --gamma 0
cp "$MODEL" "$TUNED"
evaluate --model "$TUNED" --grounding fusion --candidates 4 --tune --tune-users 300 --save-tuned --against "$MODEL"
evaluate --model "$TUNED" --grounding embedding
evaluate --model "$MODEL" --grounding constrained
