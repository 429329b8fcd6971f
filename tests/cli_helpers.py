"""Running the real ``pgwarden`` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PGWARDEN_", "PG")) and k not in ("COLUMNS", "LINES")
    }
    env.update({"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}, **extra)
    return env


def pgwarden(
    *args: str, cwd: Path | None = None, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgwarden", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(**env),
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def pgwarden_json(dsn: str, *args: str) -> Any:
    """``pgwarden --dsn DSN ARGS --format json``'s output; it must succeed."""
    done = pgwarden("--dsn", dsn, *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
