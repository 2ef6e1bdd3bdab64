"""Build the wheelhouse: every wheel Vigie needs, to install on a machine with no network.

Usage (``make wheelhouse`` runs it with the dev environment's interpreter)::

    python ops/wheelhouse/build.py [--lock ops/lock/runtime.txt] [--out dist/wheelhouse]
                                   [--cpu x86-64-v3|native] [--rebuild]

1. Every pin of the lock that applies to this interpreter is fetched with ``pip wheel
   --require-hashes``: a published wheel is downloaded and checked against the lock's hashes; a
   package published only as an sdist is downloaded, checked against the lock's hash, and built
   here with the locked build backends (``--no-build-isolation``).
2. llama-cpp-python is compiled for a STATED CPU baseline (``--cpu``, default x86-64-v3: see
   BASELINES), never for this build machine's own processor, so that one wheelhouse serves a
   fleet. The wheel is kept in ``dist/wheelhouse-cache/`` and reused while the baseline and the
   pin are unchanged (``--rebuild`` compiles again).
3. The project's own wheel.
4. ``requirements.lock``: every wheel of the folder, at its exact version with the sha256 of the
   file itself (a built wheel's hash is not the sdist's hash of ops/lock/runtime.txt), and
   ``MANIFEST.json`` + ``README.md``: the Python, platform, glibc and CPU the wheelhouse serves,
   which wheels were built here, and how to install it::

       pip install --no-index --find-links DIR --require-hashes -r DIR/requirements.lock
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from services.cli.lockcheck import normalise, pins
from services.security.sbom import sha256_file

ROOT = Path(__file__).resolve().parents[2]
LLAMA = "llama-cpp-python"
#: CPU baselines: what the compiled engine may assume of the processor, as CMake arguments of
#: llama.cpp (ggml) and compiler flags. ``x86-64-v3`` (AVX2, FMA, F16C, BMI1/2, LZCNT, MOVBE on
#: top of x86-64-v2's SSE4.2, SSSE3, POPCNT): every x86-64 server CPU since Intel Haswell (2013)
#: and AMD Zen (2017); no AVX-512. ``x86-64-v2``: older or low-power processors (no AVX).
BASELINES = {
    "x86-64-v3": (
        "x86-64-v3: SSE4.2, AVX, AVX2, FMA, F16C, BMI1, BMI2 (no AVX-512, no AVX-VNNI, no AMX)",
        "-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON "
        "-DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF "
        "-DCMAKE_C_FLAGS=-march=x86-64-v3 -DCMAKE_CXX_FLAGS=-march=x86-64-v3",
    ),
    "x86-64-v2": (
        "x86-64-v2: SSE4.2, SSSE3, POPCNT (no AVX)",
        "-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF "
        "-DGGML_F16C=OFF -DGGML_BMI2=OFF -DGGML_AVX512=OFF "
        "-DCMAKE_C_FLAGS=-march=x86-64-v2 -DCMAKE_CXX_FLAGS=-march=x86-64-v2",
    ),
    "native": (
        "native: every instruction set of the BUILD machine (serves only identical CPUs)",
        "-DGGML_NATIVE=ON",
    ),
}
_WHEEL = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?-(?P<py>[^-]+)-(?P<abi>[^-]+)"
    r"-(?P<plat>[^-]+)\.whl$"
)
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def blocks(lock_text: str) -> dict[str, str]:
    """Normalised name → the lock's lines for that package (a pin and its hashes, markers
    kept); a package pinned twice under different markers keeps both pins."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lock_text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            name = normalise(re.split(r"[=\[ ;]", line, maxsplit=1)[0])
            current = found.setdefault(name, [])
            current.append(line)
        elif current is not None and line.strip().startswith("--hash"):
            current.append(line)
    return {name: "\n".join(lines) + "\n" for name, lines in found.items()}


def merge_locks(texts: list[str]) -> str:
    """One lock of the runtime lock and the optional extras' own locks (``--extra-lock``): a
    package several of them pin must be pinned identically (an extra's lock is resolved
    against the dev lock, so it is), and is kept once."""
    merged: dict[str, str] = {}
    for text in texts:
        for name, block in blocks(text).items():
            if name in merged and merged[name] != block:
                raise SystemExit(
                    f"{name} is pinned differently by two locks: `make lock` resolves them together"
                )
            merged.setdefault(name, block)
    return "".join(merged.values())


def lock_hashes(block: str) -> set[str]:
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))


def pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", *args]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, env=env)


