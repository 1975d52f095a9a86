"""Shared test fixtures: paths to the repo and to the generated test models."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "models"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder `scripts/make_test_models.py` fills; fail loudly when it was not run."""
    if not (MODELS_DIR / "tiny-llama.gguf").is_file():
        pytest.fail("test models missing: run `python scripts/make_test_models.py` first")
    return MODELS_DIR
