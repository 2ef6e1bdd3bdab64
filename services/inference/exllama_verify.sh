#!/usr/bin/env bash
# GPU verification of the exllamav2 engine, in one run on a CUDA machine:
#   1. install the carried wheels (.whl/) into /tmp/site, no index, no dependencies;
#   2. the exllamav2 CUDA extension: reuse .gpuext/ (chunks from an earlier run) or build it;
#      the built .so goes to $OUT in chunks of 15 MiB so a later run can carry it back;
#   3. a small random-weight Mistral model and the conformance suite against it;
#   4. the 7B-shaped benchmark (random FP16 weights, real Mistral tokenizer).
# Run from the repository root:  OUT=/some/dir bash services/inference/exllama_verify.sh
# Expected on the machine: python3 (3.12) with torch+CUDA, transformers, safetensors,
# tokenizers, sentencepiece, ninja, nvcc, pytest. Every phase is timed and bounded; a failed
# phase after the build does not stop the next one. Results: $OUT/results.json, $OUT/*.log.
set -u -o pipefail
OUT=${OUT:-/tmp/vigie-gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/verify.log") 2>&1
ROOT=$PWD
START=$(date +%s)
SITE=/tmp/site
WORK=/tmp/vigie-gpu
mkdir -p "$SITE" "$WORK"
declare -A STATUS

# Everything inside BUDGET seconds (default 470): each phase gets at most what is left.
DEADLINE=$(( START + ${BUDGET:-470} ))
# (never 0: `timeout 0` would mean no limit at all)
left() {
    local l=$(( DEADLINE - $(date +%s) ))
    [ "$l" -lt 1 ] && l=1
    [ "$l" -lt "$1" ] && echo "$l" || echo "$1"
}
phase() { echo; echo "=== [$(date -u +%H:%M:%S) +$(( $(date +%s) - START ))s] $*"; }
record() { STATUS[$1]=$2; echo "=== phase $1: rc $2"; }

phase "machine"
set -x
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 --version
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
nvcc --version | tail -2 || true
set +x

phase "wheels"
ls -la .whl/
# mistral-common is only a data source (its tokenizer file), not installed.
WHEELS=$(ls .whl/*.whl | grep -v mistral_common)
set -x
python3 -m pip install --no-index --no-deps --quiet --target "$SITE" $WHEELS
rc=$?
set +x
if [ "$rc" != 0 ]; then  # no pip: a wheel is a zip of what goes on the path
    for w in $WHEELS; do unzip -o -q "$w" -d "$SITE"; done
    rc=$?
fi
record wheels $rc
export PYTHONPATH="$SITE:$ROOT"

phase "exllamav2 extension"
export MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0 TORCH_EXTENSIONS_DIR=/tmp/torch_ext
EXT_DIR=$WORK/ext
mkdir -p "$EXT_DIR"
# The CUDA headers of the pip-installed nvidia packages (cuSPARSE, cuBLAS, cuSOLVER) must be
# visible to nvcc next to the toolkit's own.
NV_INC=$(python3 - <<'EOF'
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
print(":".join(sorted({d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "include"))})))
EOF
)
export CPATH="${NV_INC}${CPATH:+:$CPATH}"
if [ -d .gpuext ] && ls .gpuext/exllamav2_ext.so.part-* >/dev/null 2>&1; then
    cat .gpuext/exllamav2_ext.so.part-* > "$EXT_DIR/exllamav2_ext.so"
    echo "reusing the prebuilt extension from .gpuext ($(du -h "$EXT_DIR/exllamav2_ext.so" | cut -f1))"
    export PYTHONPATH="$EXT_DIR:$PYTHONPATH"
fi
rm -f "$TORCH_EXTENSIONS_DIR"/exllamav2_ext/lock  # a killed build leaves it and imports hang
t0=$(date +%s)
set -x
timeout "$(left 400)" python3 -c 'import exllamav2, exllamav2.ext as e; print("exllamav2", exllamav2.__version__, "ext", e.exllamav2_ext.__file__)'
rc=$?
set +x
echo "extension ready in $(( $(date +%s) - t0 )) s (rc $rc)"
record build $rc
SO=$(ls "$TORCH_EXTENSIONS_DIR"/exllamav2_ext/exllamav2_ext*.so 2>/dev/null | head -1)
# SAVE_EXT=1: the .so comes back in chunks (they take 3 of the 8 files a run may return).
if [ -n "$SO" ] && [ "${SAVE_EXT:-0}" = 1 ]; then
    mkdir -p "$OUT/gpuext"
    split -b 15M -d "$SO" "$OUT/gpuext/exllamav2_ext.so.part-"
    ls -la "$OUT/gpuext"
fi
if [ "$rc" != 0 ]; then
    echo "the extension did not build: nothing else can run"
    printf '{"build": %s}\n' "$rc" > "$OUT/results.json"
    exit 1
fi

phase "tokenizer"
# (no unzip on the machine: Python's zipfile reads the wheel)
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], "wb").write(z.read("mistral_common/data/tokenizer.model.v1"))' .whl/mistral_common-*.whl "$WORK/tokenizer.model.v1"
TOKJSON=.whl/mistral-v1-tokenizer.json
ls -la "$WORK/tokenizer.model.v1" "$TOKJSON"

# The 7B-shaped model is written meanwhile (mostly disk): the conformance suite needs little.
BIG=$WORK/mistral7b
( timeout "$(left 240)" python3 -m services.inference.exllama_bench build "$BIG" --tokenizer-json "$TOKJSON" \
    --spm "$WORK/tokenizer.model.v1" > "$OUT/build7b.log" 2>&1; echo $? > "$WORK/build7b.rc" ) &
BUILD7B=$!

phase "small model + conformance suite"
SMALL=$WORK/small
set -x
timeout "$(left 120)" python3 -m services.inference.exllama_bench build "$SMALL" --small --tokenizer-json "$TOKJSON" --spm "$WORK/tokenizer.model.v1"
set +x
export VIGIE_EXL2_MODEL_DIR=$SMALL
# The project's pytest settings stand (warnings are errors, 120 s per test).
set -x
timeout "$(left 200)" python3 -m pytest tests/engine/test_exllama_engine.py -p no:cacheprovider -q -rs \
    2>&1 | tee "$OUT/conformance.log"
rc=${PIPESTATUS[0]}
set +x
record conformance "$rc"
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$(left 200)" -gt 150 ]; then
    phase "conformance again, third-party warnings not errors (tells warnings from failures)"
    timeout "$(left 100)" python3 -m pytest tests/engine/test_exllama_engine.py -p no:cacheprovider -q \
        -W ignore::DeprecationWarning -W ignore::FutureWarning -W ignore::UserWarning \
        -k "not ThroughputMode" 2>&1 | tee "$OUT/conformance-nowarn.log" | tail -30
    record conformance_nowarn "${PIPESTATUS[0]}"
fi

phase "7B-shaped model (written in the background)"
wait "$BUILD7B"
rc=$(cat "$WORK/build7b.rc" 2>/dev/null || echo 1)
cat "$OUT/build7b.log"
record build7b "$rc"

phase "benchmark"
set -x
timeout "$(left 240)" python3 -m services.inference.exllama_bench run "$BIG" --concurrency 1,8,32,64 --prompt 128 --gen 128 \
    --out "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log" | tail -60
rc=${PIPESTATUS[0]}
set +x
record bench "$rc"

phase "summary"
{
    echo "{"
    for k in "${!STATUS[@]}"; do echo "  \"$k\": ${STATUS[$k]},"; done
    echo "  \"seconds\": $(( $(date +%s) - START ))"
    echo "}"
} > "$OUT/results.json"
cat "$OUT/results.json"
ls -la "$OUT"
