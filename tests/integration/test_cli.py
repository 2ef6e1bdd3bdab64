"""The operator commands against a real server and the real services: publish, tail, status,
config and the dead-letter list/show/requeue round trip."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from bus.connect import BusUnreachable
from bus.publish import PublishError
from services.cli.common import nats_url
from services.cli.main import build_parser, main
from services.cli.publish import FEED_RULE
from services.config.load import load_config
from tests.integration.pipeline import collector, fast_config, pipeline

GOOD = "Contact 251430ZNOV26 en 31U DQ 48251 11932."
SUBJECT = "feeds.dr.report.test"


async def vigie(url: str, *argv: str, env: dict[str, str] | None = None) -> int:
    """One command as `vigie` runs it, in this event loop (main() would start its own)."""
    args = build_parser().parse_args(list(argv))
    loaded = load_config(None, env={"VIGIE_NATS__URL": url, **(env or {})})
    code: int = await args.func(args, loaded)
    return code


async def vigie_main(*argv: str) -> int:
    """The real entry point, errors printed as main() prints them; in a thread of its own."""
    code: int = await anyio.to_thread.run_sync(main, list(argv))
    return code


def out_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out_lines(capsys)]


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_nats_url_default_and_override() -> None:
    parser = build_parser()
    args = parser.parse_args(["status"])
    assert nats_url(args, load_config(None, env={})) == "nats://127.0.0.1:4222"
    port = load_config(None, env={"VIGIE_NATS__PORT": "4333"})
    assert nats_url(args, port) == "nats://127.0.0.1:4333"
    given = load_config(None, env={"VIGIE_NATS__URL": "nats://bus:4222"})
    assert nats_url(args, given) == "nats://bus:4222"
    explicit = parser.parse_args(["status", "--nats", "nats://other:1"])
    assert nats_url(explicit, given) == "nats://other:1"


async def test_publish_text_is_enriched_and_a_repeat_is_dropped(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write(tmp_path, "report.txt", GOOD.encode())
    argv = [
        "publish",
        "--subject",
        SUBJECT,
        report,
        "--id",
        "t-1",
        "--precedence",
        "Z",
        "--originator",
        "2e Cie",
        "--content-type",
        "text",
    ]
    async with pipeline(nats_url, fast_config()), collector(nats_url) as seen:
        assert await vigie(nats_url, *argv) == 0
        [line] = out_lines(capsys)
        stored = re.fullmatch(r"stored in FEEDS_DR seq 1 \(trace ([0-9a-f]{32})\)", line)
        assert stored, line
        await seen.wait_for(lambda: seen.events)
        assert await vigie(nats_url, *argv) == 0
        assert out_lines(capsys) == ["duplicate of an earlier publish (FEEDS_DR seq 1)"]
    [event] = seen.events
    assert event.publisher_id == "t-1" and event.precedence == "FLASH"
    assert event.originator == "2e Cie" and event.source == "test"
    assert event.trace_id == stored[1]
    assert {e.type for e in event.entities} >= {"DateTime", "Location"}


async def test_publish_to_a_bad_subject_is_one_line_and_force_reaches_the_server(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write(tmp_path, "report.txt", GOOD.encode())
    bad = ["publish", "--subject", "feeds.dr.photo.cam", report, "--nats", nats_url]
    assert await vigie_main(*bad) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"vigie: subject 'feeds.dr.photo.cam' breaks the feeds contract: {FEED_RULE} "
        "(--force publishes anyway)"
    ]
    assert "label np|dr|s|ts, kind report|sensor, source [A-Za-z0-9_-]" in captured.err
    # Forced, it reaches the server, which has no stream for it: refused, one line, exit 1.
    assert await vigie_main(*bad, "--force") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("vigie: publish to feeds.dr.photo.cam refused: no stream captures")
    with pytest.raises(PublishError):
        await vigie(nats_url, *bad[:-2], "--force")


async def test_unreachable_server_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"nats://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("VIGIE_NATS__CONNECT_TIMEOUT", "1")
    with anyio.fail_after(10):
        assert await vigie_main("publish", "--subject", SUBJECT, "/dev/null", "--nats", url) == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"vigie: cannot reach NATS at {url} (")
    assert "--nats URL" in line
    with anyio.fail_after(10), pytest.raises(BusUnreachable):
        await vigie(url, "status", env={"VIGIE_NATS__CONNECT_TIMEOUT": "1"})


async def test_status_lists_streams_consumers_and_dead_letters(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await vigie(nats_url, "status") == 0
    assert "not provisioned — run `vigie up` or any service" in capsys.readouterr().out
    async with pipeline(nats_url, fast_config()), collector(nats_url) as seen:
        for i in range(2):
            report = write(tmp_path, f"r{i}.txt", f"{GOOD} ({i})".encode())
            assert await vigie(nats_url, "publish", "--subject", SUBJECT, report) == 0
        bad = write(tmp_path, "bad.json", b'{"text": 5}')
        assert await vigie(nats_url, "publish", "--subject", SUBJECT, bad) == 0
        await seen.wait_for(lambda: len(seen.events) == 2 and seen.dead)
        capsys.readouterr()
        with anyio.fail_after(5):  # ~24 streams and ~100 consumers: concurrent, so quick
            assert await vigie(nats_url, "status", "--json") == 0
        doc = json.loads(capsys.readouterr().out)
        assert await vigie(nats_url, "status") == 0
        text = capsys.readouterr().out
    streams = {s["name"]: s for s in doc["streams"]}
    assert streams["FEEDS_DR"]["messages"] == 3 and streams["FEEDS_DR"]["bytes"] > 0
    assert streams["ENRICHED_DR"]["messages"] == 2
    ingest = [c for c in doc["consumers"] if c["name"] == "ingest-dr"]
    assert ingest == [
        {
            "stream": "FEEDS_DR",
            "name": "ingest-dr",
            "num_pending": 0,
            "num_ack_pending": 0,
            "num_redelivered": 0,
        }
    ]
    assert len(doc["consumers"]) == len(build_topology_consumers())
    dlq = {d["stream"]: d for d in doc["dead_letters"]}
    assert dlq["DLQ_DR"]["total"] == 1 and dlq["DLQ_DR"]["by_stage"] == {"ingest": 1}
    assert doc["not_provisioned"] == {"streams": [], "consumers": []}
    assert re.search(r"^FEEDS_DR +3 ", text, re.M)
    assert re.search(r"^ingest-dr +FEEDS_DR +0 +0 +0$", text, re.M)
    assert re.search(r"^DLQ_DR +1 +ingest 1$", text, re.M)
    assert "not provisioned" not in text


def build_topology_consumers() -> list[object]:
    from bus.topology import build_topology
    from services.config.schema import topology_settings

    return list(build_topology(topology_settings(load_config(None, env={}).config)).consumers)


async def test_tail_prints_the_enriched_event(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write(tmp_path, "report.txt", GOOD.encode())
    codes: list[int] = []

    async def tail(*argv: str) -> None:
        codes.append(await vigie(nats_url, "tail", "--count", "1", "--timeout", "15", *argv))

    async with pipeline(nats_url, fast_config()):
        for form in (["--json"], []):
            err = ""
            async with anyio.create_task_group() as tg:
                tg.start_soon(tail, *form)
                with anyio.fail_after(5):
                    while "listening on enriched.>" not in err:
                        await anyio.sleep(0.02)
                        err += capsys.readouterr().err
                assert (
                    await vigie(
                        nats_url,
                        "publish",
                        "--subject",
                        SUBJECT,
                        report,
                        "--id",
                        f"tail-{len(codes)}",
                    )
                    == 0
                )
            lines = out_lines(capsys)
            if form:
                _stored, event_line = lines
                event = json.loads(event_line)
                assert event["publisher_id"] == "tail-0" and event["label"] == "dr"
                assert event["normalised_text"] == GOOD
            else:
                assert lines[1].startswith("enriched.dr.report.test  report ")
                assert "rev 1" in lines[1] and "ROUTINE" in lines[1]
                assert any(ln.startswith("  tasks   extract ok") for ln in lines)
                assert any("Location mgrs '31U DQ 48251 11932' →" in ln for ln in lines)
    assert codes == [0, 0]


async def test_tail_without_traffic_times_out(
    nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await vigie(nats_url, "tail", "dlq.>", "--count", "1", "--timeout", "0.3") == 1
    assert "0 of 1 messages within 0.3 s" in capsys.readouterr().err


async def test_config_json_has_every_key_with_its_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await vigie("nats://127.0.0.1:4222", "config", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["bus.ack_wait"] == {"value": 10.0, "source": "default"}
    assert doc["nats.url"]["source"] == "env:VIGIE_NATS__URL"
    assert await vigie("nats://127.0.0.1:4222", "config") == 0
    assert re.search(r"^ack_wait = 10\.0 +# default$", capsys.readouterr().out, re.M)


async def test_requeue_of_a_corrected_dead_letter_is_enriched_once(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "bad.json", b'{"text": 5}')
    fixed = write(tmp_path, "fixed.json", json.dumps({"text": GOOD}).encode())
    async with pipeline(nats_url, fast_config()), collector(nats_url) as seen:
        assert await vigie(nats_url, "publish", "--subject", SUBJECT, bad, "--id", "r-1") == 0
        await seen.wait_for(lambda: seen.dead)
        capsys.readouterr()
        assert await vigie(nats_url, "dlq", "list", "--json", "--reason", "schema_violation") == 0
        [listed] = json_lines(capsys)
        assert listed["label"] == "dr" and listed["stage"] == "ingest"
        assert listed["subject"] == SUBJECT and listed["msg_id"] == "r-1"
        assert listed["size"] == len(b'{"text": 5}')
        seq = str(listed["seq"])
        assert await vigie(nats_url, "dlq", "list") == 0
        table = out_lines(capsys)
        assert table[0].split() == [
            "LABEL",
            "SEQ",
            "TIME",
            "STAGE",
            "REASON",
            "SUBJECT",
            "SIZE",
            "MESSAGE",
        ]
        assert " schema_violation  feeds.dr.report.test " in table[1]
        assert await vigie(nats_url, "dlq", "show", seq, "--label", "dr") == 0
        shown = out_lines(capsys)
        assert "  Nats-Msg-Id: r-1" in shown and shown[-1] == '{"text": 5}'

        requeue = ["dlq", "requeue", seq, "--label", "dr", "--file", fixed]
        assert await vigie(nats_url, *requeue) == 0
        [line] = out_lines(capsys)
        assert line.startswith(f"requeued DLQ_DR seq {seq} (corrected bytes) to {SUBJECT}: ")
        assert "stored in FEEDS_DR seq 2" in line and "stays for audit" in line
        await seen.wait_for(lambda: seen.events)
        # The same correction again: the server drops it as a repeat.
        assert await vigie(nats_url, *requeue) == 0
        assert "duplicate of an earlier publish (FEEDS_DR seq 2)" in out_lines(capsys)[0]
        await anyio.sleep(1.0)
        assert await vigie(nats_url, "dlq", "list", "--json") == 0
        assert [d["seq"] for d in json_lines(capsys)] == [listed["seq"]]  # kept, nothing new
    [event] = seen.events
    assert event.publisher_id == "r-1"
    assert event.normalised_text == GOOD and not event.partial
    assert len(seen.dead) == 1


async def test_requeue_without_correction_dead_letters_again(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = b'{"text": "unterminated'
    bad = write(tmp_path, "bad.json", broken)
    async with pipeline(nats_url, fast_config()), collector(nats_url) as seen:
        assert await vigie(nats_url, "publish", "--subject", SUBJECT, bad) == 0
        await seen.wait_for(lambda: seen.dead)
        capsys.readouterr()
        assert await vigie(nats_url, "dlq", "list", "--json", "--label", "dr") == 0
        [first] = json_lines(capsys)
        assert first["reason"] == "invalid_json"
        assert await vigie(nats_url, "dlq", "requeue", str(first["seq"]), "--label", "dr") == 0
        assert "(original bytes)" in out_lines(capsys)[0]
        await seen.wait_for(lambda: len(seen.dead) == 2)
        assert await vigie(nats_url, "dlq", "list", "--json", "--stage", "ingest") == 0
        second, again = json_lines(capsys)
    assert again == first  # the first record stays as it was
    assert second["seq"] > first["seq"] and second["reason"] == "invalid_json"
    assert [d.data for d in seen.dead] == [broken, broken]
    assert seen.dead[1].headers.get("Nats-Msg-Id", "").startswith(f"requeue:DLQ_DR:{first['seq']}:")
    assert not seen.events


async def test_dlq_show_of_a_missing_sequence_is_one_line(
    nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with pipeline(nats_url, fast_config(), ("ingest",)):
        assert await vigie(nats_url, "dlq", "show", "7", "--label", "dr") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == "vigie: DLQ_DR has no message at seq 7 (see `vigie dlq list`)"
    assert await vigie(nats_url, "dlq", "list") == 0
