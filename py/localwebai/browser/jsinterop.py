"""Conversions between Python values and JS values, shared by the wrappers."""

from __future__ import annotations

from typing import Any

import js
from pyodide.ffi import JsException, jsnull, to_js
from pyscript.js_modules import glue as _glue

glue = _glue
"""``web/js/glue.js``, loaded by PyScript (see ``js_modules`` in ``web/pyscript.json``)."""


def to_js_object(value: Any) -> Any:
    """A Python dict (nested lists/dicts too) as a plain JS object, not a JS Map."""
    return to_js(value, dict_converter=js.Object.fromEntries)


def to_py_dict(value: Any) -> dict[str, Any]:
    """A plain JS object as a Python dict (deeply), JS ``null`` read as ``None`` at every depth.

    Pyodide turns ``undefined`` into ``None`` but ``null`` into ``jsnull``, which no pure-core
    code can know about: every JS record crosses into Python through here.
    """
    return _null_as_none(value.to_py() if hasattr(value, "to_py") else dict(value))


def _null_as_none(value: Any) -> Any:
    if value is jsnull:
        return None
    if isinstance(value, dict):
        return {key: _null_as_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_null_as_none(item) for item in value]
    return value


def present(value: Any) -> Any | None:
    """A JS value, with ``null`` (and ``undefined``: Pyodide gives ``None``) as ``None``."""
    return None if value is jsnull else value


def field(obj: Any, name: str) -> Any:
    """``obj.name``, with JS ``undefined`` and ``null`` both read as ``None``."""
    value = getattr(obj, name, None)
    return None if value is jsnull else value


def error_fields(error: BaseException) -> tuple[str, str | None, str]:
    """(name, wllama error type, message) of an error thrown by JS code."""
    js_error = getattr(error, "js_error", error) if isinstance(error, JsException) else error
    name = str(field(js_error, "name") or type(error).__name__)
    kind = field(js_error, "type")
    message = str(field(js_error, "message") or error)
    return name, (str(kind) if kind is not None else None), message
