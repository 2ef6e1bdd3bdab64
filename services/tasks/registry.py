"""The task registry: one table, name → implementation, and what each task adds to the event.

Everything that lists tasks reads this table: the services ``vigie up`` runs and ``vigie run``
accepts, ingest's default tasks, configuration checks, the consumers and permissions of the
topology, the task wiring and collate. Adding a task is one package and one row here (or, for a
site's own task, one entry of ``tasks.extra_rows``); nothing else names it.

A row names its implementation as ``"module:function"`` and is imported only when that task
runs (as vLLM's model registry does): listing tasks costs nothing, and a task's dependencies
load in its own service only.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from services.tasks.contract import TaskLogic

#: What a task may add to the enriched event: ``translation`` / ``summary`` take the result's
#: text (and its language as the event's ``target_language``), ``entities`` are merged into the
#: event's entities, ``outputs`` carries the task's own typed output as ``outputs[<task>]``.
EventField = Literal["translation", "summary", "entities", "outputs"]

#: A task name is a subject token and a part of consumer names (``<task>-<label>-<prec>``).
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
#: Names the topology already uses beside the tasks' on ``work.<label>.*`` or for a service.
RESERVED = frozenset({"ingest", "collate", "result", "infer", "inferred", "inference"})

#: ``build(config, prompt_style) -> TaskLogic``: a task's logic for this configuration
#: (``services.config.schema.Config``; not named here: the configuration's defaults read this
#: table).
Builder = Callable[..., "TaskLogic"]


class RegistryError(ValueError):
    """A row that cannot be registered or loaded (a configuration error: not recoverable)."""


@dataclass(frozen=True)
class TaskRow:
    """One task: its name, where its logic lives, and what it adds to the event."""

    name: str
    #: ``"package.module:function"``, a :data:`Builder`, imported on first use.
    builder: str
    fills: tuple[EventField, ...]
    #: Whether ingest asks for it on each report unless ``ingest.tasks`` says otherwise.
    on_by_default: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name) or self.name in RESERVED:
            raise RegistryError(
                f"task name {self.name!r}: lower-case letters, digits and _, at most 31, "
                f"not one of {', '.join(sorted(RESERVED))}"
            )
        if ":" not in self.builder:
            raise RegistryError(f"task {self.name}: builder {self.builder!r} is not module:name")

    def load(self) -> Builder:
        module, _, attribute = self.builder.partition(":")
        try:
            builder: Builder = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise RegistryError(f"task {self.name}: cannot load {self.builder}: {exc}") from exc
        return builder


#: The shipped tasks, in the order their outcomes appear in the event.
SHIPPED: tuple[TaskRow, ...] = (
    TaskRow(
        "extract",
        "services.extract.task:build",
        fills=("entities",),
        description="entities: patterns (DTG, MGRS, lat/long) and the model's, grounded",
    ),
    TaskRow(
        "translate",
        "services.translate.task:build",
        fills=("translation",),
        description="the text in tasks.target_language, glossary and protected tokens kept",
    ),
    TaskRow(
        "summarise",
        "services.summarise.task:build",
        fills=("summary",),
        description="bottom line up front, at most tasks.summary_max_words words",
    ),
    TaskRow(
        "logstat",
        "services.logstat.task:build",
        fills=("outputs",),
        description="logistics quantities (LOGSTAT lines and free text), grounded and checked",
    ),
)


@dataclass(frozen=True)
class TaskRegistry:
    rows: tuple[TaskRow, ...]

    def __post_init__(self) -> None:
        names = [row.name for row in self.rows]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise RegistryError(f"task(s) registered twice: {', '.join(twice)}")

    def __iter__(self) -> Iterator[TaskRow]:
        return iter(self.rows)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(row.name for row in self.rows)

    @property
    def default_tasks(self) -> tuple[str, ...]:
        return tuple(row.name for row in self.rows if row.on_by_default)

    def row(self, name: str) -> TaskRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise RegistryError(f"no task {name!r}; registered: {', '.join(self.names)}")

    def fills(self) -> Mapping[str, tuple[EventField, ...]]:
        """Task name → the event fields it fills (what collate needs, and nothing else)."""
        return {row.name: row.fills for row in self.rows}


def _extra_row(reference: str) -> TaskRow:
    module, _, attribute = reference.partition(":")
    try:
        row = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise RegistryError(f"tasks.extra_rows: cannot load {reference!r}: {exc}") from exc
    if not isinstance(row, TaskRow):
        raise RegistryError(f"tasks.extra_rows: {reference} is not a TaskRow")
    return row


@cache
def _registry(extra: tuple[str, ...]) -> TaskRegistry:
    return TaskRegistry((*SHIPPED, *(_extra_row(ref) for ref in extra)))


def task_registry(extra_rows: Iterable[str] = ()) -> TaskRegistry:
    """The shipped rows plus ``extra_rows`` (``module:attribute`` of a :class:`TaskRow` each)."""
    return _registry(tuple(extra_rows))
