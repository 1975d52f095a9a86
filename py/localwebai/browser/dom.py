"""Tiny DOM helpers. All model-derived text goes in through ``textContent``, never as HTML."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import js
from pyodide.ffi import create_proxy

from .jsinterop import present

Handler = Callable[[Any], Awaitable[None] | None]
_listeners: list[Any] = []  # keep proxies alive for the page's lifetime
_tasks: set[asyncio.Future[None]] = set()  # running tasks (run_beside), so none is collected


def by_id(element_id: str) -> Any:
    element = js.document.getElementById(element_id)
    if element is None:
        raise LookupError(f"no element #{element_id}")
    return element


def set_text(element_id: str, text: str) -> None:
    by_id(element_id).textContent = text


def set_visible(element_id: str, visible: bool) -> None:
    by_id(element_id).hidden = not visible


def set_enabled(element_id: str, enabled: bool) -> None:
    by_id(element_id).disabled = not enabled


def value(element_id: str) -> str:
    return str(by_id(element_id).value)


def set_state(element_id: str, state: str) -> None:
    """A ``data-state`` attribute: styling hooks and something tests can wait for."""
    by_id(element_id).dataset.state = state


def append_text_element(parent: Any, tag: str, text: str, class_name: str = "") -> Any:
    element = js.document.createElement(tag)
    element.textContent = text
    if class_name:
        element.className = class_name
    parent.appendChild(element)
    return element


def closest(element: Any, selector: str) -> Any | None:
    """``element.closest(selector)``, with no match read as ``None`` (not JS ``null``)."""
    return present(element.closest(selector))


def clear(element_id: str) -> None:
    by_id(element_id).replaceChildren()


def run_beside(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` as a task of its own, kept referenced until it ends."""
    task = asyncio.ensure_future(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def on(target: Any, event: str, handler: Handler, prevent_default: bool = False) -> None:
    """Listen for ``event``; a coroutine handler runs as a task so the UI never waits on it."""

    def listener(evt: Any) -> None:
        if prevent_default:
            evt.preventDefault()
        result = handler(evt)
        if asyncio.iscoroutine(result):
            run_beside(result)

    proxy = create_proxy(listener)
    _listeners.append(proxy)
    target.addEventListener(event, proxy)
