#!/usr/bin/env bash
# Meta-learning vs plain stage 1 vs none, each followed by a few-shot or a full stage 2, amazon-beauty as the target.
# The target is held out of stage 1: stage 1 trains on the source domains ml-100k + amazon-office only (plain mixture
# training, Reptile, or first-order MAML, each STAGE1_STEPS gradient steps, meta-learning counting inner and query
# steps), so in the few-shot rows the first N = 1,024 beauty training windows are all the target interactions the model
# ever trains on. Stage 2 starts from each stage-1 initialization or from the stage-0 backbone ("none"): few-shot with
# seeds 0, 1, 2 and full (STAGE2_STEPS steps over all beauty windows) with seed 0. Budgets are in steps, not minutes,
# so every row is reproducible whatever else the machine runs. All rows start from the stage-0 backbone saved by
# bench/calrec-beauty.sh ($OUT/calrec-stage0). Rows: init-<name>, fewshot-<init>-seed<S>, full-<init>; ONLY="..."
# selects rows by name prefix. Each row writes $OUT/meta/<row>.json (full-ranking test metrics).
# Usage: [ONLY="..."] [CLI=path/calrec.dll] [STAGE1_STEPS=1200] [STAGE2_STEPS=600] bash bench/meta-beauty.sh [OUT_DIR]   (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/results}"
DATA=../shared/data
ONLY="${ONLY:-}"
STAGE1_STEPS="${STAGE1_STEPS:-1200}"
STAGE2_STEPS="${STAGE2_STEPS:-600}"
CLI="${CLI:-src/CalRec.Cli/bin/Release/net10.0/calrec.dll}"
DIR="$OUT/meta"
mkdir -p "$DIR"
if [[ ! -f "$OUT/calrec-stage0/config.json" ]]; then
  echo "missing $OUT/calrec-stage0: run bash bench/calrec-beauty.sh first (it saves the stage-0 backbone)" >&2
  exit 1
fi

# The text-only model without time caps, as these rows were measured (the CALRec defaults changed on 2026-12-01).
COMMON=(--target "$DATA/amazon-beauty" --pretrain-steps 0 --max-history 8 --max-item-tokens 24 --item-ids false --stage1-minutes 0 --stage2-minutes 0)

selected() {
  [[ -z "$ONLY" ]] && return 0
  local prefix
  for prefix in $ONLY; do [[ "$1" == "$prefix"* ]] && return 0; done
  return 1
}

row() {
  local name="$1"; shift
  selected "$name" || return 0
  echo "$(date +%T) $name"
  /usr/bin/time -v dotnet "$CLI" train calrec "${COMMON[@]}" --out "$DIR/$name.zip" "$@" > "$DIR/$name.log" 2> "$DIR/$name.time"
  dotnet "$CLI" evaluate --model "$DIR/$name.zip" --data "$DATA/amazon-beauty" --json > "$DIR/$name.json"
}

backbone() {
  if [[ "$1" == none ]]; then echo "$OUT/calrec-stage0"; else echo "$DIR/init-$1.backbone"; fi
}

# Stage 1 only (no stage 2); its backbone is the initialization of the stage-2 rows.
declare -A STAGE1=(
  [plain]=""
  [reptile]="--meta reptile --meta-inner-steps 4 --meta-inner-lr 0.01 --meta-outer-lr 0.5"
  [fomaml]="--meta fomaml --meta-inner-steps 4 --meta-inner-lr 0.01 --meta-outer-lr 0.001"
)
for init in plain reptile fomaml; do
  # shellcheck disable=SC2086
  row "init-$init" --backbone "$OUT/calrec-stage0" --mixture "$DATA/ml-100k,$DATA/amazon-office" \
    --stage1-epochs 1 --stage1-steps "$STAGE1_STEPS" --stage2-epochs 0 --seed 0 ${STAGE1[$init]}
  if selected "init-$init"; then
    rm -rf "$DIR/init-$init.backbone" "$DIR/init-$init.unzip"
    unzip -q "$DIR/init-$init.zip" 'calrec/backbone/*' -d "$DIR/init-$init.unzip"
    mv "$DIR/init-$init.unzip/calrec/backbone" "$DIR/init-$init.backbone"
    rm -rf "$DIR/init-$init.unzip"
  fi
done

for init in none plain reptile fomaml; do
  for seed in 0 1 2; do
    row "fewshot-$init-seed$seed" --backbone "$(backbone "$init")" --stage1-epochs 0 --stage2-epochs 2 --few-shot 1024 --seed "$seed"
  done
done

for init in none plain reptile fomaml; do
  row "full-$init" --backbone "$(backbone "$init")" --stage1-epochs 0 --stage2-epochs 1 --stage2-steps "$STAGE2_STEPS" --seed 0
done
