#!/usr/bin/env bash
# The end-to-end main job, offline, on the built-in faces (what `make demo` runs):
#   ingest -> embed -> train -> generate, in a few minutes on 2 CPU cores.
# Knobs (environment): DEMO_WORKSPACE (default pointdiff-work/demo), DEMO_COUNT (faces),
# DEMO_STEPS (training steps), PYTHON_BIN (the venv's bin folder).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PYTHON_BIN:-.venv/bin}
WS=${DEMO_WORKSPACE:-pointdiff-work/demo}
COUNT=${DEMO_COUNT:-600}
STEPS=${DEMO_STEPS:-8000}  # the default recipe's full schedule: ~3 min on 2 cores
pd() { "$BIN/pointdiff" "$@"; }

echo "== 1/4 ingest: $COUNT built-in labelled cartoon faces -> $WS/dataset"
pd ingest builtin:faces --count "$COUNT" --seed 0 --workspace "$WS" --overwrite

echo "== 2/4 embed: captions -> unit vectors (MiniLM, shipped offline)"
pd embed --workspace "$WS"

echo "== 3/4 train: our default recipe, $STEPS steps"
pd train --workspace "$WS" --steps "$STEPS" --name demo-run

echo "== 4/4 generate: pictures from prompts (the first two phrasings never appear in training captions)"
pd generate --workspace "$WS" --num-samples 3 --seed 0 --out "$WS/outputs/demo.png" \
  "head rotated to the left, with a poker face" \
  "face angled up, startled" \
  "Front-facing, smiling expression" \
  "Left-facing, neutral expression" \
  "Right-facing, happy expression"
echo "== done: open $WS/outputs/demo.png (and $WS/dataset/contact_sheet.png for the training data)"
