"""llama.cpp's own server, built from the llama.cpp that llama-cpp-python vendors, offline.

The comparison with llama.cpp's server is only fair when both run the same llama.cpp: the
server is built from the ``vendor/llama.cpp`` of the llama-cpp-python source distribution the
lock names (the wheelhouse keeps it; pip's and uv's caches do too), with the CPU flags the
wheelhouse builds the Python package with. Nothing is fetched: no libcurl (``LLAMA_CURL=OFF``,
no model download), no OpenSSL, no prebuilt web UI (``LLAMA_USE_PREBUILT_UI=OFF``: the UI
assets would otherwise be downloaded at build time) and no UI build (it needs npm).

Usage::

    python -m loadtest.llama_build --sdist dist/wheelhouse/llama_cpp_python-0.3.36.tar.gz \
        --out .vigie/llama-server-build
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

#: The CPU baseline the wheelhouse builds llama-cpp-python with (docs/results/
#: wheelhouse-install.json): the server runs the same kernels as the engine.
CPU_FLAGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_SSE42=ON",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DGGML_AVX512=OFF",
    "-DGGML_AVX_VNNI=OFF",
    "-DCMAKE_C_FLAGS=-march=x86-64-v3",
    "-DCMAKE_CXX_FLAGS=-march=x86-64-v3",
)
#: Offline: no download at build or run time, no web UI.
OFFLINE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
)
SDIST_GLOB = "llama_cpp_python-*.tar.gz"


def find_sdist(explicit: str | None) -> Path:
    """The llama-cpp-python source distribution: ``explicit``, else the wheelhouse's, else
    one in uv's or pip's download cache."""
    if explicit:
        return Path(explicit)
    candidates = [
        *glob.glob(f"dist/wheelhouse/{SDIST_GLOB}"),
        *glob.glob(os.path.expanduser(f"~/.cache/pip/**/{SDIST_GLOB}"), recursive=True),
    ]
    if not candidates:
        raise SystemExit(
            f"no {SDIST_GLOB} found (dist/wheelhouse, pip cache): pass --sdist PATH "
            "(`make wheelhouse` keeps it)"
        )
    return Path(sorted(candidates)[-1])


def vendored_source(sdist: Path, work: Path) -> Path:
    """``vendor/llama.cpp`` of ``sdist``, unpacked under ``work`` (once)."""
    stem = sdist.name.removesuffix(".tar.gz")
    source = work / stem / "vendor" / "llama.cpp"
    if not (source / "CMakeLists.txt").is_file():
        work.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if "/vendor/llama.cpp/" in f"{m.name}/"]
            archive.extractall(work, members=members, filter="data")
    if not (source / "CMakeLists.txt").is_file():
        raise SystemExit(f"{sdist} holds no vendor/llama.cpp")
    return source


def build_server(sdist: Path, out: Path, jobs: int) -> Path:
    """Configure and build ``llama-server``; its path (an existing build is reused)."""
    binary = out / "build" / "bin" / "llama-server"
    if binary.is_file():
        return binary
    if shutil.which("cmake") is None:
        raise SystemExit("cmake is needed to build llama-server")
    source = vendored_source(sdist, out / "src")
    build = out / "build"
    subprocess.run(
        ["cmake", "-S", str(source), "-B", str(build), *OFFLINE_FLAGS, *CPU_FLAGS], check=True
    )
    subprocess.run(
        ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)],
        check=True,
    )
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.llama_build", description=__doc__)
    parser.add_argument("--sdist", help=f"the llama-cpp-python sdist ({SDIST_GLOB})")
    parser.add_argument("--out", default=".vigie/llama-server-build")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    print(build_server(find_sdist(args.sdist), Path(args.out), args.jobs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
