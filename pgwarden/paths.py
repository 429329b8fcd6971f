"""Where pgwarden keeps local state."""

from __future__ import annotations

from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pgwarden"))


def default_embedded_dir() -> Path:
    return default_data_dir() / "embedded"
