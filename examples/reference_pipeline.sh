#!/usr/bin/env bash
# The reference pipeline with real models, end to end:
#   video frames -> every 6th frame -> FastVLM descriptions -> Qwen summaries -> CLIP vectors
#   -> the reference training recipe (seed preset, 20000 steps) -> pictures from its own prompts.
#
#   examples/reference_pipeline.sh FRAMES_DIR [WORKSPACE]
#
# Needs the weights locally (the Hugging Face cache or folders; pointdiff never downloads),
# and a GPU makes captioning minutes instead of hours. See README "Captions and summaries".
# Every model and length is an environment variable, so the same script runs on tiny
# models in tests/test_examples.py (which is how it is smoke-tested offline):
#   VLM (KamilaMila/FastVLM-0.5B, needs timm+torchvision), LLM (Qwen/Qwen2.5-7B-Instruct),
#   ENCODER (clip), EVERY (6), STEPS (20000), DEVICE (auto), MAX_NEW_TOKENS (model default),
#   PYTHON_BIN (.venv/bin).
set -euo pipefail
FRAMES=${1:?usage: reference_pipeline.sh FRAMES_DIR [WORKSPACE]}
WS=${2:-pointdiff-work/reference}
VLM=${VLM:-KamilaMila/FastVLM-0.5B}
LLM=${LLM:-Qwen/Qwen2.5-7B-Instruct}
ENCODER=${ENCODER:-clip}
EVERY=${EVERY:-6}
STEPS=${STEPS:-20000}
DEVICE=${DEVICE:-auto}
BIN=${PYTHON_BIN:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
TOKENS=()
[ -n "${MAX_NEW_TOKENS:-}" ] && TOKENS=(--max-new-tokens "$MAX_NEW_TOKENS")
pd() { "$BIN/pointdiff" "$@"; }

pd ingest "$FRAMES" --every "$EVERY" --workspace "$WS" --overwrite
pd caption --workspace "$WS" --model "$VLM" --device "$DEVICE" "${TOKENS[@]}"
pd summarize --workspace "$WS" --model "$LLM" --encoder "$ENCODER" --device "$DEVICE" "${TOKENS[@]}"
pd embed --workspace "$WS" --encoder "$ENCODER" --device "$DEVICE"
pd train --workspace "$WS" --preset seed --steps "$STEPS" --device "$DEVICE"
pd generate --workspace "$WS" --device "$DEVICE" --out "$WS/outputs/reference.png" \
  "Front-facing, smiling expression" "Left-facing, neutral expression" "Right-facing, happy expression"
