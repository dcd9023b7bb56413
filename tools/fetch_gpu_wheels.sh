#!/usr/bin/env bash
# Gather here, where PyPI and ../shared are reachable, what tools/gpu_session.sh needs on an offline GPU machine whose
# python3 (3.12) already has torch + CUDA, numpy, onnx, onnxruntime, opencv-python-headless, scikit-image, scipy,
# matplotlib, safetensors and tqdm (docs/training.md, "On an offline GPU machine"):
#   .gpu_wheels/  cp312 manylinux x86_64 wheels of the engine's packages that image lacks, at constraints.txt's
#                 versions: OpenImageIO, opencolorio, Fileseq, platformdirs, dlib-bin
#   .gpu_carry/   shared/data: the photos and the real clip the benchmarks read ($LATENTSWAP_SHARED there);
#                 site/face_recognition_models/models: dlib's two model files (identity distance), without the rest
#                 of that 100 MB package; tracks.tar.gz: written by `tools/gpu_session.sh --prepare`
# Left out, to keep the working tree the device tool carries under its 64 MiB: mediapipe (36 MB; the benchmarks
# read the track files made here instead of detecting faces there), diffusers (only the SD-VAE codec and the
# refiner import it), openexr (only benchmarks/io_bench.py). Both folders are git-ignored.
# Usage: tools/fetch_gpu_wheels.sh     (then tools/gpu_session.sh --prepare; it prints the carried size)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
SHARED=${LATENTSWAP_SHARED:-../shared}
PACKAGES=(OpenImageIO opencolorio Fileseq platformdirs dlib-bin)
PHOTOS=(obama obama2 obama3 biden biden2)

mkdir -p .gpu_wheels
for name in "${PACKAGES[@]}"; do
    pin=$(grep -i "^${name}==" constraints.txt | head -1)
    [ -n "$pin" ] || { echo "FAIL: $name is not pinned in constraints.txt" >&2; exit 1; }
    version=${pin#*==}
    # pip's file names: lower case, '-' as '_'
    stem=$(echo "$name" | tr 'A-Z-' 'a-z_')
    if ls .gpu_wheels/"$stem"-"$version"-*.whl >/dev/null 2>&1; then
        continue
    fi
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_28_x86_64 --platform any -d .gpu_wheels "$pin" 2>&1 | grep -v "^WARNING: Location" || true
    ls .gpu_wheels/"$stem"-"$version"-*.whl >/dev/null 2>&1 || { echo "FAIL: no cp312 wheel of $pin" >&2; exit 1; }
done
# one version of each: two would stop the install there
for name in "${PACKAGES[@]}"; do
    stem=$(echo "$name" | tr 'A-Z-' 'a-z_')
    count=$(find .gpu_wheels -maxdepth 1 -iname "${stem}-*.whl" | wc -l)
    [ "$count" = 1 ] || { echo "FAIL: $count wheels of $name in .gpu_wheels: keep the pinned one" >&2; exit 1; }
done

mkdir -p .gpu_carry/shared/data/faces .gpu_carry/shared/data/video .gpu_carry/site/face_recognition_models/models
for photo in "${PHOTOS[@]}"; do
    cp -p "$SHARED/data/faces/$photo.jpg" .gpu_carry/shared/data/faces/
done
cp -p "$SHARED/data/faces/SOURCES.md" .gpu_carry/shared/data/faces/
cp -p "$SHARED/data/video/short_hamilton_clip.mp4" "$SHARED/data/video/SOURCES.md" .gpu_carry/shared/data/video/
models=$("$PYTHON" -c "from latentswap_core.identity.dlib_descriptor import default_models_folder as f; print(f())")
cp -p "$models/shape_predictor_5_face_landmarks.dat" "$models/dlib_face_recognition_resnet_model_v1.dat" \
    .gpu_carry/site/face_recognition_models/models/
# a regular package (dlib_descriptor finds the files by the package's path; nothing imports it)
echo '"""dlib'"'"'s two model files of face_recognition_models, carried without the rest of that package."""' \
    >.gpu_carry/site/face_recognition_models/__init__.py

du -b .gpu_wheels/*.whl | awk '{printf "%8.1f MB  %s\n", $1 / 1e6, $2}'
tools/gpu_session.sh --size
