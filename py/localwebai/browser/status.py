"""The page's status line and error box: how every view says what is happening, or what failed.

``PageStatus.set`` writes the status and tells each listener (a view that is enabled only in
some states, such as the benchmark panel); ``failure_message`` is the one way a failure becomes
text, in every view.
"""

from __future__ import annotations

from collections.abc import Callable

import js

from ..errors import LocalWebAIError
from . import dom

READY = "ready"
MODEL_READY = "model-ready"


def failure_message(error: Exception) -> str:
    """The message for the page: ours as written; anything else is a bug, shown and logged."""
    if isinstance(error, LocalWebAIError):
        return str(error)
    js.console.error(f"unexpected {type(error).__name__}: {error}")
    return f"Unexpected error ({type(error).__name__}): {error}"


class PageStatus:
    """``#status`` (with ``<body data-state>`` for tests) and ``#error``."""

    def __init__(self) -> None:
        self.state = ""
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(state)`` after every change of state."""
        self._listeners.append(listener)

    def set(self, state: str, text: str) -> None:
        self.state = state
        dom.set_text("status", text)
        dom.set_state("status", state)
        js.document.body.dataset.state = state
        for listener in self._listeners:
            listener(state)

    def show_error(self, message: str) -> None:
        dom.set_text("error", message)
        dom.set_visible("error", True)

    def clear_error(self) -> None:
        dom.set_text("error", "")
        dom.set_visible("error", False)

    def report(self, error: Exception) -> None:
        """Show a failure in the error box."""
        self.show_error(failure_message(error))
