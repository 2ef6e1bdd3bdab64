"""`vigie console`'s web server: the page, its live stream (server-sent events) and its API.

One request per connection. Every request names the console in its Host header and, when the
browser sends an Origin, comes from the console's own; the live stream and the API need the
session token the page was served with; beyond loopback every request also carries an analyst
login (over TLS: ``access.check_bind`` refuses to start otherwise).
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import anyio.to_thread
import msgspec
from anyio import aclose_forcefully
from anyio.abc import ByteStream, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.tls import TLSListener

from services.cli.trace import load as load_traces
from services.console.access import (
    ConsoleRefused,
    Session,
    Sessions,
    Users,
    allowed_hosts,
    basic_credentials,
    check_bind,
    host_ok,
    origin_ok,
)
from services.console.bus import ConsoleBus
from services.console.feedback import Author, CorrectionForm, CorrectionSink
from services.console.http import (
    MAX_BODY,
    MAX_HEAD,
    HttpError,
    Request,
    error_response,
    json_response,
    parse_head,
    response,
    sse_head,
)
from services.console.hub import Hub
from services.console.views import report_view
from services.console.waterfall import waterfall
from services.feedback.correction import CorrectionError

log = logging.getLogger("vigie.console")

LANGS = ("fr", "en")
STATIC = ("console.js", "console.css")
TOKEN_HEADER = "x-vigie-token"
#: A request's head must arrive within this; a live stream is exempt once open.
HEAD_TIMEOUT = 10.0
KEEPALIVE_S = 15.0
#: Events sent to a page in one write when it is behind.
SEND_BATCH = 256
#: Connections served at once (open pages hold one each); any more are closed at once.
MAX_CONNECTIONS = 256
_REPORT_PATH = re.compile(r"^/api/(report|trace)/([^/]{1,256})$")


class _QuietTLSListener(TLSListener):
    """A client that fails the TLS handshake (plain HTTP, a scanner) is its own problem: one
    debug line, not an error with a traceback."""

    @staticmethod
    async def handle_handshake_error(exc: BaseException, stream: Any) -> None:
        await aclose_forcefully(stream)
        if isinstance(exc, anyio.get_cancelled_exc_class()) or not isinstance(exc, Exception):
            raise exc
        log.debug("console: TLS handshake failed: %r", exc)


@dataclass
class ConsoleSettings:
    bind: str = "127.0.0.1"
    port: int = 8470
    replay: int = 50
    lang: str = "fr"
    tls: ssl.SSLContext | None = None
    users: Users | None = None
    extra_hosts: tuple[str, ...] = ()
    telemetry_dir: Path | None = None
    #: Who the audit names on loopback (no logins there): the account running the console.
    local_user: str | None = None


def static_files() -> dict[str, bytes]:
    folder = resources.files("services.console") / "static"
    return {name: (folder / name).read_bytes() for name in ("index.html", *STATIC)}


@dataclass
class ConsoleServer:
    settings: ConsoleSettings
    bus: ConsoleBus
    hub: Hub = field(default_factory=Hub)
    sink: CorrectionSink | None = None
    sessions: Sessions = field(default_factory=Sessions)
    files: dict[str, bytes] = field(default_factory=static_files)
    hosts: frozenset[str] = frozenset()
    _logins: OrderedDict[tuple[str, str], bool] = field(default_factory=OrderedDict)
    connections: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(MAX_CONNECTIONS)
    )

    @property
    def scheme(self) -> str:
        return "https" if self.settings.tls is not None else "http"

    async def run(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status`` gets the bound port."""
        s = self.settings
        check_bind(s.bind, tls=s.tls is not None, logins=s.users is not None)
        try:
            listener: Any = await anyio.create_tcp_listener(local_host=s.bind, local_port=s.port)
        except OSError as exc:
            raise ConsoleRefused(f"console: cannot listen on {s.bind}:{s.port}: {exc}") from exc
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self.hosts = allowed_hosts(s.bind, port, s.extra_hosts)
        if s.tls is not None:
            listener = _QuietTLSListener(listener, s.tls, standard_compatible=False)
        await self.bus.follow("enriched", self.hub.on_enriched)
        await self.bus.follow("dlq", self.hub.on_dead)
        await self.bus.follow("audit", self.hub.on_audit)
        log.info(
            "console on %s://%s:%d/ reading labels %s as %s",
            self.scheme,
            s.bind,
            port,
            ", ".join(self.bus.labels) or "none",
            self.bus.reader.identity or "an open server's client",
        )
        task_status.started(port)
        try:
            async with listener:
                await listener.serve(self.handle)
        finally:
            with anyio.CancelScope(shield=True):
                await self.bus.close()

    # ------------------------------------------------------------ one connection

    async def handle(self, stream: ByteStream) -> None:
        try:
            self.connections.acquire_nowait()
        except anyio.WouldBlock:
            await aclose_forcefully(stream)
            return
        try:
            await self._handle(stream)
        finally:
            self.connections.release()

    async def _handle(self, stream: ByteStream) -> None:
        async with stream:
            try:
                with anyio.fail_after(HEAD_TIMEOUT):
                    buffered = BufferedByteReceiveStream(stream)
                    head = await buffered.receive_until(b"\r\n\r\n", MAX_HEAD)
                    request = parse_head(head)
                    body = b""
                    if request.method == "POST":
                        if request.content_length > MAX_BODY:
                            raise HttpError(413, "request too large")
                        body = await buffered.receive_exactly(request.content_length)
                session, user = await self.admit(request)
                if request.method == "GET" and request.path == "/events":
                    await self.events(stream, request)
                    return
                answer = await self.route(request, body, session, user)
            except HttpError as exc:
                extra = (("WWW-Authenticate", 'Basic realm="vigie"'),) if exc.status == 401 else ()
                answer = error_response(exc, extra)
            except Exception as exc:  # a client that stalls, drops or speaks garbage: its end
                log.debug("console: connection ended: %r", exc)
                return
            try:
                await stream.send(answer)
            except Exception as exc:
                log.debug("console: could not answer: %r", exc)

    async def admit(self, request: Request) -> tuple[Session | None, str | None]:
        """Host, Origin, login; then the session token where the path needs one."""
        if not host_ok(request.header("host"), self.hosts):
            raise HttpError(421, "this console is not that host")
        if not origin_ok(request.header("origin"), self.hosts, self.scheme):
            raise HttpError(403, "cross-origin request refused")
        user = await self.login(request)
        if request.path == "/events":
            token = request.query.get("token")
        elif request.path.startswith("/api/"):
            token = request.header(TOKEN_HEADER)
        else:
            return None, user
        session = self.sessions.check(token)
        if session is None or session.user != user:
            raise HttpError(403, "no session: reload the page")
        return session, user

    async def login(self, request: Request) -> str | None:
        users = self.settings.users
        if users is None:
            return self.settings.local_user
        given = basic_credentials(request.header("authorization"))
        if given is None:
            raise HttpError(401, "login required")
        name, password = given
        key = (name, hashlib.sha256(password.encode()).hexdigest())
        ok = self._logins.get(key)
        if ok is None:
            ok = await anyio.to_thread.run_sync(users.verify, name, password)
            if ok:  # remember successes only: a wrong guess always pays the full hash
                self._logins[key] = True
                while len(self._logins) > 64:
                    self._logins.popitem(last=False)
        if not ok:
            raise HttpError(401, "login refused")
        return name

    # ------------------------------------------------------------ routes

    async def route(
        self, request: Request, body: bytes, session: Session | None, user: str | None
    ) -> bytes:
        path = request.path
        if request.method == "GET":
            if path in ("/", "/index.html"):
                return self.page(request, user)
            if path.startswith("/static/") and path[8:] in STATIC:
                name = path[8:]
                kind = "text/javascript" if name.endswith(".js") else "text/css"
                return response(200, self.files[name], f"{kind}; charset=utf-8")
            if path == "/favicon.ico":
                return response(204)
            if path == "/api/health":
                health = await self.bus.health()
                depths = {**self.hub.depths(), "connections": self.connections.borrowed_tokens}
                return json_response(200, {**health, "console": depths})
            match = _REPORT_PATH.match(request.raw_path)
            if match:
                what, report_id = match.group(1), unquote(match.group(2))
                if what == "report":
                    return await self.report(report_id, user)
                return await self.trace(report_id)
            raise HttpError(404, "no such page")
        if request.method == "POST" and path == "/api/correction":
            return await self.correction(body, user)
        raise HttpError(405 if path in ("/", "/api/correction") else 404, "not here")

    def page(self, request: Request, user: str | None) -> bytes:
        lang = request.query.get("lang", self.settings.lang)
        lang = lang if lang in LANGS else self.settings.lang
        session = self.sessions.open(user)
        # The token is URL-safe base64 and the language one of LANGS: nothing else is
        # written into the page, which is otherwise a static file.
        html = (
            self.files["index.html"]
            .replace(b"__TOKEN__", session.token.encode("ascii"))
            .replace(b"__LANG__", lang.encode("ascii"))
        )
        return response(200, html, "text/html; charset=utf-8")

    async def report(self, report_id: str, user: str | None) -> bytes:
        event = self.hub.feed.get(report_id)
        if event is None:
            raise HttpError(404, "no such report in this console's feed")
        try:
            await self.bus.record("viewed", event, user)
        except Exception as exc:
            # No record, no view: what an analyst saw must be accountable.
            log.warning("console: audit record refused (%s); report not shown", exc)
            raise HttpError(503, "the audit record could not be written") from exc
        return json_response(200, {**report_view(event), "corrections": self.sink is not None})

    async def trace(self, report_id: str) -> bytes:
        event = self.hub.feed.get(report_id)
        if event is None:
            raise HttpError(404, "no such report in this console's feed")
        directory = self.settings.telemetry_dir
        if directory is None:
            return json_response(200, {"traces": [], "directory": None})
        traces = await anyio.to_thread.run_sync(load_traces, directory, event.report_id)
        rows = waterfall(traces, event.trace_id, event.report_id)
        return json_response(200, {"traces": rows, "directory": str(directory)})

    async def correction(self, body: bytes, user: str | None) -> bytes:
        if self.sink is None:
            raise HttpError(404, "corrections are not available on this deployment")
        try:
            form = msgspec.json.decode(body, type=CorrectionForm)
        except msgspec.DecodeError as exc:
            raise HttpError(400, f"bad correction: {exc}") from exc
        event = self.hub.feed.get(form.report_id)
        if event is None:
            raise HttpError(404, "no such report in this console's feed")
        reader = self.bus.reader
        author = Author(reader.identity, user, reader.level)
        try:
            correction_id = await self.sink.send(form, event, author)
        except CorrectionError as exc:
            raise HttpError(400, f"correction refused: {exc}") from exc
        detail = f"{form.task}/{form.field}: {form.comment or ''}"[:4096]
        await self.bus.record("corrected", event, user, detail)
        return json_response(200, {"correction_id": correction_id})

    # ------------------------------------------------------------ the live stream

    def hello(self, user: str | None) -> dict[str, Any]:
        return {
            "labels": list(self.bus.labels),
            "refused": list(self.bus.refused),
            "identity": self.bus.reader.identity,
            "user": user,
            "corrections": self.sink is not None,
            "replay": self.bus.replay,
        }

    async def events(self, stream: ByteStream, request: Request) -> None:
        session = self.sessions.check(request.query.get("token"))
        send, receive = self.hub.attach()
        try:
            await stream.send(sse_head())
            for data in self.hub.snapshot(self.hello(session.user if session else None)):
                await stream.send(data)
            async with receive:
                while True:
                    with anyio.move_on_after(KEEPALIVE_S) as waited:
                        first = await receive.receive()
                    if waited.cancelled_caught:
                        await stream.send(b": keepalive\n\n")
                        continue
                    batch = [first]
                    while len(batch) < SEND_BATCH:
                        try:
                            batch.append(receive.receive_nowait())
                        except anyio.WouldBlock:
                            break
                    await stream.send(b"".join(batch))
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return  # dropped by the hub: the page reconnects for a fresh snapshot
        finally:
            self.hub.detach(send, receive)
