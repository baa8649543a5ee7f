#!/usr/bin/env bash
# The training step of `calrec bench train` on both engines, with PyTorch 1.13 as the third column: interleaved rounds
# on a quiet machine (same model, batch and optimizer; GPT-2 style, AdamW with torch's defaults). One JSON object per
# line; take the medians. Needs Debian's python3-torch for the third column (apt-get install python3-torch).
# Usage: bash bench/backends.sh [threads] [rounds]   (defaults 2, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
rounds="${2:-3}"
dotnet build src/CalRec.Cli -c Release -v quiet -nologo > /dev/null
calrec() { dotnet src/CalRec.Cli/bin/Release/net10.0/calrec.dll "$@"; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads=$threads, rounds=$rounds"
reference=../shared/tools/torch_gpt_bench.py
for round in $(seq "$rounds"); do
  for config in S M; do
    calrec bench train --config "$config" --json --threads "$threads" | sed "s/^{/{\"round\": $round, /"
    calrec bench train --config "$config" --backend torchsharp --json --threads "$threads" | sed "s/^{/{\"round\": $round, /"
  done
  if [ -f "$reference" ] && /usr/bin/python3 -c 'import torch' 2> /dev/null; then
    /usr/bin/python3 "$reference" "$threads" | sed "s/^{/{\"round\": $round, \"name\": \"torch-1.13-reference\", /"
  else
    echo "# PyTorch reference skipped: needs $reference and Debian's python3-torch (/usr/bin/python3)" >&2
  fi
done
