#!/usr/bin/env bash
# Install Vigie from a wheelhouse with NO network, then run the demo: a fresh virtual environment
# inside a network namespace that has only loopback (`unshare -rn`: no interface but lo, no
# route, no DNS), `pip install --no-index --find-links DIR --require-hashes -r DIR/requirements.lock`,
# `vigie ops lock-check` (exactly the wheelhouse's set is installed), `vigie up --demo --once`.
# Prints the steps' output, then one JSON line of measurements (`wheelhouse-check: {...}`).
#
# Usage: ops/wheelhouse/check.sh [DIR]          (DIR: default dist/wheelhouse)
# Environment: PYTHON (default python3, the version the wheelhouse serves), WHEELHOUSE_WORK (a
# folder to keep the venv and data in; default a temporary one, removed at the end),
# DEMO_TIMEOUT (seconds, default 900), VIGIE_OPS (a `vigie` with the ops extra, e.g. the dev
# environment's: then the installed product's SBOM is written to DIR/sbom.cdx.json and its
# licences are checked against ops/licences/allow.toml, from outside the namespace).
set -euo pipefail

DIR=$(realpath "${1:-dist/wheelhouse}")
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# The real interpreter behind a shim or a virtual environment: the new venv is made from it.
PY=$("${PYTHON:-python3}" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
[ -f "$DIR/requirements.lock" ] || { echo "no $DIR/requirements.lock: run make wheelhouse" >&2; exit 2; }
command -v unshare >/dev/null && command -v ip >/dev/null \
  || { echo "unshare and ip (util-linux, iproute2) are needed" >&2; exit 2; }
if [ -n "${WHEELHOUSE_WORK:-}" ]; then
  WORK=$(realpath -m "$WHEELHOUSE_WORK"); mkdir -p "$WORK"
else
  WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fi
rm -rf "$WORK/venv" "$WORK/data"

# Nothing of the build machine leaks in: no venv, no pip configuration or cache, no Vigie
# settings, and the working directory is not the repository (whose sources would shadow the
# installed package).
cd "$WORK"
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK" \
  LANG=C.UTF-8 PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  DIR="$DIR" PY="$PY" WORK="$WORK" DEMO_TIMEOUT="${DEMO_TIMEOUT:-900}" \
  unshare -rn bash -euo pipefail -c '
    ip link set lo up
    interfaces=$(ip -o link | awk -F": " "{print \$2}" | paste -sd, -)
    routes=$(ip route | grep -vc "^local\|^broadcast" || true)
    echo "network: interfaces=$interfaces routes=$routes"
    "$PY" -m venv "$WORK/venv"
    start=$(date +%s.%N)
    "$WORK/venv/bin/pip" install --quiet --no-index --find-links "$DIR" --require-hashes \
      -r "$DIR/requirements.lock"
    install_s=$(echo "$(date +%s.%N) - $start" | bc)
    "$WORK/venv/bin/vigie" ops lock-check "$DIR/requirements.lock"
    start=$(date +%s.%N)
    timeout "$DEMO_TIMEOUT" "$WORK/venv/bin/vigie" up --demo --once --data-dir "$WORK/data" \
      > "$WORK/demo.out" 2> "$WORK/demo.err" || { tail -50 "$WORK/demo.err"; exit 1; }
    demo_s=$(echo "$(date +%s.%N) - $start" | bc)
    tail -3 "$WORK/demo.out"
    summary=$(grep -o "vigie: demo: [0-9]* reports enriched.*" "$WORK/demo.out") \
      || { echo "the demo did not enrich every report"; tail -30 "$WORK/demo.err"; exit 1; }
    venv_kb=$(du -sk "$WORK/venv" | cut -f1)
    wheels_kb=$(du -skL "$DIR" | cut -f1)
    printf "wheelhouse-check: {\"interfaces\": \"%s\", \"install_s\": %.1f, \"demo_s\": %.1f, " \
      "$interfaces" "$install_s" "$demo_s"
    printf "\"demo\": \"%s\", \"venv_mb\": %d, \"wheelhouse_mb\": %d, \"python\": \"%s\"}\n" \
      "$summary" "$((venv_kb / 1024))" "$((wheels_kb / 1024))" "$("$PY" -V 2>&1)"
  '

if [ -n "${VIGIE_OPS:-}" ]; then
  # The bill of materials and the licences of exactly what was installed, by the build machine's
  # tools pointed at the installed interpreter (the target needs no SBOM generator).
  (cd "$REPO" && "$VIGIE_OPS" ops sbom --python "$WORK/venv/bin/python" --out "$DIR/sbom.cdx.json")
  (cd "$REPO" && "$VIGIE_OPS" ops licences --quiet --python "$WORK/venv/bin/python" \
    --lock "$DIR/requirements.lock")
fi
