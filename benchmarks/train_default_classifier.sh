#!/usr/bin/env bash
# Train the shipped tile classifier from scratch, on CPU, in one command:
#   simulate its training and validation images, train, level the amplifiers and mask
#   DESDM's flagged pixels in its input (refresh_finders.py, the threshold chosen again),
#   evaluate on unseen images.
#
#   benchmarks/train_default_classifier.sh                 # writes src/spacejunk/weights/classifier.pt
#   OUT=/tmp/c.pt WORK=/tmp/cls benchmarks/train_default_classifier.sh
#
# Budget: under 45 minutes on two cores, simulation included (figures in docs/classifier.md).
# Seeds: training images seed 1, validation seed 2, test seed 999 (never used in training).
set -euo pipefail
cd "$(dirname "$0")/.."
SJ=${SJ:-.venv/bin/spacejunk}
PY=${PY:-.venv/bin/python}
WORK=${WORK:-work/classifier-default}
OUT=${OUT:-src/spacejunk/weights/classifier.pt}
THREADS=${THREADS:-2}
N_TRAIN=${N_TRAIN:-60}
N_VAL=${N_VAL:-12}
EPOCHS=${EPOCHS:-20}
STEPS=${STEPS:-40}
TIME_LIMIT=${TIME_LIMIT:-30}

start=$(date +%s)
[ -f "$WORK/train/labels.csv" ] || $SJ simulate --n "$N_TRAIN" --seed 1 --out "$WORK/train" --quiet
[ -f "$WORK/val/labels.csv" ] || $SJ simulate --n "$N_VAL" --seed 2 --out "$WORK/val" --quiet
sim=$(date +%s)
$SJ train classifier --data "$WORK/train" --val-data "$WORK/val" --out "$OUT" \
    --epochs "$EPOCHS" --steps-per-epoch "$STEPS" --time-limit "$TIME_LIMIT" --threads "$THREADS" --seed 0 --quiet
$PY benchmarks/refresh_finders.py "$OUT" --val "$WORK/val" --background amplifiers --mask-flagged
end=$(date +%s)
echo "simulation $((sim - start)) s, training $((end - sim)) s, total $(((end - start) / 60)) min"
if [ -n "${EVALUATE:-1}" ] && [ "${EVALUATE:-1}" != 0 ]; then
    [ -f "$WORK/test/labels.csv" ] || $SJ simulate --n 20 --seed 999 --out "$WORK/test" --quiet
    $SJ evaluate classifier --model "$OUT" --data "$WORK/test" --out "$WORK/eval" --quiet
fi
