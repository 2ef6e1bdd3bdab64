#!/bin/sh
# The full test split through the real pipeline, before and after (run under
# `flock /tmp/vigie-heavy.lock`, nothing else running):
#   before: the previous methods, kept selectable (tasks.protect_method=prompt,
#           tasks.glossary_method=prompt, tasks.extract_spans=free, every entity type asked of
#           the model);
#   after:  the shipped defaults.
# Usage: run.sh OUT_DIR [INFLIGHT] [before|after|both]
set -eu
OUT=$1; INFLIGHT=${2:-16}; WHICH=${3:-both}
ALL=DateTime,Location,Unit,Person,Organisation,MilitaryPlatform,Weapon,Quantity,CommsIdentifier,Nationality
date -u +"start %FT%TZ"
if [ "$WHICH" != after ]; then
  VIGIE_TASKS__PROTECT_METHOD=prompt VIGIE_TASKS__GLOSSARY_METHOD=prompt \
    VIGIE_TASKS__EXTRACT_SPANS=free VIGIE_TASKS__EXTRACT_MODEL_TYPES=$ALL \
    .venv/bin/vigie eval --split test --inflight "$INFLIGHT" --out "$OUT/test-before" \
    > "$OUT/test-before.log" 2>&1 || echo "before failed"
  date -u +"before done %FT%TZ"
fi
if [ "$WHICH" != before ]; then
  .venv/bin/vigie eval --split test --inflight "$INFLIGHT" --out "$OUT/test-after" \
    > "$OUT/test-after.log" 2>&1 || echo "after failed"
  date -u +"after done %FT%TZ"
fi
