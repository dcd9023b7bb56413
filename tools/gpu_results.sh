#!/usr/bin/env bash
# Back here after tools/gpu_session.sh ran on an offline GPU machine: the self-reconstruction's swap and `eval` on the
# model the GPU trained (they need the face detector and dlib, which stay here), and the three benchmarks' tables.
# Usage: tools/gpu_results.sh FOLDER    (FOLDER: where the device tool put the session's files, its files_at)
set -euo pipefail
cd "$(dirname "$0")/.."
FOLDER=${1:?usage: tools/gpu_results.sh FOLDER (the GPU session files)}
PY=${PYTHON:-.venv/bin/python}
WORK=${WORK:-benchmarks/out/real_quality_gpu}

for name in session swap_speed train_speed; do
    [ -f "$FOLDER/$name.log" ] && { echo "=== $name.log"; cat "$FOLDER/$name.log"; echo; }
done
[ -f "$FOLDER/real_quality_models.tar.gz" ] || { echo "no real_quality_models.tar.gz in $FOLDER" >&2; exit 1; }
mkdir -p "$WORK"
tar -xzf "$FOLDER/real_quality_models.tar.gz" -C "$WORK"
minutes=$(grep -o '"minutes": [0-9.]*' "$FOLDER/real_quality.log" | head -1 | cut -d' ' -f2)
echo "=== real_quality: swap and eval here of the model trained on $(cat "$WORK"/model-self-default-256/benchmark_trained_on.txt)"
LATENTSWAP_SHARED=${LATENTSWAP_SHARED:-$PWD/.gpu_carry/shared} "$PY" benchmarks/real_quality.py --device cpu \
    --cases self --resolutions 256 --minutes "${minutes:-5}" --tracks .gpu_tracks --work "$WORK"
