"""The ``vigie`` command line: one parser, one clear line per error."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

import anyio

from bus.connect import BusUnreachable
from bus.embedded import EmbeddedServerError
from bus.provision import ProvisionError
from bus.publish import PublishError
from bus.purge import PurgeError
from bus.security.client import SecurityError
from services.catalogue import ModelError
from services.config.load import ConfigError, LoadedConfig, load_config
from services.console.access import ConsoleRefused
from services.runtime import ServiceBroken
from services.translate.glossary import GlossaryError

Command = Callable[[argparse.Namespace, LoadedConfig], Awaitable[int]]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from services.cli import dlq, health, inspect, models, ops, publish, serve

    parser = _Parser(prog="vigie", description="Vigie: streaming enrichment over NATS JetStream")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (default: $VIGIE_CONFIG; see `vigie config`)",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    from services.cli import bench, chaos, console, feedback, finetune, loadtest, trace
    from services.cli import eval as eval_cli

    for module in (
        serve,
        publish,
        inspect,
        health,
        dlq,
        models,
        ops,
        loadtest,
        bench,
        chaos,
        trace,
        console,
        eval_cli,
        feedback,
        finetune,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        print(f"vigie: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, loaded.config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    command: Command = args.func
    try:
        return anyio.run(command, args, loaded, backend_options=_backend_options())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        known = _known_error(exc)
        if known is None:
            raise
        print(f"vigie: {_one_line(known)}", file=sys.stderr)
        return 1


def _backend_options() -> dict[str, bool]:
    """uvloop where it is installed: the services spend most of their CPU in the event loop."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {}
    return {"use_uvloop": True}


_KNOWN = (
    BusUnreachable,
    EmbeddedServerError,
    PublishError,
    ConfigError,
    ProvisionError,
    ModelError,
    ServiceBroken,
    GlossaryError,
    SecurityError,
    PurgeError,
    ConsoleRefused,
)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, EmbeddedServerError):
        last = f" — last server output: {exc.log_tail[-1].strip()}" if exc.log_tail else ""
        return f"{exc.message}{last}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _known_error(exc: BaseException) -> BaseException | None:
    """The user-facing error inside ``exc`` (task groups wrap errors in exception groups)."""
    if isinstance(exc, _KNOWN):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _known_error(inner)
            if found is not None:
                return found
    return None


if __name__ == "__main__":
    sys.exit(main())
