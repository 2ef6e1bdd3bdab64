"""The arrows docs/ARCHITECTURE.md allows, checked on the code's own imports (lazy ones included).

Every ``import``/``from … import`` statement of every module is read with ``ast`` — inside
functions too, since a lazy import is still a dependency — and the rules below are checked on
the resulting graph. A new arrow that breaks a rule fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

from services.tasks.registry import SHIPPED

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "bus", "services", "loadtest")
TASK_PACKAGES = tuple(f"services.{row.name}" for row in SHIPPED)
TRANSPORT = ("nats", "opentelemetry")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


@cache
def imports(module: str) -> frozenset[str]:
    """Every module ``module`` names in an import statement (resolved relative imports)."""
    tree = ast.parse(modules()[module].read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # ``from package import submodule`` names the submodule too.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def ours(name: str) -> str | None:
    """The project module ``name`` refers to, or None for a third-party or stdlib one."""
    while name:
        if name in modules():
            return name
        name = name.rpartition(".")[0]
    return None


def within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def edges() -> list[tuple[str, str]]:
    return sorted(
        {(m, target) for m in modules() for i in imports(m) if (target := ours(i)) and target != m}
    )


def closure(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += [t for i in imports(current) if (t := ours(i))]
    return seen


def test_schemas_import_nothing_of_ours() -> None:
    bad = [(a, b) for a, b in edges() if within(a, ["schemas"]) and not within(b, ["schemas"])]
    assert bad == []


def test_the_bus_knows_no_service_no_task_and_no_engine() -> None:
    bad = [(a, b) for a, b in edges() if within(a, ["bus"]) and not within(b, ["bus", "schemas"])]
    assert bad == []


def test_the_load_tester_is_a_client_of_the_bus() -> None:
    allowed = ["bus", "schemas", "loadtest"]
    bad = [(a, b) for a, b in edges() if within(a, ["loadtest"]) and not within(b, allowed)]
    assert bad == []


def test_task_packages_do_not_import_each_other_nor_the_engine() -> None:
    bad = [
        (a, b)
        for a, b in edges()
        for task in TASK_PACKAGES
        if within(a, [task])
        and (
            within(b, ["services.inference"]) or within(b, [t for t in TASK_PACKAGES if t != task])
        )
    ]
    assert bad == []


def test_the_engine_knows_no_task() -> None:
    banned = [*TASK_PACKAGES, "services.tasks", "services.domain"]
    bad = [(a, b) for a, b in edges() if within(a, ["services.inference"]) and within(b, banned)]
    assert bad == []


PURE = [
    "services.domain",
    "services.grammar",
    "services.catalogue",
    "services.tasks.contract",
    "services.tasks.prompting",
    "services.tasks.registry",
    "services.tasks.text",
    "services.collate.logic",
    "services.ingest.parse",
    "bus.outcomes",
    # Corrections and training sets: built and checked from plain values.
    "services.feedback.correction",
    "services.feedback.dataset",
    "services.finetune.examples",
    "services.inference.adapters",
    # The analyst console's access rules, views, stores and HTTP parsing.
    *(f"services.console.{m}" for m in ("access", "views", "feed", "http")),
    *(f"{task}.task" for task in TASK_PACKAGES),
    # The evaluator's scoring (services/evaluation): plain values in, figures out.
    *(
        f"services.evaluation.{m}"
        for m in (
            "gold",
            "text",
            "translation",
            "entities",
            "quantities",
            "summary",
            "flags",
            "score",
            "aggregate",
            "markdown",
            "progress",
            "protection",
        )
    ),
]


@pytest.mark.parametrize("prefix", PURE)
def test_pure_code_reaches_no_transport(prefix: str) -> None:
    for module in [m for m in modules() if within(m, [prefix])]:
        reached = closure(module)
        third_party = {i for m in reached for i in imports(m) if ours(i) is None}
        leaks = sorted(i for i in third_party if within(i, TRANSPORT))
        assert leaks == [], f"{module} reaches {leaks} through {sorted(reached)}"


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for a, b in edges():
        graph[a].add(b)
    # Tarjan's strongly connected components; a component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_only_the_registry_names_the_shipped_tasks() -> None:
    """No literal task name outside the registry and the task's own package (tests and docs
    aside): everything else derives its lists from the registry."""
    offenders = {}
    for row in SHIPPED:
        quoted = (f'"{row.name}"', f"'{row.name}'")
        offenders[row.name] = sorted(
            module
            for module, path in modules().items()
            if module != "services.tasks.registry"
            and not within(module, [f"services.{row.name}"])
            and any(q in path.read_text("utf-8") for q in quoted)
        )
    assert offenders == {row.name: [] for row in SHIPPED}
