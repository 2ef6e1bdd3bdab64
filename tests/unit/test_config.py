"""services.config: defaults, file and environment layering, validation messages, rendering."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from bus.topology import LABELS, PRECEDENCES, TopologySettings, build_topology
from schemas.v1 import Label, Precedence
from services.config.load import (
    ConfigError,
    LoadedConfig,
    example_config_toml,
    load_config,
    render_config,
    render_config_json,
)
from services.config.schema import Config, topology_settings
from services.tasks.registry import task_registry

EXAMPLE = Path(__file__).resolve().parents[2] / "ops" / "vigie.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigie.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fails(path: Path | None = None, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    err = info.value
    assert "\n" not in str(err), "the message must be one line"
    assert str(err).startswith(f"config error in {err.source}")
    assert err.hint and err.hint in str(err)
    assert err.recoverable is False
    return err


# --- loading and layering ----------------------------------------------------------------------


def test_defaults_without_file_or_env() -> None:
    loaded = load_config(env={})
    assert loaded.config == Config()
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.path is None
    bus = loaded.config.bus
    assert (bus.ack_wait, bus.max_deliveries, bus.nak_backoff) == (10.0, 5, (1.0, 5.0, 30.0))
    assert bus.labels == ("np", "dr", "s", "ts")
    assert bus.stream_max_bytes == TopologySettings().stream_max_bytes
    assert loaded.config.nats.url is None
    assert loaded.config.ingest.tasks == task_registry().default_tasks
    assert loaded.config.tasks.target_language == "fr"
    assert loaded.config.log_level == "info"


def test_allowed_values_are_the_wire_types_and_the_task_registry() -> None:
    hints = typing.get_type_hints(Config, include_extras=True)
    assert hints
    # One copy of the wire's literals: the configuration uses the schemas' own types.
    from services.config import schema as settings

    assert (settings.Label, settings.Precedence) == (Label, Precedence)
    assert settings.Label is Label and settings.Precedence is Precedence
    assert typing.get_args(Label) == LABELS
    assert typing.get_args(Precedence) == PRECEDENCES
    assert Config().ingest.tasks == task_registry().default_tasks
    assert topology_settings(Config()).tasks == task_registry().names


def test_ingest_tasks_must_be_registered() -> None:
    err = fails(env={"VIGIE_INGEST__TASKS": "extract,inventory"})
    assert err.key == "ingest.tasks"
    assert "unknown task(s)" in err.problem
    assert ", ".join(task_registry().names) in err.hint


def test_extra_rows_must_name_a_task_row() -> None:
    err = fails(env={"VIGIE_TASKS__EXTRA_ROWS": "services.tasks.registry:SHIPPED"})
    assert err.key == "tasks.extra_rows" and "not a TaskRow" in err.problem
    err = fails(env={"VIGIE_TASKS__EXTRA_ROWS": "no.such.module:ROW"})
    assert "cannot load" in err.problem


def test_file_overrides_defaults_and_records_its_source(tmp_path: Path) -> None:
    path = write(tmp_path, 'log_level = "debug"\n[bus]\nack_wait = 20\nlabels = ["np", "s"]\n')
    loaded = load_config(path, env={})
    assert loaded.config.bus.ack_wait == 20.0
    assert loaded.config.bus.labels == ("np", "s")
    assert loaded.config.log_level == "debug"
    assert loaded.sources["bus.ack_wait"] == f"file:{path}"
    assert loaded.sources["log_level"] == f"file:{path}"
    assert loaded.sources["bus.fetch_batch"] == "default"
    assert loaded.path == path


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[bus]\nack_wait = 20\nfetch_batch = 8\n")
    env = {"VIGIE_BUS__ACK_WAIT": "30", "VIGIE_LOG_LEVEL": "warning", "PATH": "/bin"}
    loaded = load_config(path, env=env)
    assert loaded.config.bus.ack_wait == 30.0
    assert loaded.config.bus.fetch_batch == 8
    assert loaded.config.log_level == "warning"
    assert loaded.sources["bus.ack_wait"] == "env:VIGIE_BUS__ACK_WAIT"
    assert loaded.sources["bus.fetch_batch"] == f"file:{path}"
    assert loaded.sources["log_level"] == "env:VIGIE_LOG_LEVEL"


def test_vigie_config_names_the_file_and_the_argument_wins(tmp_path: Path) -> None:
    named = write(tmp_path, "[nats]\nport = 4333\n")
    assert load_config(env={"VIGIE_CONFIG": str(named)}).config.nats.port == 4333
    other = tmp_path / "other.toml"
    other.write_text("[nats]\nport = 4444\n", encoding="utf-8")
    assert load_config(other, env={"VIGIE_CONFIG": str(named)}).config.nats.port == 4444


def test_env_lists_numbers_and_none() -> None:
    env = {
        "VIGIE_BUS__NAK_BACKOFF": " 2, 4.5 ,60",
        "VIGIE_BUS__LABELS": '["np", "ts"]',
        "VIGIE_INGEST__TASKS": "extract,translate",
        "VIGIE_NATS__URL": "none",
        "VIGIE_NATS__PORT": "4333",
    }
    cfg = load_config(env=env).config
    assert cfg.bus.nak_backoff == (2.0, 4.5, 60.0)
    assert cfg.bus.labels == ("np", "ts")
    assert cfg.ingest.tasks == ("extract", "translate")
    assert cfg.nats.url is None
    assert cfg.nats.port == 4333
    url = load_config(env={"VIGIE_NATS__URL": "nats://a:4222"}).config.nats.url
    assert url == "nats://a:4222"


def test_unrelated_vigie_variables_are_left_alone() -> None:
    assert load_config(env={"VIGIE_HOME": "/srv", "VIGIE_CONFIG": ""}).config == Config()


# --- validation: one line, the key, a hint ----------------------------------------------------


def test_negative_ack_wait(tmp_path: Path) -> None:
    path = write(tmp_path, "[bus]\nack_wait = -3\n")
    err = fails(path)
    assert (err.key, err.source) == ("bus.ack_wait", f"file:{path}")
    assert str(err) == (
        f"config error in file:{path} at bus.ack_wait: expected a number ≥ 1, got -3 — "
        "set bus.ack_wait to a number of seconds between 1 and 300"
    )


def test_bad_env_value_names_the_variable() -> None:
    err = fails(env={"VIGIE_BUS__ACK_WAIT": "soon"})
    assert (err.key, err.source) == ("bus.ack_wait", "env:VIGIE_BUS__ACK_WAIT")
    assert '"soon"' in err.problem


def test_env_value_hides_a_bad_file_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[bus]\nack_wait = -3\n")
    assert load_config(path, env={"VIGIE_BUS__ACK_WAIT": "12"}).config.bus.ack_wait == 12.0


def test_unknown_key_in_file_suggests_the_closest(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "[bus]\nack_wiat = 3\n"))
    assert err.key == "bus.ack_wiat"
    assert "did you mean bus.ack_wait?" in str(err)


def test_key_in_the_wrong_section_suggests_its_section(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "ack_wait = 3\n"))
    assert err.key == "ack_wait"
    assert "did you mean bus.ack_wait?" in err.hint
    # Spelling alone would point at ingest.tasks; the exact name wins.
    err = fails(write(tmp_path, '[ingest]\nlabels = ["np"]\n'))
    assert (err.key, err.hint) == ("ingest.labels", "did you mean bus.labels?")


def test_unknown_section_and_section_not_a_table(tmp_path: Path) -> None:
    assert "did you mean bus?" in fails(write(tmp_path, "[buss]\nack_wait = 3\n")).hint
    err = fails(write(tmp_path, "bus = 3\n"))
    assert err.key == "bus"
    assert "[bus]" in err.hint


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("VIGIE_BUS_ACK_WAIT", "VIGIE_BUS__ACK_WAIT"),
        ("VIGIE_BUS__ACK_WIAT", "VIGIE_BUS__ACK_WAIT"),
        ("VIGIE_LOGLEVEL", "VIGIE_LOG_LEVEL"),
    ],
)
def test_unknown_env_variable_suggests_the_closest(name: str, suggestion: str) -> None:
    err = fails(env={name: "3"})
    assert err.source == f"env:{name}"
    assert f"did you mean {suggestion}?" in str(err)


def test_bad_toml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[bus]\nack_wait = 3\nlabels = = ["np"]\n')
    err = fails(path)
    assert err.source == f"file:{path}"
    assert "invalid TOML" in err.problem
    assert "line 3" in err.problem


@pytest.mark.parametrize("horizon", [60, 120])
def test_dedupe_horizon_must_exceed_the_duplicate_window(tmp_path: Path, horizon: int) -> None:
    err = fails(write(tmp_path, f"[bus]\ningest_dedupe_horizon = {horizon}\n"))
    assert err.key == "bus.ingest_dedupe_horizon"
    assert "must be greater than bus.feed_duplicate_window (120)" in err.problem
    assert "raise bus.ingest_dedupe_horizon" in err.hint


def test_cross_check_blames_the_value_set_by_hand() -> None:
    err = fails(env={"VIGIE_BUS__FEED_DUPLICATE_WINDOW": "90000"})
    assert (err.key, err.source) == (
        "bus.feed_duplicate_window",
        "env:VIGIE_BUS__FEED_DUPLICATE_WINDOW",
    )


def test_bad_and_repeated_labels(tmp_path: Path) -> None:
    err = fails(write(tmp_path, '[bus]\nlabels = ["np", "secret"]\n'))
    assert err.key == "bus.labels"
    assert "'secret'" in err.problem
    assert "one of np, dr, s, ts" in err.hint
    err = fails(env={"VIGIE_BUS__LABELS": "np,np"})
    assert (err.key, err.source) == ("bus.labels", "env:VIGIE_BUS__LABELS")
    assert "repeated" in err.problem


def test_bad_task(tmp_path: Path) -> None:
    err = fails(write(tmp_path, '[ingest]\ntasks = ["extract", "translat"]\n'))
    assert err.key == "ingest.tasks"
    assert "'translat'" in err.problem
    assert ", ".join(task_registry().names) in err.hint


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[bus]\nnak_backoff = []\n", "bus.nak_backoff"),
        ("[bus]\nnak_backoff = [1, -5]\n", "bus.nak_backoff"),
        ("[bus]\nmax_deliveries = 2.5\n", "bus.max_deliveries"),
        ("[nats]\nport = 70000\n", "nats.port"),
        ('[nats]\nsync_interval = "sometimes"\n', "nats.sync_interval"),
        ('[nats]\nurl = "http://example"\n', "nats.url"),
        ('[ingest]\ndefault_precedence = "URGENT"\n', "ingest.default_precedence"),
    ],
)
def test_other_invalid_values(tmp_path: Path, text: str, key: str) -> None:
    err = fails(write(tmp_path, text))
    assert err.key == key
    assert err.hint.startswith(f"set {key} to ")


def test_missing_explicit_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    err = fails(missing)
    assert err.source == f"file:{missing}"
    assert "does not exist" in err.problem
    assert "VIGIE_CONFIG" in fails(env={"VIGIE_CONFIG": str(missing)}).hint


# --- example file, rendering, helpers -----------------------------------------------------------


def test_example_file_is_up_to_date() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == example_config_toml(), (
        "regenerate with: python -c 'from services.config import example_config_toml as e; "
        'open("ops/vigie.example.toml", "w").write(e())\''
    )


def test_example_file_loads_back_to_defaults() -> None:
    loaded = load_config(EXAMPLE, env={})
    assert loaded.config == Config()
    assert loaded.sources["bus.ack_wait"] == f"file:{EXAMPLE}"
    assert loaded.sources["nats.url"] == "default"  # commented out: unset means embedded


def test_render_config_lists_every_key_with_its_source(tmp_path: Path) -> None:
    path = write(tmp_path, "[collate]\ndeadline_flash = 10\n")
    loaded = load_config(path, env={"VIGIE_BUS__ACK_WAIT": "20"})
    text = render_config(loaded)
    lines = text.splitlines()
    sections = [f"[{name}]" for name in Config.__struct_fields__ if name != "log_level"]
    assert sections[:6] == ["[nats]", "[bus]", "[ingest]", "[collate]", "[inference]", "[tasks]"]
    assert [line for line in lines if line.startswith("[")] == sections
    assert any(
        line.startswith("ack_wait = 20.0 ") and line.endswith("# env:VIGIE_BUS__ACK_WAIT")
        for line in lines
    )
    assert any(line.endswith(f"# file:{path}") for line in lines if "deadline_flash" in line)
    assignments = [line for line in lines if " = " in line and not line.startswith("#")]
    assert len(assignments) == len(loaded.sources)


def test_render_config_json() -> None:
    loaded = load_config(env={"VIGIE_BUS__LABELS": "np,dr"})
    doc = json.loads(render_config_json(loaded))
    assert doc["bus.labels"] == {"value": ["np", "dr"], "source": "env:VIGIE_BUS__LABELS"}
    assert doc["nats.url"] == {"value": None, "source": "default"}
    assert set(doc) == set(loaded.sources)


@pytest.mark.parametrize(
    ("precedence", "seconds"),
    [
        ("FLASH", 30.0),
        ("IMMEDIATE", 60.0),
        ("PRIORITY", 300.0),
        ("ROUTINE", 900.0),
        ("flash", 30.0),
    ],
)
def test_deadline_for(precedence: str, seconds: float) -> None:
    assert Config().collate.deadline_for(precedence) == seconds


def test_deadline_for_follows_configuration_and_refuses_unknown() -> None:
    collate = load_config(env={"VIGIE_COLLATE__DEADLINE_PRIORITY": "120"}).config.collate
    assert collate.deadline_for("PRIORITY") == 120.0
    with pytest.raises(ValueError, match="URGENT"):
        collate.deadline_for("URGENT")


def test_topology_settings_maps_the_bus_section() -> None:
    env = {
        "VIGIE_BUS__ACK_WAIT": "25",
        "VIGIE_BUS__FEED_DUPLICATE_WINDOW": "300",
        "VIGIE_BUS__ENRICHED_DUPLICATE_WINDOW": "7200",
        "VIGIE_BUS__INGEST_DEDUPE_HORIZON": "3600",
        "VIGIE_BUS__COLLATE_STATE_MAX_AGE": "86400",
        "VIGIE_BUS__STREAM_MAX_BYTES": str(1024**3),
        "VIGIE_BUS__LABELS": "np,s",
    }
    settings = topology_settings(load_config(env=env).config)
    assert settings == TopologySettings(
        ack_wait=25.0,
        feed_duplicate_window=300.0,
        enriched_duplicate_window=7200.0,
        ingest_dedupe_horizon=3600.0,
        collate_state_max_age=86400.0,
        stream_max_bytes=1024**3,
        labels=("np", "s"),
        tasks=task_registry().names,
    )
    topology = build_topology(settings)
    assert topology.stream("FEEDS_NP").duplicate_window == 300.0
    assert {s.label for s in topology.streams} == {"np", "s"}


def test_defaults_agree_with_the_topology_defaults() -> None:
    assert topology_settings(Config()) == TopologySettings(tasks=task_registry().names)


def test_loaded_config_is_immutable() -> None:
    loaded: LoadedConfig = load_config(env={})
    with pytest.raises(AttributeError):
        loaded.config.bus.ack_wait = 1.0  # type: ignore[misc]
