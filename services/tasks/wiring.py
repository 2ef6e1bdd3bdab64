"""Which logic each task service runs, how it prompts, and which consumers it pulls from."""

from __future__ import annotations

from bus.topology import ConsumerSpec, Topology
from services.catalogue import prompt_style as catalogue_prompt_style
from services.config.schema import Config
from services.tasks.contract import TaskLogic
from services.tasks.prompting import PromptStyle
from services.tasks.registry import task_registry


def prompt_style(cfg: Config) -> PromptStyle:
    """The configured style, or, for ``auto``, the served model's own from the model catalogue
    (a file read, not the engine: a task service starts whether or not the engine is up)."""
    if cfg.tasks.prompt_style != "auto":
        return cfg.tasks.prompt_style
    return catalogue_prompt_style(cfg.inference.models_file, cfg.inference.model)


def task_logic(name: str, cfg: Config) -> TaskLogic:
    """The logic of the registry's task ``name`` under this configuration."""
    build = task_registry(cfg.tasks.extra_rows).row(name).load()
    return build(cfg, prompt_style(cfg))


def task_consumers(name: str, topology: Topology, labels: tuple[str, ...]) -> list[ConsumerSpec]:
    """The task's reports and its engine answers, each most urgent first; answers first, as
    finishing a report in progress frees more than starting a new one."""
    return topology.consumers_for(f"inferred-{name}", labels) + topology.consumers_for(name, labels)
