#!/bin/sh
# The measurements of docs/BENCHMARKS.md "Correct by construction" (run under
# `flock /tmp/vigie-heavy.lock`): the glossary methods compared on the dev split (translate
# only), then the test split before (every method as it was: protect_method=prompt,
# glossary_method=prompt, extract_spans=free) and after (the defaults, with the glossary method
# the dev comparison chose), one after the other in the same lock.
# Usage: run.sh CODE_DIR OUT_DIR DEV_LIMIT TEST_LIMIT
set -eu
CODE=$1; OUT=$2; DEV_LIMIT=$3; TEST_LIMIT=$4
PY="$CODE/.venv/bin/python"
vigie() { PYTHONPATH="$CODE" "$PY" -c 'import sys; from services.cli.main import main; sys.exit(main(sys.argv[1:]))' "$@"; }
date -u +"start %FT%TZ"
for m in prompt annotate postedit placeholders; do
  VIGIE_TASKS__GLOSSARY_METHOD=$m vigie eval --split dev --limit "$DEV_LIMIT" --tasks translate \
    --out "$OUT/glossary-dev-$m" > "$OUT/glossary-dev-$m.log" 2>&1 || echo "glossary $m failed"
  date -u +"glossary $m done %FT%TZ"
done
BEST=$("$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
rows = {}
for m in ("prompt", "annotate", "postedit", "placeholders"):
    try:
        t = json.load(open(f"{out}/glossary-dev-{m}/eval.json"))["figures"]["translation"]
        rows[m] = (t["term_success_rate"], t["chrf"]["score"] if t.get("chrf") else 0.0)
    except (OSError, KeyError) as exc:
        print(f"{m}: {exc}", file=sys.stderr)
# The highest term success among the methods whose chrF is not below the prompt method's.
base = rows.get("prompt", (0.0, 0.0))[1]
ok = {m: r for m, r in rows.items() if r[1] >= base} or rows
print(max(ok, key=lambda m: (ok[m][0], ok[m][1])))
PYEOF
)
echo "glossary method chosen: $BEST"
echo "$BEST" > "$OUT/glossary-method-chosen.txt"
VIGIE_TASKS__PROTECT_METHOD=prompt VIGIE_TASKS__GLOSSARY_METHOD=prompt VIGIE_TASKS__EXTRACT_SPANS=free \
  vigie eval --split test --limit "$TEST_LIMIT" --out "$OUT/test-before" > "$OUT/test-before.log" 2>&1 || echo "before failed"
date -u +"before done %FT%TZ"
VIGIE_TASKS__GLOSSARY_METHOD=$BEST \
  vigie eval --split test --limit "$TEST_LIMIT" --out "$OUT/test-after" > "$OUT/test-after.log" 2>&1 || echo "after failed"
date -u +"after done %FT%TZ"
