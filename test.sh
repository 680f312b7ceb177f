#!/bin/sh
# Evaluate a work dir: sh test.sh WORK_DIR [extra tools/test.py options]
# WORK_DIR is a training run of this package (its dumped *.py config and last checkpoint) or a released
# work dir of the DAFormer family (<run name>.json + latest.pth or iter_*.pth, e.g. CLIP-ProCL's
# 231025_1955_gta2cs_uda_warm_rcs_deeplabv2red_final_pl_8e0a4); tools/test.py resolves the files.
# Writes colourised predictions to WORK_DIR/preds and prints mIoU (19 / 16 / 13) with the per-class
# table. Works from any folder; a trailing slash is fine; a moved or copied work dir uses its own files.
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
exec python "$REPO/tools/test.py" "$WORK_DIR" --eval mIoU --show-dir "$WORK_DIR/preds" --opacity 1 "$@"
