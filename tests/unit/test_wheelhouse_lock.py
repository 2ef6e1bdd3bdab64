"""ops/wheelhouse/build.py's bookkeeping on fake wheels: the wheelhouse lock (every file, its own
sha256), which wheels were built here, the glibc it needs, and a wheelhouse that does not match
its lock refused. (Building real wheels is `make wheelhouse`'s, checked by tests/install.)"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

BUILD = Path(__file__).resolve().parents[2] / "ops" / "wheelhouse" / "build.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wheelhouse_build", BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wheel(folder: Path, name: str, so: bytes | None = None) -> str:
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkg/__init__.py", name)
        if so is not None:
            archive.writestr("pkg/lib/libthing.so", so)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_lock_and_the_manifest(build: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "wheelhouse"
    out.mkdir()
    downloaded = wheel(out, "msgspec-0.23.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    native = b"\x7fELF...GLIBC_2.34\x00GLIBC_2.17\x00GLIBCXX_3.4.30\x00GOMP_4.0\x00"
    wheel(out, "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl", so=native)
    wheel(out, "vigie-0.1.0-py3-none-any.whl")
    lock = tmp_path / "runtime.txt"
    lock.write_text(
        f"msgspec==0.23.0 \\\n    --hash=sha256:{downloaded} \\\n    --hash=sha256:{'0' * 64}\n"
        f"llama-cpp-python==0.3.36 \\\n    --hash=sha256:{'1' * 64}\n"
        "colorama==0.4.6 ; sys_platform == 'win32'\n"  # not for this platform: not needed
    )
    manifest = build.write_lock_and_manifest(out, lock, "x86-64-v3", lock.read_text())
    text = (out / "requirements.lock").read_text()
    for file in out.glob("*.whl"):
        assert f"--hash=sha256:{hashlib.sha256(file.read_bytes()).hexdigest()}" in text
    assert "llama-cpp-python==0.3.36 \\" in text and "vigie==0.1.0 \\" in text
    assert manifest["built_here"] == ["llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"]
    assert manifest["glibc_required"] == "2.34"  # the built library, above manylinux_2_28
    assert manifest["built_libraries_need"] == {"GLIBC": "2.34", "GLIBCXX": "3.4.30", "GOMP": "4.0"}
    assert "AVX2" in str(manifest["cpu_baseline"])
    assert json.loads((out / "MANIFEST.json").read_text())["lock"] == str(lock)
    assert "--require-hashes -r DIR/requirements.lock" in (out / "README.md").read_text()


def test_a_wheelhouse_that_differs_from_its_lock_is_refused(
    build: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "wheelhouse"
    out.mkdir()
    wheel(out, "vigie-0.1.0-py3-none-any.whl")
    wheel(out, "stray-1.0-py3-none-any.whl")
    lock = tmp_path / "runtime.txt"
    lock.write_text("msgspec==0.23.0\n")
    with pytest.raises(SystemExit, match=r"missing \['msgspec'\], extra \['stray'\]"):
        build.write_lock_and_manifest(out, lock, "x86-64-v3", lock.read_text())


def test_legacy_manylinux_tags(build: ModuleType) -> None:
    assert build.glibc_of_tag("manylinux2014_x86_64.manylinux_2_17_x86_64") == (2, 17)
    assert build.glibc_of_tag("manylinux1_x86_64") == (2, 5)
    assert build.glibc_of_tag("any") is None


def test_an_extras_lock_joins_the_runtime_lock_once(build: ModuleType) -> None:
    runtime = (
        "a==1.0 \\\n    --hash=sha256:"
        + "1" * 64
        + "\nb==2.0 \\\n    --hash=sha256:"
        + "2" * 64
        + "\n"
    )
    extra = (
        "b==2.0 \\\n    --hash=sha256:"
        + "2" * 64
        + "\nc==3.0 \\\n    --hash=sha256:"
        + "3" * 64
        + "\n"
    )
    merged = build.merge_locks([runtime, extra])
    assert [line.split("==")[0] for line in merged.splitlines() if "==" in line] == ["a", "b", "c"]
    clash = "b==2.1 \\\n    --hash=sha256:" + "4" * 64 + "\n"
    with pytest.raises(SystemExit, match="b is pinned differently"):
        build.merge_locks([runtime, clash])
