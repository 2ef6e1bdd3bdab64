"""Every shipped component's licence against the allow-list kept in the repository.

The licences are the SBOM's (:mod:`services.security.sbom`: what the packages declare, as the
CycloneDX generator reads their metadata — SPDX ids, SPDX expressions, trove classifiers — and
what Vigie states for the nats-server binary, the vendored llama.cpp and the models). The policy
is ``ops/licences/allow.toml``:

* ``allowed``: SPDX ids Vigie may ship;
* ``[names]``: licence names found in metadata that are not SPDX ids (trove classifiers), each
  read as an SPDX id after review, or as ``""``: says nothing, another entry must decide;
* ``[[clarification]]``: components whose metadata is silent or unreadable, with the licence a
  reviewer found (and where);
* ``[[exception]]``: components under terms outside the allow-list, shipped after review: named,
  with the terms, obligations and who reviewed them.

A component passes when one of its licence entries is allowed and none is refused; anything
else — a refused licence, no licence at all — fails, naming the component. Pure.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ALLOWED, CLARIFIED, EXCEPTION = "allowed", "clarified", "exception"
DENIED, UNKNOWN = "DENIED", "UNKNOWN"
_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")


class PolicyError(ValueError):
    """The allow-list file cannot be used (not recoverable without editing it)."""


@dataclass(frozen=True)
class LicenceException:
    name: str
    components: frozenset[str]
    terms: str
    reviewed_by: str
    reviewed_on: str


@dataclass(frozen=True)
class Policy:
    allowed: frozenset[str]
    names: dict[str, str] = field(default_factory=dict)
    clarifications: dict[str, str] = field(default_factory=dict)  # component → SPDX id
    exceptions: tuple[LicenceException, ...] = ()


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load_policy(path: Path) -> Policy:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise PolicyError(f"{path}: {e}") from None
    allowed = doc.get("allowed")
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise PolicyError(f"{path}: `allowed` must be a list of SPDX ids")
    clarifications: dict[str, str] = {}
    for item in doc.get("clarification", []):
        for name in _required(path, item, "components", list):
            clarifications[normalise(name)] = _required(path, item, "licence", str)
        _required(path, item, "evidence", str)
    exceptions = []
    for item in doc.get("exception", []):
        exceptions.append(
            LicenceException(
                name=_required(path, item, "name", str),
                components=frozenset(
                    normalise(n) for n in _required(path, item, "components", list)
                ),
                terms=_required(path, item, "terms", str),
                reviewed_by=_required(path, item, "reviewed_by", str),
                reviewed_on=_required(path, item, "reviewed_on", str),
            )
        )
    names = doc.get("names", {})
    if not isinstance(names, dict):
        raise PolicyError(f"{path}: [names] must map licence names to SPDX ids")
    return Policy(frozenset(allowed), dict(names), clarifications, tuple(exceptions))


def _required(path: Path, table: dict[str, Any], key: str, kind: type) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or not value:
        raise PolicyError(f"{path}: every entry needs {key} ({kind.__name__}): {table}")
    return value


def declared(component: dict[str, Any]) -> list[str]:
    """The component's licence entries as text: SPDX ids, expressions or names."""
    found = []
    for entry in component.get("licenses", []):
        if "expression" in entry:
            found.append(str(entry["expression"]))
        elif lic := entry.get("license"):
            found.append(str(lic.get("id") or lic.get("name") or ""))
    return [f for f in found if f]


def expression_allowed(expression: str, allowed: frozenset[str]) -> bool:
    """An SPDX expression: ``A OR B`` needs one side allowed, ``A AND B`` both; ``A WITH X``
    must be allowed as written. AND binds tighter than OR. Raises ValueError if malformed."""
    tokens: list[str] = _TOKEN.findall(expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise ValueError(f"unfinished licence expression {expression!r}")
        position += 1
        return tokens[position - 1]

    def either() -> bool:
        result = both()
        while peek() == "OR":
            take()
            result = both() or result
        return result

    def both() -> bool:
        result = single()
        while peek() == "AND":
            take()
            result = single() and result
        return result

    def single() -> bool:
        token = take()
        if token == "(":
            result = either()
            if take() != ")":
                raise ValueError(f"unbalanced licence expression {expression!r}")
            return result
        if peek() == "WITH":
            take()
            return f"{token} WITH {take()}" in allowed
        return token in allowed

    result = either()
    if position != len(tokens):
        raise ValueError(f"cannot read licence expression {expression!r}")
    return result


@dataclass(frozen=True)
class Verdict:
    component: str
    version: str
    licences: tuple[str, ...]
    status: str  # allowed, clarified, exception, DENIED, UNKNOWN
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (ALLOWED, CLARIFIED, EXCEPTION)


def judge(policy: Policy, component: dict[str, Any]) -> Verdict:
    name, version = str(component.get("name", "?")), str(component.get("version", ""))
    texts = declared(component)
    for exception in policy.exceptions:
        if normalise(name) in exception.components:
            detail = (
                f"{exception.name}: {exception.terms} (reviewed by {exception.reviewed_by}, "
                f"{exception.reviewed_on})"
            )
            return Verdict(name, version, tuple(texts), EXCEPTION, detail)
    verdicts: list[bool] = []
    for text in texts:
        spdx = policy.names.get(text, text)
        if spdx == "":
            continue  # a name that says nothing of the licence (e.g. "DFSG approved")
        try:
            verdicts.append(expression_allowed(spdx, policy.allowed))
        except ValueError:
            verdicts.append(False)
    if verdicts and all(verdicts):
        return Verdict(name, version, tuple(texts), ALLOWED)
    if verdicts:
        refused = [t for t in texts if policy.names.get(t, t) and not _ok(policy, t)]
        detail = f"not in the allow-list: {', '.join(refused)}"
        return Verdict(name, version, tuple(texts), DENIED, detail)
    clarified = policy.clarifications.get(normalise(name))
    if clarified is not None:
        if expression_allowed(clarified, policy.allowed):
            detail = f"metadata silent; reviewed as {clarified}"
            return Verdict(name, version, (clarified,), CLARIFIED, detail)
        detail = f"metadata silent; reviewed as {clarified}, not in the allow-list"
        return Verdict(name, version, (clarified,), DENIED, detail)
    detail = "declares no licence: add a clarification or an exception after review"
    return Verdict(name, version, tuple(texts), UNKNOWN, detail)


def _ok(policy: Policy, text: str) -> bool:
    try:
        return expression_allowed(policy.names.get(text, text), policy.allowed)
    except ValueError:
        return False


def check(
    policy: Policy, components: list[dict[str, Any]], only: set[str] | None = None
) -> list[Verdict]:
    """A verdict per component (with its nested ones, e.g. files of a library); ``only``: the
    normalised names of the Python packages to judge (the shipped ones, from a lock) — the
    components Vigie adds (bom-ref ``vigie:…``) are always judged."""
    verdicts = []
    for component in components:
        shipped = str(component.get("bom-ref", "")).startswith("vigie:")
        if only is not None and not shipped and normalise(component.get("name", "")) not in only:
            continue
        if component.get("type") == "file":
            continue  # a file of a component judged with it
        verdicts.append(judge(policy, component))
    return sorted(verdicts, key=lambda v: normalise(v.component))


def unused_exceptions(policy: Policy, verdicts: list[Verdict]) -> list[str]:
    """Exceptions and clarifications that no judged component needed: stale entries to remove."""
    used = {normalise(v.component) for v in verdicts if v.status in (EXCEPTION, CLARIFIED)}
    names = {n for e in policy.exceptions for n in e.components} | set(policy.clarifications)
    return sorted(names - used)
