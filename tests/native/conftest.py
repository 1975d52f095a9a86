"""The native runtime's tests need llama-cpp-python: without it they fail, saying how to get it."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(autouse=True, scope="session")
def _llama_cpp_installed() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed: python -m pip install -e '.[dev,native]'")
