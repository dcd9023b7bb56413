#!/usr/bin/env bash
# Every GPU figure issues 17, 18 and 19 ask for, in one command on an offline GPU machine (the device tool's `run`,
# from the repository root, with .gpu_wheels and .gpu_carry carried; docs/training.md, "On an offline GPU machine").
#
#   tools/gpu_session.sh            there: install the carried cp312 wheels into a --target folder, then, within
#                                   $GPU_SESSION_SECONDS (default 570 s) and each part under its own timeout:
#     1. real_quality.py --device cuda --cases self --resolutions 256 --minutes 5 --train-only   (issue 17)
#        (meanwhile, on the CPU: train_speed's facesets); its model goes to $OUT as soon as it is trained
#     2. swap_speed.py --device cuda --layers face,all, 1080p and 4K, 256 and 512 px, torch      (issue 19)
#     3. train_speed.py --device cuda --budget <what is left>                                    (issue 18)
#   tools/gpu_session.sh --prepare  here: the track files the benchmarks reuse there (needs mediapipe: the .venv),
#                                   kept in .gpu_tracks and packed into .gpu_carry/tracks.tar.gz
#   tools/gpu_session.sh --dry-run  here: the same steps on the CPU with tiny budgets; the wheels installed and
#                                   imported with a Python 3.12 if there is one; mediapipe and diffusers blocked
#   tools/gpu_session.sh --size     the size the device tool would carry (tree + .gpu_wheels + .gpu_carry)
#
# Results land in $OUT (the device tool's; here benchmarks/out/gpu_session): session.log, real_quality.log,
# real_quality_models.tar.gz, swap_speed.log, train_speed.log, train_speed.jsonl (one JSON line per row as it
# finishes): 6 files. Each part writes its own as it goes, so a part stopped by its timeout keeps what it printed.
# Back here, the self-reconstruction's figures need the face detector and dlib: tools/gpu_results.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODE=${1:-gpu}
LIMIT=${GPU_SESSION_SECONDS:-570}
START=$(date +%s)
WORK=${GPU_SESSION_WORK:-${TMPDIR:-/tmp}/latentswap_gpu_session}
TRACKS=$REPO/.gpu_tracks  # here; they travel compressed, as .gpu_carry/tracks.tar.gz (the clip's alone is 3.9 MB)
MIB=$((1024 * 1024))

elapsed() { echo $(($(date +%s) - START)); }
left() { echo $((LIMIT - $(elapsed))); }

