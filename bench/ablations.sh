#!/usr/bin/env bash
# CALRec's ablations with the shipped defaults (two members, each the run of its own seed with stage 0 inside it; item-ID
# hybrid, 12 tokens per item text, max history 8; stage 1 off, stage 2 three whole epochs at lr 1e-3, model selection
# on every validation user, no time budgets) on one target, each compared with the full defaults on the same test users
# (paired bootstrap), SASRec beside them. Whole epochs rather than minutes, so the figures do not depend on how busy
# the machine is. Every run trains its members' stage 0s itself: members that share one stage 0 are too alike for
# their mean to gain (docs/results.md, "Two members instead of stage 1"). The single-run ablations in docs/results.md
# were measured with the previous version of this script (one shared stage-0 backbone, stage 1 on, one member).
# Usage: [ROWS="defaults with-stage1 ..."] bash bench/ablations.sh amazon-office|amazon-beauty [OUT_DIR]
#   (needs ../shared/data; about 2 hours on 2 cores for office, 3.5 for beauty). ROWS runs only the rows named (and the
#   defaults, which every other row is compared with); a row whose model is in OUT_DIR is only evaluated again, and
#   a row that was interrupted (its OUT_DIR/NAME.zip.checkpoint left) is continued with --resume.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:?usage: bash bench/ablations.sh amazon-office|amazon-beauty [OUT_DIR]}"
DATA=../shared/data
[[ -d "$DATA/$TARGET" ]] || { echo "bench/ablations.sh: no dataset '$DATA/$TARGET'" >&2; exit 2; }
OUT="${2:-runs/ablations-$TARGET}"
mkdir -p "$OUT"
CLI="${CLI:-src/CalRec.Cli/bin/Release/net10.0/calrec.dll}"
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build src/CalRec.Cli -c Release -nologo -v quiet > /dev/null
MIXTURE=(--mixture "$DATA/ml-100k,$DATA/amazon-office,$DATA/amazon-beauty")
[[ -f "$OUT/sasrec.zip" ]] || dotnet "$CLI" train sasrec --target "$DATA/$TARGET" --minutes 0 --out "$OUT/sasrec.zip"

ROWS="${ROWS:-defaults one-member no-lm no-contrastive stage1-only with-stage1 catalogue-negatives text-only}"
run() {
  local name="$1"; shift
  [[ "$name" == defaults || " $ROWS " == *" $name "* ]] || return 0
  if [[ ! -f "$OUT/$name.zip" ]]; then
    local train=(/usr/bin/time -v -a -o "$OUT/$name.time" dotnet "$CLI" train calrec --target "$DATA/$TARGET" "${MIXTURE[@]}" --out "$OUT/$name.zip")
    if [[ -d "$OUT/$name.zip.checkpoint" ]]; then
      "${train[@]}" --resume >> "$OUT/$name.log" 2>&1 # interrupted (Ctrl+C, kill): continue with the settings saved in it
    else
      rm -f "$OUT/$name.time"
      "${train[@]}" "$@" > "$OUT/$name.log" 2>&1
    fi
  fi
  local against="$OUT/defaults.zip"
  [[ "$name" != defaults ]] || against="$OUT/sasrec.zip"
  dotnet "$CLI" evaluate --model "$OUT/$name.zip" --data "$DATA/$TARGET" --against "$against" --json > "$OUT/$name.json"
  echo "== $name"; grep -E "Maximum resident|Elapsed" "$OUT/$name.time"; cat "$OUT/$name.json"
}

run defaults
run one-member --members 1
run no-lm --w-lm 0
run no-contrastive --w-tt 0 --w-ut 0
run stage1-only --stage1-epochs 1 --stage2-epochs 0
run with-stage1 --stage1-epochs 1
run catalogue-negatives --negatives catalogue
run text-only --item-ids false
