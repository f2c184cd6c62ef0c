#!/usr/bin/env bash
# The recipe experiments behind docs/recipes.md, on the built-in faces: each row trains one
# recipe and runs `pointdiff eval` (prompt accuracy by kind of prompt, 1-NNA). Every row is a
# plain CLI run, so any one can be rerun alone. ~45 min on 2 CPU cores for all of them; run
# nothing else meanwhile if you read the train times.
#
#   benchmarks/recipe_sweep.sh [WORKDIR]          # default WORKDIR: /tmp/pointdiff-sweep
#   ROWS="c5-default-9000" benchmarks/recipe_sweep.sh   # just some rows
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PYTHON_BIN:-.venv/bin}
W=${1:-/tmp/pointdiff-sweep}
pd() { "$BIN/pointdiff" "$@"; }

# Two copies of the same 600 faces (seed 0): one caption each, and five.
for k in 1 5; do
  if [ ! -f "$W/c$k/dataset/embeddings.safetensors" ]; then
    pd ingest builtin:faces --count 600 --seed 0 --captions "$k" --workspace "$W/c$k" --overwrite --contact-sheet 0
    pd embed --workspace "$W/c$k"
  fi
done

declare -A RECIPE=(
  [c1-default-3000]="c1 --steps 3000"
  [c5-default-3000]="c5 --steps 3000"
  [c5-default-9000]="c5 --steps 9000"
  [c5-default-8000]="c5"
)
for row in ${ROWS:-c1-default-3000 c5-default-3000 c5-default-9000 c5-default-8000}; do
  set -- ${RECIPE[$row]}
  ws="$W/$1"; shift
  echo "== $row: pointdiff train $*"
  pd train --workspace "$ws" --name "$row" "$@" 2>&1 | grep -E "^trained"
  pd eval --workspace "$ws" "$ws/runs/$row" 2>&1 | grep -E "1-NNA|training captions|canonical|held-out paraphrases|grid:"
done
