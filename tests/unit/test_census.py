"""The census tells server operations apart by subject and reply."""

from __future__ import annotations

import pytest

from loadtest.census import kind_of


@pytest.mark.parametrize(
    ("subject", "data", "reply", "kind"),
    [
        (
            "work.dr.extract.routine",
            b"{}",
            "$JS.ACK.WORK_DR.extract.1.2.3.4.5",
            "delivery to a fetcher",
        ),
        ("work.dr.extract.routine", b"{}", "_INBOX.abc.def", "publish work.extract"),
        ("feeds.dr.report.radio", b"text", "", "publish feeds.report"),
        ("$JS.ACK.WORK_DR.extract.1.2.3.4.5", b"", "", "settle +ACK"),
        ("$JS.ACK.WORK_DR.collate.1.2.3.4.5", b'-NAK {"delay":1}', "", "settle -NAK"),
        ("$JS.API.CONSUMER.MSG.NEXT.WORK_DR.extract", b"{}", "_INBOX.x", "fetch request"),
        ("$JS.API.DIRECT.GET.KV_collate_dr.$KV.collate_dr.r1", b"", "_INBOX.x", "state read"),
        ("$KV.collate_dr.r1", b"{}", "_INBOX.x", "state write collate_dr"),
        ("$JS.API.CONSUMER.INFO.WORK_DR.extract", b"", "_INBOX.x", "API CONSUMER.INFO"),
        ("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.WORK_DR.collate", b"{}", "", "advisory"),
        ("_INBOX.abc.def", b"{}", "", "reply (PubAck, state read answer)"),
    ],
)
def test_kind_of(subject: str, data: bytes, reply: str, kind: str) -> None:
    assert kind_of(subject, data, reply) == kind
