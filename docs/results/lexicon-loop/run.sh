#!/usr/bin/env bash
# The lexicon loop, end to end, as measured in docs/BENCHMARKS.md ("Teaching it the lexicon").
# Run from the repository root, under the heavy-run lock:
#   flock /tmp/vigie-heavy.lock docs/results/lexicon-loop/run.sh
# Needs the training extra (ops/lock/train.txt). Figures land beside this script.
set -euo pipefail
OUT=docs/results/lexicon-loop
W=${LOOP_WORK:-/tmp/vigie-lexicon-loop}
STEPS=${LOOP_STEPS:-400}
MINUTES=${LOOP_MINUTES:-12}
EVAL_IDS=${LOOP_EVAL_IDS:?a comma-separated list of test-split gold ids, labels dr or s}
export PATH="$PWD/.venv/bin:$PATH"
rm -rf "$W" && mkdir -p "$W"
export VIGIE_NATS__DATA_DIR="$W/data" VIGIE_INFERENCE__MODELS_FILE="$W/models.toml"
cp ops/models.toml "$W/models.toml"
vigie models --no-install >/dev/null 2>&1 || vigie models   # writes the default model once
PORT=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="nats://127.0.0.1:$PORT"

# 1. The pipeline enriches three new reports; an analyst corrects them through `vigie feedback`.
vigie up --port "$PORT" >"$W/up.log" 2>&1 & UP=$!
trap 'kill $UP 2>/dev/null || true' EXIT
for i in $(seq 60); do vigie status --nats "$URL" >/dev/null 2>&1 && break; sleep 2; done
for lang in en ru uk; do
  vigie publish --nats "$URL" --subject feeds.dr.report.loop --id "loop-$lang" \
    --language "$lang" --content-type text "$OUT/reports/loop-$lang.txt"
done
python "$OUT/corrections.py" "$URL" "$W"
vigie dataset export --nats "$URL" --label np --label dr --mix-labels --include-gold dev \
  --out "$W/train.jsonl" | tee "$OUT/dataset.txt"
head -1 "$W/train.jsonl" > "$OUT/dataset-header.json"
kill $UP; wait $UP 2>/dev/null || true; trap - EXIT

# 2. The fine-tune, bounded in steps and in minutes.
/usr/bin/time -v vigie finetune --model gemma3-270m --data "$W/train.jsonl" \
  --out gemma3-270m-lexicon --steps "$STEPS" --max-minutes "$MINUTES" --threads 2 \
  --lr 5e-4 --max-tokens 768 \
  --report "$OUT/finetune.json" 2> "$OUT/finetune.log"
vigie models --json > "$OUT/models.json"

# 3. Serving throughput, base and adapter, same run (alternated).
python -m services.finetune.serving_bench --adapter gemma3-270m-lexicon --requests 6 \
  --concurrency 3 --gen-tokens 32 --rounds 2 --out "$OUT/serving.json"

# 4. Quality on held-out test reports: base, then adapter, same reports.
vigie eval --split test --ids "$EVAL_IDS" --out "$OUT/eval-base"
vigie eval --split test --ids "$EVAL_IDS" --adapter gemma3-270m-lexicon --out "$OUT/eval-adapter"
