#!/usr/bin/env bash
# Regenerates the measurements behind docs/results.md: for each shared dataset, pretrain the project's small language
# model on the dataset's text (for LLMSeqSim and LLM2SASRec item embeddings), then train and evaluate every baseline
# with `calrec report baselines` (leave-one-out, full ranking, seen items excluded). JSON lines land in $OUT.
# Usage: [CLI=path/calrec.dll] bash bench/results.sh [OUT_DIR]   (needs ../shared/data; about 80 minutes on 2 cores)
# With CLI set, that copy of the command-line tool runs and nothing is built (so the tree can be rebuilt meanwhile).
source "$(dirname "$0")/common.sh" runs/results "$@"
# Pretraining is deterministic: a language model already in OUT (same command, same code) is reused.
pretrain() { [ -f "$OUT/$2/model/model.safetensors" ] || calrec pretrain --data "$DATA/$1" --config models/small.json --out "$OUT/$2" --steps "$3" --eval-every 100; }

pretrain amazon-beauty lm-beauty 1000
calrec report baselines --data "$DATA/amazon-beauty" --lm "$OUT/lm-beauty/model" --minutes 10 --with-bce --json | tee "$OUT/amazon-beauty.jsonl"

pretrain amazon-office lm-office 400
calrec report baselines --data "$DATA/amazon-office" --lm "$OUT/lm-office/model" --minutes 4 --patience 20 --json | tee "$OUT/amazon-office.jsonl"

pretrain ml-100k lm-ml-100k 400
calrec report baselines --data "$DATA/ml-100k" --lm "$OUT/lm-ml-100k/model" --hidden 50 --max-length 200 --dropout 0.2 \
  --minutes 10 --patience 40 --json | tee "$OUT/ml-100k.jsonl"
