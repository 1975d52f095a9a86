"""Shared test fixtures: the generated test models, serve.py on a free port, and a browser page
that may only talk to that server (any other request fails the test). What they are built on is
in tests/support/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import serve
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, booted_app
from tests.support.models import (
    LARGE_MODEL_VOCAB,
    LARGE_MODELS,
    MODELS_DIR,
    OVERSIZED_MODEL,
    write_large_model,
    write_oversized_model,
)
from tests.support.server import MisbehavingHandler, serve_py

pytest_plugins = ["tests.support.crash_report"]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder `scripts/make_test_models.py` fills; fail loudly when it was not run."""
    if not (MODELS_DIR / "tiny-llama.gguf").is_file():
        pytest.fail("test models missing: run `python scripts/make_test_models.py` first")
    return MODELS_DIR


@pytest.fixture(scope="session")
def served_models_dir(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the test server lists: the test models (hard links) plus the oversized header."""
    served = tmp_path_factory.mktemp("served-models")
    for model in models_dir.glob("*.gguf"):
        try:
            os.link(model, served / model.name)
        except OSError:
            shutil.copy2(model, served / model.name)
    write_oversized_model(served / OVERSIZED_MODEL)
    return served


@pytest.fixture(scope="session", params=sorted(LARGE_MODELS))
def large_model(request: pytest.FixtureRequest, served_models_dir: Path, models_dir: Path) -> str:
    """Name of a served model over 2 GiB, then one over 3 GiB (weights all zero; see
    ``write_large_model``)."""
    name = request.param
    vocab = models_dir / "vocab" / LARGE_MODEL_VOCAB
    write_large_model(served_models_dir / name, vocab, LARGE_MODELS[name])
    return name


@pytest.fixture(scope="session")
def oversized_model(served_models_dir: Path) -> str:
    """Name of the served model whose header claims more memory than a tab has."""
    return OVERSIZED_MODEL


@pytest.fixture(scope="session")
def app_server(served_models_dir: Path) -> Iterator[serve.AppServer]:
    """serve.py in a thread on a free port, serving the test models under /models/."""
    with serve_py(served_models_dir, handler=MisbehavingHandler) as server:
        yield server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium (never a downloaded browser) with the flags that work offline here."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def app_page(page, app_server: serve.AppServer):
    """The app, booted to "Python ready", in a context where non-local requests fail the test."""
    with booted_app(page, app_server) as booted:
        yield booted


@pytest.fixture
def persistent_app_page(browser_type, browser_type_launch_args, app_server, tmp_path):
    """Like ``app_page``, in a browser with an on-disk profile: the only kind in which Chromium
    enforces a quota set with ``Storage.overrideQuotaForOrigin``."""
    profile = tmp_path / "profile"
    context = browser_type.launch_persistent_context(profile, **browser_type_launch_args)
    try:
        with booted_app(context.new_page(), app_server) as booted:
            yield booted
    finally:
        context.close()
