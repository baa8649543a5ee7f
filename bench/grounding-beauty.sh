#!/usr/bin/env bash
# Each grounding path of the CALRec beauty model (from bench/calrec-beauty.sh) alone and fused, on the same seeded sample
# of amazon-beauty test users (generation-based paths cost about a second per user on 2 cores). gamma and the fusion
# weights (dense, BM25, embedding, constrained) are chosen on validation users only (--tune), on a copy of the model; the
# fusion row also carries its paired NDCG@10 difference against dense retrieval on the same users. With a SASRec model zip
# ($SASREC, default $OUT/tune/beauty-sasrec-ce.zip, made by `calrec train sasrec --target
# ../shared/data/amazon-beauty --minutes 10 --out $OUT/tune/beauty-sasrec-ce.zip`) the embedding path is also re-weighted by SASRec's scores instead of
# popularity (gamma tuned for that signal), alone and in the fusion. Rows: dense bm25 embedding-g0 fusion embedding-tuned
# constrained embedding-base-backbone (texts embedded by the stage-0 backbone) embedding-mean-pooling embedding-sasrec
# fusion-sasrec; ONLY="..." runs the named rows. JSON lines are appended to $OUT/grounding-beauty.jsonl (the file is
# emptied first when every row runs).
# Usage: [ONLY="..."] [CLI=path/calrec.dll] [SASREC=model.zip] bash bench/grounding-beauty.sh [OUT_DIR] [USERS]
#        (needs ../shared/data and $OUT/calrec-beauty.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/results}"
USERS="${2:-500}"
ONLY="${ONLY:-}"
DATA=../shared/data/amazon-beauty
CLI="${CLI:-src/CalRec.Cli/bin/Release/net10.0/calrec.dll}"
SASREC="${SASREC:-$OUT/tune/beauty-sasrec-ce.zip}"
MODEL="$OUT/calrec-beauty.zip"
TUNED="$OUT/calrec-beauty-tuned.zip"
RESULT="$OUT/grounding-beauty.jsonl"
if [[ -z "$ONLY" ]]; then : > "$RESULT"; fi
row() {
  local name="$1"; shift
  if [[ -n "$ONLY" && " $ONLY " != *" $name "* ]]; then return; fi
  dotnet "$CLI" evaluate --data "$DATA" --users "$USERS" --json "$@" | tail -1 | sed "s/^{/{\"row\":\"$name\",/" | tee -a "$RESULT"
}

row dense --model "$MODEL" --grounding dense
row bm25 --model "$MODEL" --grounding bm25 --candidates 4
row embedding-g0 --model "$MODEL" --grounding embedding --candidates 4 --gamma 0
if [[ -z "$ONLY" || " $ONLY " == *" fusion "* ]]; then cp "$MODEL" "$TUNED"; fi
row fusion --model "$TUNED" --grounding fusion --candidates 4 --tune --tune-users 300 --save-tuned --against "$MODEL"
row embedding-tuned --model "$TUNED" --grounding embedding
row constrained --model "$MODEL" --grounding constrained
row embedding-base-backbone --model "$MODEL" --grounding embedding --candidates 4 --gamma 0 --embedding-backbone "$OUT/calrec-stage0"
row embedding-mean-pooling --model "$MODEL" --grounding embedding --candidates 4 --gamma 0 --embedding-pooling mean
if [[ -f "$SASREC" ]]; then
  row embedding-sasrec --model "$MODEL" --grounding embedding --candidates 4 --tune --tune-users 300 --collaborative "$SASREC"
  row fusion-sasrec --model "$MODEL" --grounding fusion --candidates 4 --tune --tune-users 300 --collaborative "$SASREC" --against "$MODEL"
fi
