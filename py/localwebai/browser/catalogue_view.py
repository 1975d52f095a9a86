"""The "Catalogue" section of the models dialog: curated models (``catalogue.json``) with fit and
cache state, and the GGUF files of any Hugging Face repository typed as ``owner/repo``.

Loading goes through ``on_load`` (the app's model task: the one progress bar, Cancel, cache and
resume). Decisions are the core's (``localwebai.catalogue``); model-derived text goes in through
``textContent``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsException

from ..cache import ModelCache, ModelRecord
from ..catalogue import (
    CatalogueEntry,
    CatalogueRow,
    HubFile,
    PageOptions,
    action_label,
    cache_state,
    cache_text,
    catalogue_rows,
    find_record,
    model_api_url,
    model_source,
    parse_catalogue,
    parse_hub_listing,
    parse_repo_id,
)
from ..environment import Environment
from ..errors import CatalogueError, LocalWebAIError, NetworkError
from ..sources import ModelSource
from . import dom
from .blobs import fetch_json
from .jsinterop import to_py_dict
from .status import failure_message

BUTTONS = "#catalogue-list button, #hub-files button, #hub-repo-form button"


def absolute_url(url: str) -> str:
    """``url`` resolved against the page, as the cache records it."""
    return str(js.URL.new(url, js.location.href).href)


class CatalogueView:
    """Lists the catalogue and a hub repository's files; each row loads through ``on_load``."""

    def __init__(
        self,
        cache: ModelCache,
        environment: Environment,
        on_load: Callable[[ModelSource], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        self.cache = cache
        self.environment = environment
        self.on_load = on_load
        self.on_error = on_error
        self.enabled = True
        self.options = PageOptions()
        self._hub_files: list[HubFile] = []
        self._entries: list[CatalogueEntry] | None = None

    def wire(self) -> None:
        """Read the page's ``?hub=`` / ``?catalogue=`` and listen to the repository form."""
        try:
            self.options = PageOptions.from_query(str(js.location.search))
        except LocalWebAIError as error:
            self.on_error(error)
        form = dom.by_id("hub-repo-form")
        dom.on(
            form, "submit", lambda _: self.list_repo(dom.value("hub-repo")), prevent_default=True
        )

    def set_enabled(self, enabled: bool) -> None:
        """Rows cannot start a load while another runs."""
        self.enabled = enabled
        for button in js.document.querySelectorAll(BUTTONS):
            button.disabled = not enabled

    async def refresh(self, records: list[ModelRecord]) -> None:
        """Show the catalogue against the cache's ``records`` (the cached-models panel reads
        them); the catalogue file is fetched once. A failure is shown, never raised."""
        try:
            if self._entries is None:
                data = await fetch_json(self.options.catalogue)
                if data is None:
                    raise CatalogueError(
                        f"The model catalogue {self.options.catalogue} is missing."
                    )
                self._entries = parse_catalogue(data)
            entries = self._entries
        except Exception as error:  # shown in the page, never raised into the event loop
            self.on_error(error)
            return
        rows = catalogue_rows(entries, records, self.environment, self.options.hub, absolute_url)
        dom.clear("catalogue-list")
        target = dom.by_id("catalogue-list")
        for row in rows:
            self._add_row(target, row)
        self._render_hub_files(records)
        self.set_enabled(self.enabled)

    def _add_row(self, target: Any, row: CatalogueRow) -> None:
        item = dom.append_text_element(target, "li", "", "catalogue-entry")
        item.dataset.entryId = row.entry.id
        item.dataset.fits = str(row.estimate.fits).lower()
        item.dataset.cache = row.state.value
        button = dom.append_text_element(item, "button", action_label(row.record), "catalogue-load")
        button.type = "button"
        dom.append_text_element(item, "span", row.entry.name, "name")
        dom.append_text_element(item, "span", row.entry.details(), "muted details")
        fit = dom.append_text_element(item, "span", row.fit_text(), "fit")
        fit.classList.toggle("too-large", not row.estimate.fits)
        dom.append_text_element(item, "span", cache_text(row.record), "cache-state")
        source = row.source()
        dom.on(button, "click", lambda _: self.on_load(source))

    # ---- a hub repository -----------------------------------------------------------------

    async def list_repo(self, text: str) -> None:
        """List ``owner/repo``'s GGUF files (the hub's public model API)."""
        self._hub_files = []
        dom.clear("hub-files")
        status = dom.by_id("hub-status")
        try:
            repo = parse_repo_id(text)
            status.dataset.state = "listing"
            dom.set_text("hub-status", f"Listing {repo}…")
            code, body = await _get_json(model_api_url(self.options.hub, repo))
            self._hub_files = parse_hub_listing(code, body, self.options.hub, repo)
            records = await self.cache.models()
        except Exception as error:
            status.dataset.state = "error"
            dom.set_text("hub-status", failure_message(error))
            return
        status.dataset.state = "listed"
        count = len(self._hub_files)
        dom.set_text("hub-status", f"{count} GGUF file{'s' if count != 1 else ''} in {repo}.")
        self._render_hub_files(records)
        self.set_enabled(self.enabled)

    def _render_hub_files(self, records: list[ModelRecord]) -> None:
        dom.clear("hub-files")
        target = dom.by_id("hub-files")
        for hub_file in self._hub_files:
            url = absolute_url(hub_file.url)
            record = find_record(records, url, hub_file.name, hub_file.size)
            item = dom.append_text_element(target, "li", "", "hub-file")
            item.dataset.file = hub_file.name
            item.dataset.cache = cache_state(record).value
            button = dom.append_text_element(item, "button", action_label(record), "hub-load")
            button.type = "button"
            dom.append_text_element(item, "span", hub_file.describe(), "name")
            dom.append_text_element(item, "span", cache_text(record), "muted cache-state")
            source = model_source(url, hub_file.name, record)
            dom.on(button, "click", lambda _, s=source: self.on_load(s))


async def _get_json(url: str) -> tuple[int, Any]:
    """GET ``url``: its status and its JSON body (``None`` when the body is not JSON)."""
    try:
        response = await js.fetch(url)
    except JsException as error:
        raise NetworkError(f"Could not reach the hub at {url}: {error}.") from None
    try:
        body = to_py_dict(await response.json())
    except JsException:
        body = None
    return int(response.status), body
