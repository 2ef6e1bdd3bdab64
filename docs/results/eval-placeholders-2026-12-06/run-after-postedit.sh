#!/bin/sh
# The "after" side again with the glossary method the dev comparison chose (postedit), same
# limit, under `flock /tmp/vigie-heavy.lock`. Usage: run-after-postedit.sh CODE_DIR OUT_DIR LIMIT LAST_START_EPOCH
set -eu
CODE=$1; OUT=$2; LIMIT=$3; LAST=$4
[ "$(date +%s)" -le "$LAST" ] || { echo "skipped (too late)"; exit 0; }
date -u +"start %FT%TZ"
VIGIE_TASKS__GLOSSARY_METHOD=postedit PYTHONPATH="$CODE" "$CODE/.venv/bin/python" -c \
  'import sys; from services.cli.main import main; sys.exit(main(sys.argv[1:]))' \
  eval --split test --limit "$LIMIT" --out "$OUT/test-after-postedit" > "$OUT/test-after-postedit.log" 2>&1 || echo failed
date -u +"done %FT%TZ"
