# Sourced by the bench/*.sh scripts: the repository root as working folder, DATA, OUT (first argument or $1 default),
# and `calrec`, which runs $CLI when set (nothing is built, so the tree can change meanwhile) or builds the CLI once.
# Usage inside a script: source "$(dirname "$0")/common.sh" runs/NAME "$@"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DATA=../shared/data
OUT="${2:-$1}"
mkdir -p "$OUT"
if [ -z "${CLI:-}" ]; then
  dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
  CLI=src/CalRec.Cli/bin/Release/net10.0/calrec.dll
fi
calrec() { dotnet "$CLI" "$@"; }
