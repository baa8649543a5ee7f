#!/usr/bin/env bash
# Side-by-side benchmark run: the managed engine and the PyTorch CPU reference, same machine, same moment.
# Prints one JSON object per line (ours first, then PyTorch's). Needs Debian's python3-torch for the reference
# (apt-get install python3-torch) and optionally libopenblas0-pthread for the OpenBLAS GEMM column.
# Usage: bash bench/run.sh [threads]   (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
dotnet build src/CalRec.Cli -c Release -v quiet -nologo > /dev/null
calrec() { dotnet src/CalRec.Cli/bin/Release/net10.0/calrec.dll "$@"; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads=$threads"
calrec bench gemm --json --threads "$threads"
calrec bench tokenizer --json
calrec bench train --config S --json --threads "$threads"
calrec bench train --config M --json --threads "$threads"
reference=../shared/tools/torch_gpt_bench.py
if [ -f "$reference" ] && /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  /usr/bin/python3 "$reference" "$threads" | sed 's/^{/{"name": "torch-1.13-reference", /'
else
  echo "# PyTorch reference skipped: needs $reference and Debian's python3-torch (/usr/bin/python3)" >&2
fi
