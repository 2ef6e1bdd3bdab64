#!/bin/sh
# The entity types the model is asked for, on the dev split (extract only), one after the other
# (run under `flock /tmp/vigie-heavy.lock`, nothing else running):
#   all:      every entity type;
#   default:  tasks.extract_model_types as shipped (Location, MilitaryPlatform).
# Usage: run.sh OUT_DIR [INFLIGHT]
set -eu
OUT=$1; INFLIGHT=${2:-16}
ALL=DateTime,Location,Unit,Person,Organisation,MilitaryPlatform,Weapon,Quantity,CommsIdentifier,Nationality
date -u +"start %FT%TZ"
VIGIE_TASKS__EXTRACT_MODEL_TYPES=$ALL .venv/bin/vigie eval --split dev --tasks extract \
  --inflight "$INFLIGHT" --out "$OUT/all" > "$OUT/all.log" 2>&1 || echo "all failed"
date -u +"all done %FT%TZ"
.venv/bin/vigie eval --split dev --tasks extract --inflight "$INFLIGHT" --out "$OUT/default" \
  > "$OUT/default.log" 2>&1 || echo "default failed"
date -u +"default done %FT%TZ"