def build_llama(block: str, cpu: str, cache: Path, rebuild: bool) -> Path:
    """The llama-cpp-python wheel compiled for ``cpu``, from the sdist the lock pins."""
    cache.mkdir(parents=True, exist_ok=True)
    cmake_args = BASELINES[cpu][1]
    stamp = cache / "built-with.txt"
    wanted = f"{block}\nCMAKE_ARGS={cmake_args}\n"
    found = sorted(cache.glob("llama_cpp_python-*.whl"))
    if found and not rebuild and stamp.is_file() and stamp.read_text() == wanted:
        print(f"reusing {found[0]} (built for {cpu}; --rebuild compiles again)", flush=True)
        return found[0]
    for old in found:
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp, "llama.txt")
        req.write_text(block)
        env = {**os.environ, "CMAKE_ARGS": cmake_args}
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        started = time.monotonic()
        # --no-cache-dir: pip's wheel cache keys on the sdist, not on CMAKE_ARGS, and would hand
        # back a wheel built for another processor.
        pip("wheel", "--no-deps", "--require-hashes", "--no-build-isolation", "--no-cache-dir",
            "-w", str(cache), "-r", str(req), env=env)  # fmt: skip
        print(f"llama-cpp-python built for {cpu} in {time.monotonic() - started:.0f} s")
    stamp.write_text(wanted)
    return sorted(cache.glob("llama_cpp_python-*.whl"))[0]


