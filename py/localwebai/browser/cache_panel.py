"""The "Cached in this browser" panel: cached models with load/resume and delete, storage use,
and the persistent-storage request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import js

from ..cache import ModelCache, ModelRecord, describe_record, describe_storage
from ..sources import ModelSource
from . import dom
from .cache_store import request_persistence, storage_state

ACTION_IDS = ("persist-storage", "clear-cache")


class CachePanel:
    """Lists the cache; loading goes through ``on_load`` (the app's model task)."""

    def __init__(
        self,
        cache: ModelCache,
        on_load: Callable[[ModelSource], None],
        on_error: Callable[[Exception], None],
        on_records: Callable[[list[ModelRecord]], Awaitable[None]],
    ) -> None:
        self.cache = cache
        self.on_load = on_load
        self.on_error = on_error
        self.on_records = on_records
        """Given the records after each refresh (the catalogue shows what is cached too)."""
        self.enabled = False

    def wire(self) -> None:
        dom.on(dom.by_id("persist-storage"), "click", lambda _: self.persist())
        dom.on(dom.by_id("clear-cache"), "click", lambda _: self.clear())

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        for element_id in ACTION_IDS:
            dom.set_enabled(element_id, enabled)
        for button in js.document.querySelectorAll("#cached-model-list button"):
            button.disabled = not enabled

    async def refresh(self) -> None:
        """Re-read the cache and the storage estimate; a failure is shown, never raised."""
        try:
            records = await self.cache.models()
            state = await storage_state()
        except Exception as error:  # shown in the page, never raised into the event loop
            self.on_error(error)
            return
        dom.clear("cached-model-list")
        target = dom.by_id("cached-model-list")
        for record in records:
            self._add_row(target, record)
        dom.set_visible("cache-empty", not records)
        dom.set_text("storage-estimate", describe_storage(state.estimate, state.persisted))
        dom.by_id("cache-panel").dataset.persisted = str(state.persisted).lower()
        self.set_enabled(self.enabled)
        await self.on_records(records)

    def _add_row(self, target: Any, record: ModelRecord) -> None:
        item = dom.append_text_element(target, "li", "")
        item.dataset.modelId = record.id
        item.dataset.complete = str(record.complete).lower()
        resumable = record.complete or record.source_url is not None
        load = dom.append_text_element(
            item, "button", "Load" if record.complete else "Resume", "load-cached"
        )
        load.type = "button"
        load.hidden = not resumable
        dom.append_text_element(item, "span", f" {record.label} ", "name")
        dom.append_text_element(item, "span", describe_record(record), "muted details")
        delete = dom.append_text_element(item, "button", "Delete", "delete-cached")
        delete.type = "button"
        source = ModelSource.from_cache(record.id, record.label)
        dom.on(load, "click", lambda _: self.on_load(source))
        dom.on(delete, "click", lambda _: self.delete(record.id))

    async def delete(self, model_id: str) -> None:
        await self.cache.delete(model_id)
        await self.refresh()

    async def clear(self) -> None:
        if js.window.confirm("Delete every cached model from this browser?"):
            await self.cache.clear()
            await self.refresh()

    async def persist(self) -> None:
        granted = await request_persistence()
        dom.set_text(
            "persist-answer",
            "The browser will keep the cache."
            if granted
            else "The browser declined: it may evict the cache when disk space runs low.",
        )
        await self.refresh()
