#!/usr/bin/env bash
# The HTML report behind docs/results.md's amazon-beauty tables: SASRec (trained here with the epoch count of its row, so
# the figures do not depend on load), LLMSeqSim and LLM2SASRec from bench/llm-baselines.sh, and the CALRec runs of issue
# 16 (in-batch and catalogue-wide negatives from one stage-0 backbone), all evaluated on every test user by
# `calrec report html`, with CALRec's grounding paths on 300 of them. Writes docs/reports/amazon-beauty.html.
# Usage: [CLI=path/calrec.dll] LLM=runs/llm-baselines CALREC=runs/i16 bash bench/report-beauty.sh [OUT_DIR]
source "$(dirname "$0")/common.sh" runs/report-beauty "$@"
LLM="${LLM:-runs/llm-baselines}"
CALREC="${CALREC:-runs/i16}"
[ -f "$OUT/sasrec.zip" ] || calrec train sasrec --target "$DATA/amazon-beauty" --epochs 27 --min-epochs 27 --out "$OUT/sasrec.zip"
mkdir -p docs/reports
calrec report html --data "$DATA/amazon-beauty" --title "amazon-beauty: SASRec, LLM baselines and CALRec" \
  --model "SASRec (CE)=$OUT/sasrec.zip" \
  --model "LLMSeqSim (last item)=$LLM/amazon-beauty-llmseqsim-last.zip" \
  --model "LLM2SASRec=$LLM/amazon-beauty-llm2sasrec.zip" \
  --model "CALRec, in-batch negatives=$CALREC/inbatch.zip" \
  --model "CALRec, catalogue-wide negatives=$CALREC/cat.zip" \
  --grounding-users 300 --out docs/reports/amazon-beauty.html
