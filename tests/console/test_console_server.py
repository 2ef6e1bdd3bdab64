"""The console's server side against a real nats-server: what each credential sees, revisions,
replay then live, the audit trail, dead letters, and who may reach the port."""

from __future__ import annotations

import base64
import datetime as dt
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import anyio
import nats
import orjson
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from nats.aio.client import Client

from bus.provision import provision
from bus.topology import build_topology, dlq_subject
from schemas.v1 import DeadLetter, EnrichedEvent, json_encoder
from services.config.schema import Config, topology_settings
from services.console.access import Users, hash_password
from services.console.feedback import Author, CorrectionForm, correction_sink
from services.console.server import ConsoleSettings
from services.feedback.correction import CorrectionError
from services.feedback.store import read_corrections
from services.security import keys
from tests.console.harness import EventStream, http, make_event, publish, running_console
from tests.console.harness import session_token as token_of
from tests.integration.secured import connect_as, secured_server

TOPOLOGY = build_topology(topology_settings(Config()))


async def open_bus(url: str) -> Client:
    nc = await nats.connect(url)
    await provision(nc.jetstream(), TOPOLOGY)
    return nc


async def test_a_dr_console_receives_only_what_dr_credentials_may_read(tmp_path: Path) -> None:
    async with secured_server(tmp_path) as secured:
        collate = await connect_as(secured, "collate")
        analyst = await connect_as(secured, "analyst-dr")
        # The console is asked to try every label: the SERVER refuses s and ts.
        async with running_console(
            analyst.nc, secured.topology, "analyst-dr", candidates=("np", "dr", "s", "ts")
        ) as console:
            assert console.server.bus.labels == ("np", "dr")
            assert console.server.bus.refused == ("s", "ts")
            stream = EventStream()
            async with anyio.create_task_group() as tg:
                await tg.start(stream.read, console.port, await token_of(console.port))
                for label in ("s", "ts", "np", "dr"):
                    await publish(
                        collate.nc, make_event(f"{label}-1", f"{label} SECRET", label=label)
                    )
                # Published after the s and ts events: once it is here, they had their chance.
                await anyio.sleep(0.5)
                await publish(collate.nc, make_event("dr-2", "dr after", label="dr"))
                await stream.wait_for(lambda s: any(it["id"] == "dr-2" for _, it in s.items()))
                tg.cancel_scope.cancel()
            seen = {it["label"] for _, it in stream.items()}
            assert seen == {"np", "dr"}
            assert console.server.hub.feed.get("s-1") is None
            hello = next(doc for kind, doc in stream.events if kind == "hello")
            assert hello["labels"] == ["np", "dr"] and hello["identity"] == "analyst-dr"
        await analyst.nc.close()
        await collate.nc.close()


async def test_viewing_a_report_leaves_an_audit_record_at_the_analysts_level(
    tmp_path: Path,
) -> None:
    async with secured_server(tmp_path) as secured:
        collate = await connect_as(secured, "collate")
        analyst = await connect_as(secured, "analyst-dr")
        async with running_console(analyst.nc, secured.topology, "analyst-dr") as console:
            stream = EventStream()
            async with anyio.create_task_group() as tg:
                token = await token_of(console.port)
                await tg.start(stream.read, console.port, token)
                event = make_event("np-7", "Patrouille au 31U DQ 48251 11932 à 0800Z.")
                await publish(collate.nc, event)
                await stream.wait_for(lambda s: any(it["id"] == "np-7" for _, it in s.items()))
                status, _, body = await http(
                    console.port, "GET", "/api/report/np-7", {"X-Vigie-Token": token}
                )
                assert status == 200, body
                await stream.wait_for(
                    lambda s: any(k == "audit" and d["items"] for k, d in s.events)
                )
                tg.cancel_scope.cancel()
        record = next(d["items"][0] for k, d in stream.events if k == "audit" and d["items"])
        # An np report viewed by a dr analyst: recorded at dr, never below.
        assert record["action"] == "viewed" and record["report_id"] == "np-7"
        assert record["label"] == "dr" and record["report_label"] == "np"
        assert record["identity"] == "analyst-dr"
        assert await analyst.violations() == []
        await analyst.nc.close()
        await collate.nc.close()


