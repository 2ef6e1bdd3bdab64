"""Known vulnerabilities, offline: the pins of a lock matched against an OSV database snapshot.

The operator brings the snapshot in (README, "Installing without a network"): the PyPI export of
the OSV database, ``all.zip`` — one JSON document per advisory in the OSV schema — or a folder
of such files. An advisory affects a pin when one of its ``affected`` entries names the package
(ecosystem ``PyPI``, names compared as PEP 503 normalises them) and the pinned version is listed
in its ``versions`` or falls in one of its ``ECOSYSTEM`` ranges (events ``introduced``, ``fixed``,
``last_affected``, ``limit``, compared as PEP 440 versions). ``GIT`` and ``SEMVER`` ranges and
withdrawn advisories are ignored. Pure: no network, standard library and ``packaging`` only.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

ECOSYSTEM = "PyPI"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


class OsvError(ValueError):
    """The snapshot or the lock cannot be read (not recoverable without the operator)."""


def normalise(name: str) -> str:
    """PEP 503 name: case, ``_`` and ``.`` do not distinguish packages."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(text: str) -> list[tuple[str, str]]:
    """Every ``(normalised name, version)`` pinned by a pip requirements lock, whatever its
    environment marker (a universal lock may pin two versions of a package: both are audited)."""
    found = {
        (normalise(m["name"]), m["version"])
        for line in text.splitlines()
        if (m := _PIN.match(line.strip()))
    }
    if not found:
        raise OsvError("the lock pins nothing (expected name==version lines)")
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Finding:
    """One advisory that affects one pinned version."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    summary: str
    fixed: tuple[str, ...]  # versions that fix it, from the ranges (empty: no fix known)
    modified: str

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "id": self.id,
            "aliases": list(self.aliases),
            "summary": self.summary,
            "fixed": list(self.fixed),
            "modified": self.modified,
        }


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_range(version: str, events: Iterable[dict[str, str]]) -> bool:
    """Whether ``version`` falls in an OSV ``ECOSYSTEM`` range given by its ``events``.

    The events are sorted by version (``introduced: "0"`` first) and applied in order: at or
    past ``introduced`` the version is affected, at or past ``fixed`` or ``limit`` (or past
    ``last_affected``) it is not, so a range may open and close several times.
    """
    v = _version(version)
    if v is None:
        return False
    ordered: list[tuple[Version, int, str]] = []
    for event in events:
        for kind, value in event.items():
            bound = Version("0") if kind == "introduced" and value == "0" else _version(value)
            if bound is not None:
                # At equal versions "introduced" comes first: [introduced 1.0, fixed 1.0] is empty.
                ordered.append((bound, 0 if kind == "introduced" else 1, kind))
    affected = False
    for bound, _, kind in sorted(ordered):
        if kind == "introduced" and v >= bound:
            affected = True
        elif (kind in ("fixed", "limit") and v >= bound) or (kind == "last_affected" and v > bound):
            affected = False
    return affected


def affects(entry: dict[str, Any], version: str) -> bool:
    """Whether one ``affected[]`` entry covers ``version`` (its package already matched)."""
    if version in entry.get("versions", ()):
        return True
    return any(
        r.get("type") == "ECOSYSTEM" and in_range(version, r.get("events", ()))
        for r in entry.get("ranges", ())
    )


def _fixed_versions(entry: dict[str, Any]) -> list[str]:
    return [
        event["fixed"]
        for r in entry.get("ranges", ())
        if r.get("type") == "ECOSYSTEM"
        for event in r.get("events", ())
        if "fixed" in event
    ]


def match(advisory: dict[str, Any], pins: dict[str, set[str]]) -> list[Finding]:
    """The findings of one OSV advisory against ``pins`` (normalised name → versions)."""
    if advisory.get("withdrawn"):
        return []
    found: list[Finding] = []
    for entry in advisory.get("affected", ()):
        package = entry.get("package", {})
        if package.get("ecosystem") != ECOSYSTEM:
            continue
        name = normalise(str(package.get("name", "")))
        for version in sorted(pins.get(name, ())):
            if affects(entry, version):
                found.append(
                    Finding(
                        package=name,
                        version=version,
                        id=str(advisory.get("id", "?")),
                        aliases=tuple(advisory.get("aliases", ())),
                        summary=str(advisory.get("summary") or advisory.get("details", ""))[:200],
                        fixed=tuple(_fixed_versions(entry)),
                        modified=str(advisory.get("modified", "")),
                    )
                )
    return found


def advisories(db: Path) -> Iterator[dict[str, Any]]:
    """Every advisory of a snapshot: a ``.zip`` of OSV JSON files (the PyPI export) or a folder
    holding them (searched recursively); raises OsvError when there is none or one is bad."""
    count = 0
    if db.is_file() and zipfile.is_zipfile(db):
        with zipfile.ZipFile(db) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".json"):
                    count += 1
                    yield _load(archive.read(info), f"{db}:{info.filename}")
    elif db.is_dir():
        for path in sorted(db.rglob("*.json")):
            count += 1
            yield _load(path.read_bytes(), str(path))
    else:
        raise OsvError(f"{db}: neither a folder nor a zip file of OSV advisories")
    if count == 0:
        raise OsvError(f"{db}: holds no OSV advisory (*.json)")


def _load(data: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise OsvError(f"{where}: not JSON: {e}") from None
    if not isinstance(doc, dict) or "id" not in doc:
        raise OsvError(f"{where}: not an OSV advisory (no id)")
    return doc


@dataclass(frozen=True, slots=True)
class Audit:
    findings: list[Finding]
    advisories: int  # how many the snapshot holds
    newest: str  # the latest ``modified`` time among them: how fresh the snapshot is
    pins: int


def audit(lock_text: str, db: Path) -> Audit:
    """Every advisory of ``db`` that affects a pin of the lock."""
    pinned: dict[str, set[str]] = {}
    pairs = lock_pins(lock_text)
    for name, version in pairs:
        pinned.setdefault(name, set()).add(version)
    findings: list[Finding] = []
    total, newest = 0, ""
    for advisory in advisories(db):
        total += 1
        newest = max(newest, str(advisory.get("modified", "")))
        findings += match(advisory, pinned)
    findings.sort(key=lambda f: (f.package, f.version, f.id))
    return Audit(findings=findings, advisories=total, newest=newest, pins=len(pairs))
