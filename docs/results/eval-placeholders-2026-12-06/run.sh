#!/bin/sh
# The measurements of docs/BENCHMARKS.md "Correct by construction", run under
# `flock /tmp/vigie-heavy.lock`, one after the other in the same lock:
#   1. test split, before: every method as it was (tasks.protect_method=prompt,
#      tasks.glossary_method=prompt, tasks.extract_spans=free);
#   2. test split, after: the defaults (placeholders, source spans) with glossary_method=$AFTER_GLOSSARY;
#   3. the glossary methods compared on the dev split (translate only), each alternative.
# The lock is shared: the before/after pair starts only before PAIR_LAST_EPOCH (both or none),
# a glossary run only before LAST_EPOCH — a run that cannot finish in time is not started.
# Usage: run.sh CODE_DIR OUT_DIR DEV_LIMIT TEST_LIMIT AFTER_GLOSSARY [PAIR_LAST_EPOCH [LAST_EPOCH]]
set -eu
CODE=$1; OUT=$2; DEV_LIMIT=$3; TEST_LIMIT=$4; AFTER_GLOSSARY=$5
PAIR_LAST=${6:-99999999999}; LAST=${7:-99999999999}
PY="$CODE/.venv/bin/python"
vigie() { PYTHONPATH="$CODE" "$PY" -c 'import sys; from services.cli.main import main; sys.exit(main(sys.argv[1:]))' "$@"; }
late() { if [ "$(date +%s)" -gt "${2:-$LAST}" ]; then echo "skipped (too late): $1"; return 0; fi; return 1; }
date -u +"start %FT%TZ"
PAIR=yes; late "before and after" "$PAIR_LAST" && PAIR=no
[ "$PAIR" = no ] || VIGIE_TASKS__PROTECT_METHOD=prompt VIGIE_TASKS__GLOSSARY_METHOD=prompt VIGIE_TASKS__EXTRACT_SPANS=free \
  vigie eval --split test --limit "$TEST_LIMIT" --out "$OUT/test-before" > "$OUT/test-before.log" 2>&1 || echo "before failed"
date -u +"before done %FT%TZ"
[ "$PAIR" = no ] || VIGIE_TASKS__GLOSSARY_METHOD=$AFTER_GLOSSARY \
  vigie eval --split test --limit "$TEST_LIMIT" --out "$OUT/test-after" > "$OUT/test-after.log" 2>&1 || echo "after failed"
date -u +"after done %FT%TZ"
for m in prompt placeholders postedit annotate; do
  late "glossary $m" && continue
  VIGIE_TASKS__GLOSSARY_METHOD=$m vigie eval --split dev --limit "$DEV_LIMIT" --tasks translate \
    --out "$OUT/glossary-dev-$m" > "$OUT/glossary-dev-$m.log" 2>&1 || echo "glossary $m failed"
  date -u +"glossary $m done %FT%TZ"
done
