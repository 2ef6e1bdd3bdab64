"""The llama-server comparison's own parts: prompts cut to a token count, HTTP answers read,
the vendored llama.cpp found in a source distribution, the offline build flags."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from loadtest.llama_build import OFFLINE_FLAGS, vendored_source
from loadtest.llama_server_bench import _unchunk, compare, cut_to_tokens, report_prompts


async def words(text: str) -> int:
    return len(text.split())


async def test_a_prompt_is_cut_to_its_token_count() -> None:
    assert await cut_to_tokens("a b c d e f", 4, words) == "a b c d"
    assert await cut_to_tokens("a b", 4, words) == "a b"
    prompts = await report_prompts(5, 40, words)
    assert len(set(prompts)) == 5
    assert [await words(p) for p in prompts] == [40] * 5


def test_a_chunked_answer_is_joined() -> None:
    assert _unchunk(b'4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n') == b'{"a": 1}'


def test_the_ratios_are_vigie_over_the_server() -> None:
    vigie = {
        "tokens_per_s": 90.0,
        "latency_ms": {"p50": 100.0, "p95": 300.0},
        "requests": 2,
        "texts": ["x", "y"],
    }
    server = {"tokens_per_s": 100.0, "latency_ms": {"p50": 100.0, "p95": 200.0},
              "texts": ["x", "z"]}  # fmt: skip
    assert compare(vigie, server) == {
        "throughput_vigie_over_server": 0.9,
        "p50_vigie_over_server": 1.0,
        "p95_vigie_over_server": 1.5,
        "identical_outputs": "1/2",
    }


def test_the_build_is_offline() -> None:
    for flag in ("-DLLAMA_CURL=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_BUILD_UI=OFF"):
        assert flag in OFFLINE_FLAGS


def sdist(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_only_the_vendored_llama_cpp_is_unpacked(tmp_path: Path) -> None:
    archive = sdist(
        tmp_path / "llama_cpp_python-9.9.9.tar.gz",
        {
            "llama_cpp_python-9.9.9/vendor/llama.cpp/CMakeLists.txt": b"project(x)",
            "llama_cpp_python-9.9.9/llama_cpp/__init__.py": b"",
        },
    )
    source = vendored_source(archive, tmp_path / "src")
    assert (source / "CMakeLists.txt").read_bytes() == b"project(x)"
    assert not (tmp_path / "src" / "llama_cpp_python-9.9.9" / "llama_cpp").exists()
    empty = sdist(tmp_path / "llama_cpp_python-0.0.1.tar.gz", {"x/setup.py": b""})
    with pytest.raises(SystemExit):
        vendored_source(empty, tmp_path / "src2")
