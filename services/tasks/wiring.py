"""Which logic each task service runs, how it prompts, and which consumers it pulls from."""

from __future__ import annotations

from pathlib import Path

from bus.topology import ConsumerSpec, Topology
from services.settings import Config
from services.tasks.prompting import PromptStyle
from services.tasks.service import TaskLogic

MODEL_TASKS: tuple[str, ...] = ("extract", "translate", "summarise")


def prompt_style(cfg: Config) -> PromptStyle:
    """The configured style, or the served model's own (its registry entry) for ``auto``."""
    if cfg.tasks.prompt_style != "auto":
        return cfg.tasks.prompt_style
    from services.inference.registry import load_registry

    inf = cfg.inference
    registry = load_registry(Path(inf.models_file) if inf.models_file else None)
    spec = registry.get(inf.model) if inf.model else registry.default_model
    return spec.prompt_style


def task_logic(name: str, cfg: Config) -> TaskLogic:
    style = prompt_style(cfg)
    t = cfg.tasks
    if name == "extract":
        from services.extract.task import ExtractTask

        return ExtractTask(style=style, with_model=t.extract_with_model, max_tokens=t.max_tokens)
    if name == "translate":
        from services.translate.glossary import Glossary
        from services.translate.task import TranslateTask

        glossary = Glossary.load(
            Path(t.glossary_dir) if t.glossary_dir else Glossary.default_directory()
        )
        return TranslateTask(
            glossary=glossary,
            target_language=t.target_language,
            style=style,
            max_tokens=t.max_tokens,
        )
    if name == "summarise":
        from services.summarise.task import SummariseTask

        return SummariseTask(
            target_language=t.target_language,
            max_words=t.summary_max_words,
            style=style,
            max_tokens=t.max_tokens,
        )
    raise ValueError(f"{name!r} is not a model task; choose one of {', '.join(MODEL_TASKS)}")


def task_consumers(name: str, topology: Topology, labels: tuple[str, ...]) -> list[ConsumerSpec]:
    """The task's reports and its engine answers, each most urgent first; answers first, as
    finishing a report in progress frees more than starting a new one."""
    return topology.consumers_for(f"inferred-{name}", labels) + topology.consumers_for(name, labels)
