#!/bin/sh
# The full test split through the real pipeline, before and after, one after the other (run
# under `flock /tmp/vigie-heavy.lock`, nothing else running):
#   before: the previous methods, kept selectable (tasks.protect_method=prompt,
#           tasks.glossary_method=prompt, tasks.extract_spans=free);
#   after:  the shipped defaults.
# Usage: run.sh OUT_DIR [INFLIGHT]
set -eu
OUT=$1; INFLIGHT=${2:-16}
date -u +"start %FT%TZ"
VIGIE_TASKS__PROTECT_METHOD=prompt VIGIE_TASKS__GLOSSARY_METHOD=prompt VIGIE_TASKS__EXTRACT_SPANS=free \
  .venv/bin/vigie eval --split test --inflight "$INFLIGHT" --out "$OUT/test-before" > "$OUT/test-before.log" 2>&1 || echo "before failed"
date -u +"before done %FT%TZ"
.venv/bin/vigie eval --split test --inflight "$INFLIGHT" --out "$OUT/test-after" > "$OUT/test-after.log" 2>&1 || echo "after failed"
date -u +"after done %FT%TZ"
