#!/bin/sh
# The four glossary methods on the whole dev split, translate only, one after the other (run
# under `flock /tmp/vigie-heavy.lock`, nothing else running), then side by side.
# Usage: run.sh OUT_DIR [INFLIGHT]
set -eu
OUT=$1; INFLIGHT=${2:-16}
for m in prompt annotate postedit placeholders; do
  date -u +"$m start %FT%TZ"
  VIGIE_TASKS__GLOSSARY_METHOD=$m .venv/bin/vigie eval --split dev --tasks translate \
    --inflight "$INFLIGHT" --out "$OUT/$m" > "$OUT/$m.log" 2>&1 || echo "$m failed"
done
.venv/bin/vigie eval --compare "$OUT/prompt" "$OUT/annotate" "$OUT/postedit" "$OUT/placeholders" \
  --out "$OUT" > /dev/null
date -u +"done %FT%TZ"
