"""The native runtime's tests need llama-cpp-python and the test models: skipped without them."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install .[native])")
