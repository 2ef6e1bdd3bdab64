"""How every benchmark hands back its result: indented JSON in a file and on stdout."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from bus.host import cpu_model


def machine() -> dict[str, Any]:
    """Where a result was measured (recorded with every result: absolute figures drift)."""
    return {
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_result(out: str, result: Any) -> None:
    text = json.dumps(result, indent=2)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text + "\n")
    print(text)
