#!/usr/bin/env bash
# CALRec with its shipped defaults against SASRec on amazon-beauty and amazon-office, trained the way a user with no
# flags trains them: `calrec train calrec --target T --mixture ...` (two members, seeds s and s + 1, each with stage 0
# inside the run and stage 2 three whole epochs at lr 1e-3, model selection on every validation user; stage 1 off) and
# `calrec train sasrec --target T --minutes 0` (early stopping, no clock, so sharing the cores does not cut it short),
# one pair per seed, each CALRec run compared with the same seed's SASRec on the same test users (paired bootstrap).
# Usage: bash bench/calrec-hybrid.sh [OUT_DIR] [SEEDS]   (needs ../shared/data; per seed about 25 minutes for beauty
#   and 14 for office on 2 cores alone, SASRec 9 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/hybrid}"
SEEDS="${2:-1 2}"
DATA=../shared/data
mkdir -p "$OUT"
dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
CLI=src/CalRec.Cli/bin/Release/net10.0/calrec.dll
MIXTURE=(--mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty")

for seed in $SEEDS; do
  for target in amazon-beauty amazon-office; do
    sasrec="$OUT/sasrec-$target-seed$seed.zip"
    calrec="$OUT/calrec-$target-seed$seed.zip"
    [[ -f "$sasrec" ]] || dotnet "$CLI" train sasrec --target "$DATA/$target" --minutes 0 --seed "$seed" --out "$sasrec"
    if [[ ! -f "$calrec" ]]; then
      /usr/bin/time -v -o "${calrec%.zip}.time" dotnet "$CLI" train calrec --target "$DATA/$target" "${MIXTURE[@]}" --seed "$seed" --out "$calrec"
    fi
    dotnet "$CLI" evaluate --model "$calrec" --data "$DATA/$target" --against "$sasrec" --json > "${calrec%.zip}.json"
    grep -E "Maximum resident|Elapsed" "${calrec%.zip}.time"
    cat "${calrec%.zip}.json"
  done
done
