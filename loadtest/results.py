"""How every benchmark hands back its result: indented JSON in a file and on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_result(out: str, result: Any) -> None:
    text = json.dumps(result, indent=2)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text + "\n")
    print(text)
