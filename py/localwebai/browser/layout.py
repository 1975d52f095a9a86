"""The page's frame: the views one click away (as dialogs) and the collapsible sidebar."""

from __future__ import annotations

from typing import Any

import js

from . import dom

DIALOG_BUTTONS = {
    "open-models": "models-dialog",
    "welcome-models": "models-dialog",
    "open-details": "details-dialog",
    "open-params": "params-dialog",
    "open-bench": "bench-dialog",
    "open-similarity": "similarity-dialog",
}
NARROW = "(max-width: 760px)"
"""Where the sidebar is a drawer over the chat (as in app.css), closed until asked for."""


def open_dialog(dialog_id: str) -> None:
    dialog = dom.by_id(dialog_id)
    if not dialog.open:
        dialog.showModal()


def close_dialog(dialog_id: str) -> None:
    dom.by_id(dialog_id).close()


def _close_parent_dialog(event: Any) -> None:
    event.target.closest("dialog").close()


def _toggle_sidebar(_event: Any) -> None:
    narrow = bool(js.window.matchMedia(NARROW).matches)
    body = js.document.body.classList
    shown = body.toggle("sidebar-open") if narrow else not body.toggle("sidebar-closed")
    dom.by_id("sidebar-toggle").setAttribute("aria-expanded", "true" if shown else "false")


def wire_layout() -> None:
    for button_id, dialog_id in DIALOG_BUTTONS.items():
        dom.on(dom.by_id(button_id), "click", lambda _, d=dialog_id: open_dialog(d))
    for button in js.document.querySelectorAll("dialog .close"):
        dom.on(button, "click", _close_parent_dialog)
    dom.on(dom.by_id("sidebar-toggle"), "click", _toggle_sidebar)
    narrow = bool(js.window.matchMedia(NARROW).matches)
    dom.by_id("sidebar-toggle").setAttribute("aria-expanded", "false" if narrow else "true")
    dom.set_enabled("open-models", True)
