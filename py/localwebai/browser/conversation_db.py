"""Saved conversations in IndexedDB: the core's ``ConversationDB`` over ``js.indexedDB``.

A database of its own (``conversations.DB_NAME``), never the model cache's, so clearing the cache
leaves conversations alone. One request per transaction; each call resolves once its transaction
has committed. Records cross as JSON both ways (plain values, ``None`` as ``null``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import js
from pyodide.ffi import create_proxy

from ..conversations import DB_NAME, DB_STORE, DB_VERSION, ConversationDB
from ..errors import ConversationError
from .jsinterop import error_fields, field, present, to_js_object


class IndexedDBConversations(ConversationDB):
    """One connection, opened on first use and closed when another tab upgrades or deletes the
    database (the next call opens it again)."""

    def __init__(self) -> None:
        self._db: Any = None
        self._on_version_change = create_proxy(lambda _event: self._close())

    async def put(self, record: dict[str, Any]) -> None:
        await self._run(
            "readwrite", "save", lambda store: store.put(js.JSON.parse(json.dumps(record)))
        )

    async def get(self, conversation_id: str) -> dict[str, Any] | None:
        found = await self._run("readonly", "read", lambda store: store.get(conversation_id))
        return None if present(found) is None else json.loads(js.JSON.stringify(found))

    async def delete(self, conversation_id: str) -> None:
        await self._run("readwrite", "delete", lambda store: store.delete(conversation_id))

    async def all(self) -> list[dict[str, Any]]:
        found = await self._run("readonly", "read", lambda store: store.getAll())
        return json.loads(js.JSON.stringify(found))

    async def _run(self, mode: str, action: str, work: Any) -> Any:
        """``work(store)`` makes one request in a fresh transaction; its result once committed."""
        db = await self._open()
        try:
            options = to_js_object({"durability": "strict"})
            transaction = db.transaction(DB_STORE, mode, options)
            request = work(transaction.objectStore(DB_STORE))
        except Exception as error:  # a JS exception: a closing connection, say
            raise _storage_error(action, *error_fields(error)[::2]) from None
        await _settled(transaction, action, ok="complete", failures=("error", "abort"))
        return request.result

    async def _open(self) -> Any:
        if self._db is None:
            factory = getattr(js, "indexedDB", None)
            if present(factory) is None:
                raise ConversationError(
                    "This browser offers no IndexedDB here: conversations cannot be saved."
                )
            request = factory.open(DB_NAME, DB_VERSION)
            upgrade = create_proxy(lambda _event: _create_schema(request.result))
            request.onupgradeneeded = upgrade
            try:
                await _settled(request, "open", ok="success", failures=("error",))
            finally:
                request.onupgradeneeded = None
                upgrade.destroy()
            db = request.result
            db.onversionchange = self._on_version_change
            self._db = db
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _create_schema(db: Any) -> None:
    """Version 1: one object store of records keyed by ``id``."""
    if not db.objectStoreNames.contains(DB_STORE):
        db.createObjectStore(DB_STORE, to_js_object({"keyPath": "id"}))


async def _settled(target: Any, action: str, ok: str, failures: tuple[str, ...]) -> None:
    """Wait for ``target``'s ``ok`` event; any of ``failures`` raises ConversationError."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def succeed(_event: Any) -> None:
        if not done.done():
            done.set_result(None)

    def fail(event: Any) -> None:
        if not done.done():
            cause = field(target, "error") or field(field(event, "target"), "error")
            name = str(field(cause, "name") or field(event, "type"))
            done.set_exception(_storage_error(action, name, str(field(cause, "message") or "")))

    handlers = [(ok, create_proxy(succeed))] + [(name, create_proxy(fail)) for name in failures]
    for name, handler in handlers:
        target.addEventListener(name, handler)
    try:
        await done
    finally:
        for name, handler in handlers:
            target.removeEventListener(name, handler)
            handler.destroy()


def _storage_error(action: str, name: str, message: str) -> ConversationError:
    if name == "QuotaExceededError":
        return ConversationError(
            "The browser's storage is full: the conversation was not saved. Free some space "
            "(for instance delete a cached model) and try again."
        )
    return ConversationError(
        f"The browser could not {action} saved conversations ({name}: {message})."
    )
