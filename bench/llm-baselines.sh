#!/usr/bin/env bash
# Re-measures the rows of docs/results.md that depend on the pretrained language model (LLMSeqSim, LLM2SASRec) on all
# three shared datasets: pretrain the small LM on the dataset's leave-one-out training part and item texts, then train
# and evaluate each LM-based baseline. LLM2SASRec gets the epoch count that bench/results.sh's time budget allowed on a
# quiet machine (beauty 28, office 71; ml-100k stopped early at 175 with patience 40), so the figures do not depend on load.
# Usage: [CLI=path/calrec.dll] bash bench/llm-baselines.sh [OUT_DIR]   (needs ../shared/data; about 45 minutes on 2 cores)
source "$(dirname "$0")/common.sh" runs/llm-baselines "$@"
pretrain() { [ -f "$OUT/$2/model/model.safetensors" ] || calrec pretrain --data "$DATA/$1" --config models/small.json --out "$OUT/$2" --steps "$3" --eval-every 100; }
evaluate() { calrec evaluate --model "$OUT/$1.zip" --data "$DATA/$2" --json | tee "$OUT/$1.json"; }

run() { # dataset lm-steps llm2sasrec-flags...
  local ds=$1 steps=$2; shift 2
  pretrain "$ds" "lm-$ds" "$steps"
  for agg in last mean harmonic; do
    calrec train llmseqsim --aggregation $agg --target "$DATA/$ds" --lm "$OUT/lm-$ds/model" --out "$OUT/$ds-llmseqsim-$agg.zip"
    evaluate "$ds-llmseqsim-$agg" "$ds"
  done
  calrec train llm2sasrec --target "$DATA/$ds" --lm "$OUT/lm-$ds/model" --out "$OUT/$ds-llm2sasrec.zip" "$@"
  evaluate "$ds-llm2sasrec" "$ds"
}

run amazon-beauty 1000 --epochs 28 --patience 100
run amazon-office 400 --epochs 71 --patience 100
run ml-100k 400 --hidden 50 --max-length 200 --dropout 0.2 --patience 40