carried_size() {  # bytes: tracked and untracked-not-ignored files, and the carried folders
    local tree carried
    tree=$(git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
    carried=$(du -sb .gpu_wheels .gpu_carry 2>/dev/null | awk '{s += $1} END {print s + 0}')
    echo $((tree + carried))
}

if [ "$MODE" = "--size" ]; then
    size=$(carried_size)
    du -sb .gpu_wheels .gpu_carry 2>/dev/null | awk '{printf "%8.1f MB  %s\n", $1 / 1e6, $2}'
    echo "carried in all (tree + .gpu_wheels + .gpu_carry): $((size / 1000)) kB = $(awk "BEGIN {printf \"%.1f\", $size / $MIB}") MiB of 64 MiB"
    [ "$size" -lt $((64 * MIB)) ] || { echo "FAIL: over the device tool's 64 MiB" >&2; exit 1; }
    exit 0
fi

if [ "$MODE" = "--prepare" ]; then  # here, with the project's .venv (mediapipe): the same shots as the GPU run
    set -e
    PY=${PYTHON:-.venv/bin/python}
    export LATENTSWAP_SHARED=$REPO/.gpu_carry/shared
    mkdir -p "$TRACKS"
    [ -f "$TRACKS/real_quality_clip.track.json" ] ||
        "$PY" -m latentswap_core track "$LATENTSWAP_SHARED/data/video/short_hamilton_clip.mp4" \
            -o "$TRACKS/real_quality_clip.track.json"
    "$PY" benchmarks/swap_speed.py --prepare-only --tracks "$TRACKS" --frames 8 --plates 1920x1080,3840x2160
    "$PY" benchmarks/train_speed.py --prepare-only --tracks "$TRACKS" --device cpu
    "$PY" benchmarks/train_speed.py --prepare-only --tracks "$TRACKS" --device cpu --quick  # for --dry-run
    tar -czf .gpu_carry/tracks.tar.gz -C "$TRACKS" .
    tools/gpu_session.sh --size
    exit 0
fi

if [ "$MODE" = "--dry-run" ]; then
    OUT=${OUT:-$REPO/benchmarks/out/gpu_session}
    DEVICE=cpu
    PY=${PYTHON:-$REPO/.venv/bin/python}
else
    [ "$MODE" = "gpu" ] || { echo "usage: tools/gpu_session.sh [--prepare | --dry-run | --size]" >&2; exit 2; }
    OUT=${OUT:-$REPO/benchmarks/out/gpu_session}
    DEVICE=cuda
    PY=${PYTHON:-python3}
fi
mkdir -p "$OUT" "$WORK"
log() { echo "[$(elapsed) s] $*" | tee -a "$OUT/session.log"; }

# run NAME SECONDS COMMAND...: the command under its timeout (TERM, then KILL 15 s later), output in $OUT/NAME.log
run() {
    local name=$1 seconds=$2 code
    shift 2
    if [ "$seconds" -lt 20 ]; then
        log "$name: skipped, $seconds s left"
        return 0
    fi
    log "$name: start, $seconds s at most: $*"
    timeout -k 15 "$seconds" "$@" >"$OUT/$name.log" 2>&1
    code=$?
    log "$name: exit $code$([ $code = 124 ] && echo ' (its timeout)')"
    tail -n 30 "$OUT/$name.log"
    return 0
}

# --- the packages: the carried wheels in a folder of their own on PYTHONPATH ------------------------------------
log "mode $MODE, $LIMIT s, work in $WORK, results in $OUT"
SITE=$WORK/site
if [ "$MODE" = "--dry-run" ]; then
    # the wheels are cp312: install and import them with a Python 3.12 when there is one (numpy for OpenImageIO)
    PY312=
    for candidate in "$HOME"/.pyenv/versions/3.12*/bin/python3.12 $(command -v python3.12); do
        "$candidate" -c "" 2>/dev/null && { PY312=$candidate; break; }  # (pyenv's shim fails where 3.12 is not set)
    done
    if [ -n "$PY312" ]; then
        rm -rf "$SITE" && "$PY312" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
            .gpu_wheels/*.whl && log "installed $(ls .gpu_wheels | wc -l) wheels with $PY312"
        [ -d "$WORK/numpy312" ] || "$PY312" -m pip install -q --only-binary=:all: --target "$WORK/numpy312" numpy
        PYTHONPATH=$SITE:$WORK/numpy312:$REPO/.gpu_carry/site "$PY312" -c "
import OpenImageIO, PyOpenColorIO, fileseq, platformdirs, dlib
from latentswap_core.identity.dlib_descriptor import default_models_folder
print('imports under', __import__('sys').version.split()[0], ': OpenImageIO', OpenImageIO.VERSION_STRING,
      '| OpenColorIO', PyOpenColorIO.__version__, '| dlib', dlib.__version__, '| dlib models in', default_models_folder())
" 2>&1 | tee -a "$OUT/session.log"
    else
        log "no Python 3.12 here: the wheels are not install-checked"
    fi
    # the benchmarks run with the project's .venv (3.11, its own packages), blind to what the GPU machine lacks
    BLOCKED=$WORK/blocked
    for name in mediapipe diffusers; do
        mkdir -p "$BLOCKED/$name"
        echo "raise ImportError('$name is not on the GPU machine: this code path must not need it')" \
            >"$BLOCKED/$name/__init__.py"
    done
    export PYTHONPATH=$BLOCKED:$REPO/.gpu_carry/site:$REPO
else
    rm -rf "$SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" .gpu_wheels/*.whl ||
        { log "FAIL: installing .gpu_wheels (carry .gpu_wheels and .gpu_carry)"; exit 1; }
    export PYTHONPATH=$SITE:$REPO/.gpu_carry/site:$REPO
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$OUT/session.log"
fi
export LATENTSWAP_SHARED=$REPO/.gpu_carry/shared PYTHONUNBUFFERED=1
TRACKS=$WORK/tracks
rm -rf "$TRACKS" && mkdir -p "$TRACKS" && tar -xzf .gpu_carry/tracks.tar.gz -C "$TRACKS" ||
    log "WARNING: no .gpu_carry/tracks.tar.gz: run tools/gpu_session.sh --prepare here first"
"$PY" -c "
import torch, OpenImageIO, PyOpenColorIO, fileseq, dlib, onnxruntime, latentswap_core
print('python', __import__('sys').version.split()[0], '| torch', torch.__version__, '| CUDA', torch.version.cuda,
      '| GPU', torch.cuda.get_device_name() if torch.cuda.is_available() else 'none', '| onnxruntime',
      onnxruntime.__version__, onnxruntime.get_available_providers())
" 2>&1 | tee -a "$OUT/session.log"
for file in real_quality_clip.track.json train_speed_src_24.track.json swap_speed_3840x2160_8.track.json; do
    [ -f "$TRACKS/$file" ] || log "WARNING: $file is not in .gpu_carry/tracks.tar.gz: run tools/gpu_session.sh --prepare here first"
done

# --- 1. issue 17: 5 minutes of training at 256 px (train_speed's facesets built on the CPU meanwhile) -----------
# train_speed gets what is left, about two minutes: 512 and 1024 px first, shorter timed windows than its own run
if [ "$DEVICE" = cuda ]; then
    MINUTES=5 TS=(--sizes 512,1024,256 --steps 16 --timed-seconds 1.5) SS=(--plates 1920x1080,3840x2160) SS_CAP=130
else  # the CPU's parts take far longer than the GPU's: swap_speed gets what it needs to finish
    MINUTES=0.2 TS=(--quick --sizes 256 --presets small --minutes 0.1) SS=(--plates 1920x1080 --model-repeats 1)
    SS_CAP=1200
fi
rm -rf "$WORK/real_quality" "$WORK/train_speed_data"
"$PY" benchmarks/train_speed.py --prepare-only --device "$DEVICE" --tracks "$TRACKS" --data "$WORK/train_speed_data" \
    "${TS[@]}" >"$WORK/train_speed_prepare.log" 2>&1 &
PREPARE=$!
run real_quality $(( $(left) - 200 < 370 ? $(left) - 200 : 370 )) \
    "$PY" benchmarks/real_quality.py --device "$DEVICE" --cases self --resolutions 256 --minutes "$MINUTES" \
    --train-only --tracks "$TRACKS" --work "$WORK/real_quality"
if [ -d "$WORK/real_quality/model-self-default-256/model" ]; then
    tar -czf "$OUT/real_quality_models.tar.gz" -C "$WORK/real_quality" --exclude cache --exclude trainer_state.safetensors \
        --exclude previews model-self-default-256 && log "model: $(du -h "$OUT/real_quality_models.tar.gz" | cut -f1)"
fi
wait $PREPARE || log "train_speed's facesets: failed"
log "train_speed's facesets, built meanwhile: $(tail -n 2 "$WORK/train_speed_prepare.log" | tr '\n' ' ')"

# --- 2. issue 19: the swap at plate speed --------------------------------------------------------------------
run swap_speed $(( $(left) - 90 < SS_CAP ? $(left) - 90 : SS_CAP )) \
    "$PY" benchmarks/swap_speed.py --device "$DEVICE" --layers face,all --frames 8 --repeats 1 --backends torch \
    --model-repeats 3 \
    --tracks "$TRACKS" "${SS[@]}"

# --- 3. issue 18: the step table and time to quality at 512 px, in what is left ---------------------------------
run train_speed $(( $(left) - 5 )) \
    "$PY" benchmarks/train_speed.py --device "$DEVICE" --budget $(( $(left) - 25 )) --tracks "$TRACKS" \
    --data "$WORK/train_speed_data" --json "$OUT/train_speed.jsonl" "${TS[@]}"
log "done in $(elapsed) s"
