#!/usr/bin/env bash
# CALRec's and SASRec's training steps on amazon-beauty per backend, interleaved rounds on a quiet machine:
# CALRec: mini backbone from scratch, stage 2 only, 60 steps of 16 histories (tokens/s of the step as the progress
# line reports it); SASRec: the results.md settings for 2 epochs (seconds per epoch, validation included).
# Usage: bash bench/backends-recommenders.sh [rounds]   (default 2; needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2}"
DATA=../shared/data
dotnet build src/CalRec.Cli -c Release -v quiet -nologo > /dev/null
calrec() { dotnet src/CalRec.Cli/bin/Release/net10.0/calrec.dll "$@"; }
out=$(mktemp -d)
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, rounds=$rounds"
for round in $(seq "$rounds"); do
  for backend in managed torchsharp; do
    echo "# round $round calrec $backend"
    calrec train calrec --target "$DATA/amazon-beauty" --backbone mini --pretrain-steps 0 --stage1-epochs 0 --stage2-steps 60 \
      --validation-users 100 --max-history 8 --max-item-tokens 24 --vocab-size 4096 --item-ids false --backend "$backend" --out "$out/calrec-$backend.zip" | grep -E "stage2 60/60"
    echo "# round $round sasrec $backend"
    calrec train sasrec --target "$DATA/amazon-beauty" --epochs 2 --min-epochs 2 --backend "$backend" --out "$out/sasrec-$backend.zip" | grep -E "epoch [12]:"
  done
done
rm -rf "$out"