def elf_needs(wheel: Path) -> dict[str, str]:
    """The highest glibc, libstdc++ and libgomp symbol versions the wheel's shared libraries
    reference (what the target's C libraries must provide)."""
    best: dict[str, tuple[int, ...]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if ".so" not in info.filename:
                continue
            data = archive.read(info)
            for lib, version in re.findall(rb"\b(GLIBC|GLIBCXX|GOMP|CXXABI)_(\d+(?:\.\d+)*)", data):
                key, value = lib.decode(), tuple(int(p) for p in version.split(b"."))
                best[key] = max(best.get(key, value), value)
    return {k: ".".join(map(str, v)) for k, v in sorted(best.items())}


def glibc_of_tag(plat: str) -> tuple[int, int] | None:
    if m := _MANYLINUX.search(plat):
        return int(m[1]), int(m[2])
    return next((v for tag, v in _LEGACY_MANYLINUX.items() if tag in plat), None)


def write_lock_and_manifest(
    out: Path, lock: Path, cpu: str, lock_text: str, extra_locks: tuple[Path, ...] = ()
) -> dict[str, object]:
    wanted = set(pins(lock_text)) | {"vigie"}
    by_name = blocks(lock_text)
    wheels: list[dict[str, object]] = []
    built: list[str] = []
    needed_glibc: tuple[int, ...] = (2, 5)
    lines = [
        "# The wheelhouse lock: every wheel of this folder, exact versions, sha256 of the files.",
        "# Written by ops/wheelhouse/build.py; install with",
        "#   pip install --no-index --find-links DIR --require-hashes -r DIR/requirements.lock",
    ]
    names = set()
    for wheel in sorted(out.glob("*.whl")):
        m = _WHEEL.match(wheel.name)
        if m is None:
            raise SystemExit(f"{wheel.name}: not a wheel file name")
        name, digest = normalise(m["name"]), sha256_file(wheel)
        names.add(name)
        lines += [f"{name}=={m['version']} \\", f"    --hash=sha256:{digest}"]
        if name != "vigie" and digest not in lock_hashes(by_name.get(name, "")):
            built.append(wheel.name)  # from the sdist whose hash the lock pins (pip checked it)
        if (tag := glibc_of_tag(m["plat"])) is not None:
            needed_glibc = max(needed_glibc, tag)
        wheels.append({"file": wheel.name, "sha256": digest, "bytes": wheel.stat().st_size})
    if names != wanted:
        raise SystemExit(
            f"the wheelhouse differs from {lock}: missing {sorted(wanted - names)}, "
            f"extra {sorted(names - wanted)}"
        )
    (out / "requirements.lock").write_text("\n".join(lines) + "\n")
    needs: dict[str, str] = {}
    for name in built:
        for key, value in elf_needs(out / name).items():
            current = tuple(int(p) for p in needs.get(key, "0").split("."))
            if tuple(int(p) for p in value.split(".")) > current:
                needs[key] = value
    if "GLIBC" in needs:
        needed_glibc = max(needed_glibc, tuple(int(p) for p in needs["GLIBC"].split(".")))
    manifest: dict[str, object] = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "lock": str(lock),
        "extra_locks": [str(p) for p in extra_locks],
        "python": f"CPython {platform.python_version()} (wheels for cp{sys.version_info.major}"
        f"{sys.version_info.minor}; any {sys.version_info.major}.{sys.version_info.minor}.x)",
        "platform": f"{sys.platform} {platform.machine()}",
        "glibc_required": ".".join(map(str, needed_glibc)),
        "built_on_glibc": platform.libc_ver()[1],
        "built_libraries_need": needs,
        "cpu_baseline": BASELINES[cpu][0],
        "llama_cmake_args": BASELINES[cpu][1],
        "built_here": built,
        "wheels": wheels,
        "total_bytes": sum(wheel.stat().st_size for wheel in out.glob("*.whl")),
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.md").write_text(readme(manifest))
    return manifest


def readme(m: dict[str, object]) -> str:
    needs, built = m["built_libraries_need"], m["built_here"]
    assert isinstance(needs, dict) and isinstance(built, list)
    libs = ", ".join(f"{k} {v}" for k, v in needs.items()) or "-"
    return f"""# Vigie wheelhouse

Everything Vigie needs to install with no network: the wheels (`*.whl`) of this folder,
{int(str(m["total_bytes"])) / 1e6:.0f} MB, locked in `requirements.lock` (exact versions,
sha256 of each file). Built {m["created"]} from `{m["lock"]}`.

| serves | |
|---|---|
| Python | {m["python"]} |
| platform | {m["platform"]} |
| glibc | {m["glibc_required"]} or newer (built on glibc {m["built_on_glibc"]}) |
| C/C++ runtime of the built libraries | {libs} (libstdc++6, libgomp1) |
| CPU | {m["cpu_baseline"]} |

Built here rather than downloaded: {", ".join(str(b) for b in built)}.
llama.cpp CMake arguments: `{m["llama_cmake_args"]}`.

Install (no network needed; nothing but this folder is read):

```sh
python3.11 -m venv /opt/vigie
/opt/vigie/bin/pip install --no-index --find-links DIR --require-hashes -r DIR/requirements.lock
/opt/vigie/bin/vigie up --demo --once      # the whole pipeline on the shipped model
/opt/vigie/bin/vigie ops lock-check DIR/requirements.lock   # exactly this set is installed
```

`MANIFEST.json` lists every wheel with its size and sha256. The product's README ("Installing
without a network") covers the SBOM, licences, vulnerability audit and signed model registry.
"""


def unlocked_dependencies(project: Path, lock_text: str) -> list[str]:
    """The project's declared dependencies (for this interpreter) that the lock does not pin:
    the wheelhouse could not satisfy them (``make lock`` first)."""
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    locked = pins(lock_text)
    return [
        str(req)
        for req in map(Requirement, declared)
        if (req.marker is None or req.marker.evaluate()) and normalise(req.name) not in locked
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "ops" / "lock" / "runtime.txt")
    parser.add_argument(
        "--extra-lock",
        type=Path,
        action="append",
        default=[],
        help="an optional extra's own lock to add (e.g. ops/lock/train.txt); repeatable",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "wheelhouse")
    parser.add_argument("--cpu", choices=sorted(BASELINES), default="x86-64-v3")
    parser.add_argument("--rebuild", action="store_true", help="compile llama-cpp-python again")
    parser.add_argument("--project", type=Path, default=ROOT, help="the project to build")
    args = parser.parse_args()
    started = time.monotonic()
    lock_text = merge_locks([args.lock.read_text(), *(p.read_text() for p in args.extra_lock)])
    if missing := unlocked_dependencies(args.project, lock_text):
        raise SystemExit(
            f"pyproject.toml requires {', '.join(missing)}, which {args.lock} does not pin: "
            "run `make lock` (then `make test`) before building the wheelhouse"
        )
    by_name = blocks(lock_text)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.whl"), out / "requirements.lock"]:
        old.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rest = Path(tmp, "rest.txt")
        rest.write_text("".join(block for name, block in by_name.items() if name != LLAMA))
        pip("wheel", "--no-deps", "--require-hashes", "--no-build-isolation",
            "-w", str(out), "-r", str(rest))  # fmt: skip
    cache = ROOT / "dist" / "wheelhouse-cache" / args.cpu
    shutil.copy2(build_llama(by_name[normalise(LLAMA)], args.cpu, cache, args.rebuild), out)
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(args.project))
    manifest = write_lock_and_manifest(out, args.lock, args.cpu, lock_text, tuple(args.extra_lock))
    count = len(list(out.glob("*.whl")))
    print(
        f"{out}: {count} wheels, "
        f"{int(str(manifest['total_bytes'])) / 1e6:.0f} MB, for {manifest['python']}, "
        f"glibc >= {manifest['glibc_required']}, CPU {args.cpu}; "
        f"{time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
