"""Is the installed environment exactly the lock? (``make lock-check``, ``vigie ops lock-check``)

The locks under ``ops/lock/`` pin what was tested: every package at one version, with its hashes.
An environment that differs from them — a stale virtual environment, a package installed by hand,
a dependency upgraded in place — is not the tested product, so ``make test`` refuses to run on it.

Standard library and ``packaging`` only (a build tool pinned in the lock itself), so the check
still runs, and says what is wrong, in an environment too broken to import the rest of Vigie.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker

#: The distribution this repository builds: installed editable, never in its own lock.
PROJECT = "vigie"

_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)"
    r"\s*(?:;(?P<marker>[^\\#]*))?"
)


class LockFileError(ValueError):
    """The lock file cannot be read as a list of ``name==version`` pins (not recoverable)."""


def normalise(name: str) -> str:
    """PEP 503 name: case, ``_`` and ``.`` do not distinguish packages."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock_text: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """Normalised name → version of every pin of a pip requirements lock that applies here.

    A pin whose environment marker is false for ``environment`` (default: this interpreter) is
    left out: a universal lock may pin one package at two versions, one per Python range.
    """
    found: dict[str, str] = {}
    for number, raw in enumerate(lock_text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "--")):
            continue
        match = _REQUIREMENT.match(line)
        if match is None:
            raise LockFileError(f"line {number}: not a name==version pin: {line!r}")
        marker = (match["marker"] or "").strip()
        if marker and not Marker(marker).evaluate(dict(environment) if environment else None):
            continue
        name = normalise(match["name"])
        if name in found and found[name] != match["version"]:
            raise LockFileError(f"line {number}: {name} pinned twice for this environment")
        found[name] = match["version"]
    if not found:
        raise LockFileError("no pins at all")
    return found


@dataclass(frozen=True, slots=True)
class Drift:
    """One way the environment differs from the lock."""

    name: str
    locked: str | None  # None: installed but not in the lock
    installed: str | None  # None: in the lock but not installed

    def __str__(self) -> str:
        if self.installed is None:
            return f"{self.name}=={self.locked} is locked but not installed"
        if self.locked is None:
            return f"{self.name}=={self.installed} is installed but not in the lock"
        return f"{self.name} is {self.installed}, the lock says {self.locked}"


def drift(
    locked: Mapping[str, str], installed: Mapping[str, str], ignore: Iterable[str] = (PROJECT,)
) -> list[Drift]:
    """Every difference between the pins and the installed versions (both by normalised name)."""
    skip = {normalise(name) for name in ignore}
    found = [
        Drift(name, locked.get(name), installed.get(name))
        for name in sorted(set(locked) | set(installed))
        if name not in skip and locked.get(name) != installed.get(name)
    ]
    return found


def installed_versions() -> dict[str, str]:
    """Normalised name → version of every distribution this interpreter sees."""
    return {
        normalise(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }


def check(lock: Path, *more: Path) -> list[Drift]:
    """The drift between ``lock`` (with ``more`` locks installed over it: the training extra's)
    and this interpreter's environment."""
    wanted: dict[str, str] = {}
    for path in (lock, *more):
        for name, version in pins(path.read_text(encoding="utf-8")).items():
            if wanted.setdefault(name, version) != version:
                raise LockFileError(f"{name} pinned at {wanted[name]} and at {version} ({path})")
    return drift(wanted, installed_versions())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.cli.lockcheck",
        description="exit 1, naming each difference, unless the environment is exactly the lock",
    )
    parser.add_argument("lock", type=Path, help="a lock file of ops/lock/ (e.g. ops/lock/dev.txt)")
    parser.add_argument(
        "more",
        type=Path,
        nargs="*",
        help="locks installed over it (e.g. ops/lock/train.txt, the training extra)",
    )
    args = parser.parse_args(argv)
    try:
        found = check(args.lock, *args.more)
    except (OSError, LockFileError) as exc:
        print(f"lock check: cannot read {args.lock}: {exc}", file=sys.stderr)
        return 2
    if not found:
        print(f"lock check: the environment is exactly {args.lock}")
        return 0
    for item in found:
        print(f"lock check: {item}", file=sys.stderr)
    print(
        f"lock check: the environment differs from {args.lock} in {len(found)} package(s); "
        "`make clean` then `make test` reinstalls exactly the lock (`make lock` refreshes it)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