async def test_a_revision_replaces_the_earlier_one(nats_url: str) -> None:
    nc = await open_bus(nats_url)
    async with running_console(nc, TOPOLOGY, None) as console:
        stream = EventStream()
        async with anyio.create_task_group() as tg:
            await tg.start(stream.read, console.port, await token_of(console.port))
            await publish(nc, make_event("r1", "premier", partial=True))
            await publish(nc, make_event("other", "autre"))
            await publish(nc, make_event("r1", "premier, complet", revision=2))
            # A late copy of revision 1 changes nothing.
            await publish(nc, make_event("r1", "premier", revision=1, source="late"))
            await publish(nc, make_event("last", "dernier"))
            await stream.wait_for(lambda s: any(it["id"] == "last" for _, it in s.items()))
            tg.cancel_scope.cancel()
        changes = [(c, it["id"], it["revision"]) for c, it in stream.items()]
        assert changes == [("new", "r1", 1), ("new", "other", 1), ("revised", "r1", 2),
                           ("new", "last", 1)]  # fmt: skip
        # A page opening now sees one line per report, the revision in the first one's place.
        fresh = EventStream()
        async with anyio.create_task_group() as tg:
            await tg.start(fresh.read, console.port, await token_of(console.port))
            await fresh.wait_for(lambda s: any(k == "snapshot" for k, _ in s.events))
            tg.cancel_scope.cancel()
        snapshot = next(d for k, d in fresh.events if k == "snapshot")
        assert [(it["id"], it["revision"]) for it in snapshot["items"]] == [
            ("last", 1), ("other", 1), ("r1", 2)]  # fmt: skip
    await nc.close()


async def test_replay_of_the_last_n_then_live_without_a_gap(nats_url: str) -> None:
    nc = await open_bus(nats_url)
    for i in range(1, 6):
        await publish(nc, make_event(f"old-{i}", f"ancien {i}"))
    await publish(nc, make_event("dr-old", "ancien dr", label="dr"))
    async with running_console(nc, TOPOLOGY, None, replay=3) as console:
        await anyio.sleep(0.5)  # the replay arrives through the consumers
        stream = EventStream()
        async with anyio.create_task_group() as tg:
            await tg.start(stream.read, console.port, await token_of(console.port))
            await publish(nc, make_event("live-1", "en direct"))
            await stream.wait_for(lambda s: any(it["id"] == "live-1" for _, it in s.items()))
            tg.cancel_scope.cancel()
    ids = [(c, it["id"]) for c, it in stream.items()]
    replayed = {i for c, i in ids if c == "replayed"}
    # The last 3 of np (and the one of dr: N per label), then the live one.
    assert replayed == {"old-3", "old-4", "old-5", "dr-old"}
    assert ids[-1] == ("new", "live-1")
    await nc.close()


