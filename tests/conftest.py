"""Shared pytest fixtures: the reference-data folder and session-wide artifacts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The ``shared/`` reference folder: ``$EDGE_DNN_SHARED`` or ``../shared`` beside the repo."""
    env = os.environ.get("EDGE_DNN_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path of the shared reference data; skips nothing: CI always has it."""
    p = shared_dir()
    if not (p / "caffe" / "nets").is_dir():
        pytest.fail(f"reference folder {p} not found (set EDGE_DNN_SHARED)")
    return p


@pytest.fixture(scope="session")
def nets_dir(shared: Path) -> Path:
    """``shared/caffe/nets``."""
    return shared / "caffe" / "nets"
