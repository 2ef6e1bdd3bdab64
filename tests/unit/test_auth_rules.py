"""The generated permissions and label rules, as pure functions (the server tests are in
tests/integration/test_auth_*.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.security.permissions import (
    UnknownIdentity,
    analyst_permissions,
    identities,
    permissions_for,
    service_consumers,
    service_outputs,
    subject_matches,
)
from bus.topology import LABELS, TopologySettings, build_topology
from schemas.v1 import LABEL_ORDER, highest_label
from services.cli.ops import parse_before
from services.collate import logic
from services.config.schema import BusConfig, Config, topology_settings
from tests.unit.test_collate_logic import report, result

TOPOLOGY = build_topology(topology_settings(Config()))
#: Every service of a deployment of the shipped task registry.
SERVICES = TOPOLOGY.stages
labels_st = st.sampled_from(LABELS)


def test_every_declared_consumer_belongs_to_exactly_one_service() -> None:
    owners = {
        c.durable: [s for s in SERVICES if c in service_consumers(TOPOLOGY, s, LABELS)]
        for c in TOPOLOGY.consumers
    }
    assert {d: len(o) for d, o in owners.items() if len(o) != 1} == {}


def test_no_service_may_publish_into_a_stream_of_a_label_it_does_not_serve() -> None:
    for service in SERVICES:
        for label in LABELS:
            allowed = permissions_for(TOPOLOGY, f"{service}-{label}").publish
            for other in LABELS:
                if other == label:
                    continue
                for spec in TOPOLOGY.streams:
                    if spec.label != other:
                        continue
                    leaks = [a for a in allowed if spec.name in a.split(".") or _captures(spec, a)]
                    assert leaks == [], (service, label, spec.name)


def _captures(spec: object, allowed: str) -> bool:
    return any(subject_matches(p, allowed) for p in getattr(spec, "subjects", ()))


@given(labels_st)
def test_an_analyst_is_granted_no_stream_above_its_clearance(level: str) -> None:
    perms = analyst_permissions(TOPOLOGY, level)
    for spec in TOPOLOGY.streams:
        granted = any(spec.name in p.split(".") for p in perms.publish)
        may = spec.role in ("enriched", "feedback", "dlq", "audit") and (
            LABEL_ORDER[spec.label] <= LABEL_ORDER[level]
        )
        assert granted == may, spec.name
        writable = [p for p in perms.publish if _captures(spec, p)]
        # The only streams an analyst writes into: the audit and feedback streams of its own
        # label (never below it: a record or a correction may hold what only its level knows).
        own = spec.role in ("audit", "feedback") and spec.label == level
        assert sorted(writable) == (sorted(spec.subjects) if own else [])


@given(labels_st)
def test_an_analyst_writes_corrections_at_its_own_label_only(level: str) -> None:
    """No write-down: credentials cleared for ``s`` publish into no ``feedback.dr`` subject
    (nor any other stream's), only into ``feedback.s``."""
    perms = analyst_permissions(TOPOLOGY, level)
    writes = [p for p in perms.publish if not p.startswith(("$JS.", "_INBOX", "$SRV."))]
    assert any(p.startswith(f"feedback.{level}.") for p in writes), level
    for allowed in writes:
        into = [spec for spec in TOPOLOGY.streams if _captures(spec, allowed)]
        assert [(s.role, s.label) for s in into] in ([("feedback", level)], [("audit", level)])
    for other in LABELS:
        if other != level:
            assert not any(
                subject_matches(p, f"feedback.{other}.report.src") for p in perms.publish
            ), other


def test_every_grant_allows_both_ack_forms_of_its_consumers() -> None:
    for service in SERVICES:
        publish = permissions_for(TOPOLOGY, service).publish
        for c in service_consumers(TOPOLOGY, service, LABELS):
            assert f"$JS.ACK.{c.stream}.{c.durable}.>" in publish
            assert f"$JS.ACK.*.*.{c.stream}.{c.durable}.>" in publish


def test_outputs_follow_the_topology_builders() -> None:
    assert "enriched.s.report.*" in service_outputs(TOPOLOGY, "collate", ("s",))
    assert "work.np.inferred.translate.*" in service_outputs(TOPOLOGY, "inference", ("np",))


def test_unknown_identities_are_refused_with_the_known_forms() -> None:
    with pytest.raises(UnknownIdentity, match="analyst-<label>"):
        permissions_for(TOPOLOGY, "analyst-xx")
    # The provisioner, each service per label, an analyst and a publisher per label.
    assert len(identities(TOPOLOGY, per_label=True)) == 1 + len(SERVICES) * 4 + 4 + 4


@given(
    st.lists(labels_st, min_size=1, max_size=1),
    st.lists(st.tuples(st.sampled_from(TOPOLOGY.tasks), labels_st)),
)
def test_the_enriched_label_is_the_highest_of_the_inputs(
    report_label: list[str], results: list[tuple[str, str]]
) -> None:
    rep = report(label=report_label[0])  # type: ignore[arg-type]
    res = [result(task, label) for task, label in results]  # type: ignore[arg-type]
    got = logic.enriched_label(rep, res)
    inputs = [report_label[0], *(label for _, label in results)]
    assert LABEL_ORDER[got] == max(LABEL_ORDER[lb] for lb in inputs)
    assert got == highest_label(inputs)  # type: ignore[arg-type]
    # Never lower than any input: no path writes down.
    assert all(LABEL_ORDER[got] >= LABEL_ORDER[lb] for lb in inputs)


def test_per_label_retention_caps_every_stream_of_that_label_only() -> None:
    cfg = Config(bus=BusConfig(retention_s=3600.0))
    topo = build_topology(topology_settings(cfg))
    for spec in topo.streams:
        default = build_topology(TopologySettings()).stream(spec.name).max_age
        assert spec.max_age == (min(default, 3600.0) if spec.label == "s" else default)


def test_purge_accepts_a_time_with_offset_or_an_age() -> None:
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    assert parse_before("30d", now) == now - dt.timedelta(days=30)
    assert parse_before("2026-11-01T00:00:00Z", now).tzinfo is not None
    with pytest.raises(ValueError, match="offset"):
        parse_before("2026-11-01T00:00:00", now)