async def test_dead_letters_arrive_with_their_bytes_escaped(nats_url: str) -> None:
    nc = await open_bus(nats_url)
    letter = DeadLetter(
        stage="ingest", label="np", reason="invalid_json", message="not JSON",
        recoverable=False, subject="feeds.np.report.x", headers={"Nats-Msg-Id": "m1"},
        data=b"<script>alert(1)</script>\x00\xff", at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    await nc.jetstream().publish(dlq_subject("ingest", "np"), json_encoder.encode(letter))
    async with running_console(nc, TOPOLOGY, None) as console:
        await anyio.sleep(0.5)
        assert len(console.server.hub.dead) == 1
        [view] = console.server.hub.dead.newest_first()
    assert view["data"] == "<script>alert(1)</script>\\x00\\xff"
    assert view["reason"] == "invalid_json" and view["size"] == len(letter.data)
    await nc.close()


async def test_host_origin_and_session_token_are_checked(nats_url: str) -> None:
    nc = await open_bus(nats_url)
    await publish(nc, make_event("r1", "rapport"))
    await publish(nc, make_event("a/b c", "rapport"))
    async with running_console(nc, TOPOLOGY, None) as console:
        port = console.port
        await anyio.sleep(0.3)
        # A DNS-rebinding page reaches the port under its own name.
        assert (await http(port, "GET", "/", host=f"evil.example:{port}"))[0] == 421
        token = await token_of(port)
        ok = {"X-Vigie-Token": token}
        assert (await http(port, "GET", "/api/report/r1", ok))[0] == 200
        assert (await http(port, "GET", "/api/report/r1"))[0] == 403
        assert (await http(port, "GET", "/api/report/r1", {"X-Vigie-Token": "x" * 43}))[0] == 403
        cross = {**ok, "Origin": "http://evil.example"}
        assert (await http(port, "GET", "/api/report/r1", cross))[0] == 403
        same = {**ok, "Origin": f"http://127.0.0.1:{port}"}
        assert (await http(port, "GET", "/api/report/r1", same))[0] == 200
        # A report id is the publisher's: escaped in the path, whatever it holds.
        assert (await http(port, "GET", "/api/report/a%2Fb%20c", ok))[0] == 200
        assert (await http(port, "GET", "/events?token=nope"))[0] == 403
        _, headers, _ = await http(port, "GET", "/")
        assert "script-src 'self'" in headers["content-security-policy"]
        # No form: this topology declares no feedback streams.
        assert (await http(port, "POST", "/api/correction", ok, b"{}"))[0] == 404
    await nc.close()


async def test_beyond_loopback_only_with_tls_and_a_login(
    nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.cli.main import main

    # Refused at start without TLS and logins, whether the flag or the configuration asks.
    assert await anyio.to_thread.run_sync(main, ["console", "--bind", "0.0.0.0"]) == 2
    monkeypatch.setenv("VIGIE_CONSOLE__BIND", "10.0.0.1")
    assert await anyio.to_thread.run_sync(main, ["console", "--nats", nats_url]) == 2
    monkeypatch.delenv("VIGIE_CONSOLE__BIND")
    users_file = tmp_path / "users"
    users_file.write_text(f"alice:{hash_password('correct horse')}\n")
    assert (
        await anyio.to_thread.run_sync(
            main, ["console", "--bind", "0.0.0.0", "--users", str(users_file)]
        )
        == 2
    )
    # With both: HTTPS, and nothing without a login.
    tls_dir = tmp_path / "tls"
    keys.write_certs(tls_dir, ["127.0.0.1", "localhost"])
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tls_dir / keys.SERVER_CERT, tls_dir / keys.SERVER_KEY)
    client_ctx = ssl.create_default_context(cafile=str(tls_dir / keys.CA_FILE))
    settings = ConsoleSettings(
        bind="0.0.0.0", port=0, tls=server_ctx, users=Users.load(users_file),
        extra_hosts=("127.0.0.1",),
    )  # fmt: skip
    nc = await open_bus(nats_url)

    async def get(port: int, auth: str | None) -> bytes:
        async with await anyio.connect_tcp(
            "127.0.0.1", port, ssl_context=client_ctx, tls_standard_compatible=False
        ) as s:
            extra = f"Authorization: Basic {auth}\r\n" if auth else ""
            await s.send(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode())
            return await s.receive()

    async with running_console(nc, TOPOLOGY, None, settings=settings) as console:
        assert (await get(console.port, None)).startswith(b"HTTP/1.1 401")
        wrong = base64.b64encode(b"alice:wrong").decode()
        assert (await get(console.port, wrong)).startswith(b"HTTP/1.1 401")
        right = base64.b64encode(b"alice:correct horse").decode()
        assert (await get(console.port, right)).startswith(b"HTTP/1.1 200")
        # Plain HTTP to the TLS port gets no page.
        async with await anyio.connect_tcp("127.0.0.1", console.port) as plain:
            await plain.send(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{console.port}\r\n\r\n".encode())
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, OSError)):
                got = await plain.receive()
                assert not got.startswith(b"HTTP/1.1 200")
                await plain.receive()
    await nc.close()


class RecordingSink:
    """The integration point's contract, exercised: what a connected sink receives (the real
    one publishes the wire correction on the feedback subjects)."""

    def __init__(self) -> None:
        self.sent: list[tuple[CorrectionForm, str, Author]] = []

    async def send(self, form: CorrectionForm, event: EnrichedEvent, author: Author) -> str:
        self.sent.append((form, event.report_id, author))
        return f"c{len(self.sent)}"


