#!/usr/bin/env bash
# What the wheelhouse's CPU baseline costs: llama.cpp decode speed of two builds of
# llama-cpp-python — the wheelhouse's (a stated baseline) and a native one — on this machine, in
# the same run, alternating so that drift in a shared machine's load hits both alike.
# Each round runs `python -m services.inference.bench sweep` (the engine alone, default model,
# every core) in each interpreter, and records the CPU features each build was compiled with.
#
# Usage: ops/wheelhouse/compare_cpu.sh BASELINE_PY NATIVE_PY OUT.json [ROUNDS] [DATA_DIR]
#   BASELINE_PY: a python with Vigie installed from the wheelhouse (check.sh, WHEELHOUSE_WORK)
#   NATIVE_PY:   a python whose llama-cpp-python was compiled natively (`make demo` builds one)
# Environment: SWEEP (arguments of the sweep; default "--concurrency 1,4,16").
set -euo pipefail
base=$(realpath -s "$1") native=$(realpath -s "$2") out=$(realpath -m "$3")  # -s: a venv python is a symlink
rounds=${4:-3} data=$(realpath "${5:-.vigie}")
read -r -a sweep <<< "${SWEEP:---concurrency 1,4,16}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"   # not the repository: each interpreter imports its own installed Vigie
for round in $(seq "$rounds"); do
  for build in baseline native; do
    py=$base; [ "$build" = native ] && py=$native
    echo "round $round: $build ($py) load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    "$py" -m services.inference.bench sweep "${sweep[@]}" --data-dir "$data" \
      --out "$work/$build-$round.json" > /dev/null
  done
done
for build in baseline native; do
  py=$base; [ "$build" = native ] && py=$native
  "$py" -c 'import llama_cpp; print(llama_cpp.llama_print_system_info().decode())' \
    > "$work/$build.features" 2> /dev/null
done
python3 - "$work" "$out" "$rounds" "${sweep[*]}" <<'PY'
import glob, json, os, platform, statistics, sys
work, out, rounds, sweep = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
result = {"command": f"ops/wheelhouse/compare_cpu.sh (sweep {sweep}, {rounds} rounds)",
          "machine": {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                   if l.startswith("model name")), "?"),
                      "cpus": os.cpu_count(), "platform": platform.platform()},
          "builds": {}}
for build in ("baseline", "native"):
    runs = [json.load(open(p)) for p in sorted(glob.glob(f"{work}/{build}-*.json"))]
    features = open(f"{work}/{build}.features").read().strip()
    median = {}
    for row in (r for run in runs for r in run["sweep"]):
        median.setdefault(row["concurrency"], []).append(row["s_tg"])
    median = {c: statistics.median(v) for c, v in sorted(median.items())}
    result["builds"][build] = {"features": features, "median_s_tg": median, "runs": runs}
base, native = (result["builds"][b]["median_s_tg"] for b in ("baseline", "native"))
result["baseline_over_native"] = {c: round(base[c] / native[c], 3) for c in base if native.get(c)}
json.dump(result, open(out, "w"), indent=2)
print(json.dumps({b: result["builds"][b]["median_s_tg"] for b in result["builds"]}))
print(json.dumps({"baseline_over_native": result["baseline_over_native"]}))
PY
