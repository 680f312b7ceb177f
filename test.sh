#!/bin/sh
# Evaluate a training run: sh test.sh WORK_DIR [extra tools/test.py options]
# Uses the config that training dumped into WORK_DIR and its last checkpoint; writes colourised
# predictions to WORK_DIR/preds and prints mIoU (19 / 16 / 13) with the per-class table.
# Works from any folder; a work dir that was moved or copied uses its own checkpoint file.
set -eu
REPO=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
    echo "usage: sh test.sh WORK_DIR [tools/test.py options]" >&2
    exit 2
fi
WORK_DIR=${1%/}
shift
if [ ! -e "$WORK_DIR" ]; then
    echo "test.sh: work dir '$WORK_DIR' does not exist" >&2
    exit 2
fi
if [ ! -d "$WORK_DIR" ]; then
    echo "test.sh: '$WORK_DIR' is a file; expected a work dir (a folder written by training)" >&2
    exit 2
fi
CONFIG=""
COUNT=0
for f in "$WORK_DIR"/*.py; do
    if [ -f "$f" ]; then CONFIG=$f; COUNT=$((COUNT + 1)); fi
done
if [ "$COUNT" -ne 1 ]; then
    echo "test.sh: expected exactly one dumped config (*.py) in '$WORK_DIR', found $COUNT" >&2
    exit 2
fi
if [ ! -f "$WORK_DIR/last_checkpoint" ]; then
    echo "test.sh: '$WORK_DIR/last_checkpoint' not found: the run has not saved a checkpoint yet" >&2
    exit 2
fi
CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")
# The pointer holds the path at saving time; prefer the file of that name in this work dir.
OWN="$WORK_DIR/$(basename "$CHECKPOINT")"
if [ -f "$OWN" ]; then CHECKPOINT=$OWN; fi
echo "Config: $CONFIG"
echo "Checkpoint: $CHECKPOINT"
exec python "$REPO/tools/test.py" "$CONFIG" "$CHECKPOINT" --eval mIoU --show-dir "$WORK_DIR/preds" \
    --opacity 1 --work-dir "$WORK_DIR/test" "$@"