async def test_a_connected_correction_sink_gets_the_form_and_the_audit_records_it(
    nats_url: str,
) -> None:
    nc = await open_bus(nats_url)
    await publish(nc, make_event("r1", "rapport", translation="report"))
    sink = RecordingSink()
    async with running_console(nc, TOPOLOGY, None) as console:
        console.server.sink = sink
        stream = EventStream()
        async with anyio.create_task_group() as tg:
            token = await token_of(console.port)
            await tg.start(stream.read, console.port, token)
            await stream.wait_for(lambda s: any(it["id"] == "r1" for _, it in s.items()))
            ok = {"X-Vigie-Token": token}
            _, _, body = await http(console.port, "GET", "/api/report/r1", ok)
            assert orjson.loads(body)["corrections"] is True
            form = {"report_id": "r1", "revision": 1, "task": "wordcount",
                    "field": "translation", "value": "the report", "comment": "typo"}  # fmt: skip
            status, _, body = await http(
                console.port, "POST", "/api/correction", ok, orjson.dumps(form)
            )
            assert (status, orjson.loads(body)) == (200, {"correction_id": "c1"})
            bad = await http(console.port, "POST", "/api/correction", ok, b'{"report_id": 1}')
            assert bad[0] == 400
            await stream.wait_for(
                lambda s: any(
                    k == "audit" and any(i["action"] == "corrected" for i in d["items"])
                    for k, d in s.events
                )
            )
            tg.cancel_scope.cancel()
    [(got, report_id, author)] = sink.sent
    assert (got.value, got.comment, report_id, author.identity) == (
        "the report",
        "typo",
        "r1",
        None,
    )
    await nc.close()


async def test_the_command_serves_the_page_until_stopped(nats_url: str, tmp_path: Path) -> None:
    nc = await open_bus(nats_url)
    await publish(nc, make_event("r1", "rapport"))
    command = [sys.executable, "-m", "services.cli.main", "console", "--nats", nats_url,
               "--port", "0", "--replay", "5"]  # fmt: skip
    async with await anyio.open_process(command, stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        with anyio.fail_after(30):
            line = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 4096)
        found = re.match(rb"vigie: console on http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        port = int(found.group(1))
        token = await token_of(port)
        status, _, body = await http(port, "GET", "/api/report/r1", {"X-Vigie-Token": token})
        assert status == 200 and orjson.loads(body)["label"] == "np"
        process.terminate()
        assert await process.wait() in (0, -signal.SIGTERM, 128 + signal.SIGTERM)
    await nc.close()


async def test_the_bus_sink_publishes_the_wire_correction_at_the_reports_label(
    nats_url: str,
) -> None:
    """The real sink: the form becomes a ``Correction`` on ``feedback.np.report.patrol`` (the
    event's label, kind and source), stored in FEEDBACK_NP; a report of another label than the
    analyst's is refused with the reason, and nothing is stored for it."""
    nc = await open_bus(nats_url)
    js = nc.jetstream()
    event = make_event("r9", "Deux camions au pont.", translation="Two lorries at the bridge.")
    sink = correction_sink(TOPOLOGY, js, {"wordcount": ("translation",)})
    assert sink is not None
    form = CorrectionForm("r9", 1, "wordcount", "translation", "Two trucks at the bridge.", "ok")
    correction_id = await sink.send(form, event, Author("analyst-np", "local:op", "np"))
    [stored] = await read_corrections(js, "np")
    assert (stored.correction_id, stored.translation, stored.author, stored.label) == (
        correction_id,
        "Two trucks at the bridge.",
        "local:op",
        "np",
    )
    secret = make_event("r10", "Trois chars.", label="s", translation="Three tanks.")
    with pytest.raises(CorrectionError, match="labelled s"):
        await sink.send(
            CorrectionForm("r10", 1, "wordcount", "translation", "x"),
            secret,
            Author("analyst-np", None, "np"),
        )
    with pytest.raises(CorrectionError, match="JSON list"):
        await sink.send(
            CorrectionForm("r9", 1, "wordcount", "entities", "[{"),
            event,
            Author("analyst-np", None, "np"),
        )
    assert len(await read_corrections(js, "np")) == 1
    await nc.close()
