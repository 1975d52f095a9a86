"""The model catalogue: curated small chat models (``web/catalogue.json``) and any Hugging Face
repository's GGUF files, with whether each fits this device and whether it is cached.

Pure: the page fetches the JSON and the hub's answers; this module validates them, builds the
download URLs (``{hub}/{repo}/resolve/main/{file}``), runs the memory estimate of
``memory.py`` on an entry's stated hyper-parameters, and matches entries with the cache's
records. The hub base URL and the catalogue's path can be overridden by the page's query
(``?hub=…&catalogue=…``; tests point them at a local fake hub).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlsplit

from .cache import ModelRecord
from .environment import Environment
from .errors import CatalogueError, HubError, HubRepoNotFoundError, NoGGUFFilesError
from .memory import MemoryEstimate, estimate_memory
from .params import LoadParams
from .sources import ModelSource
from .spec import ModelSpecification, format_bytes

SCHEMA_VERSION: Final = 1
DEFAULT_HUB: Final = "https://huggingface.co"
CATALOGUE_PATH: Final = "catalogue.json"
"""Relative to the page, as every URL of the app (``web/catalogue.json``)."""
MAX_REPO_PART: Final = 96
"""The hub's limit on the length of an owner or repository name."""

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)
"""A part of a split GGUF (``…-00001-of-00003.gguf``): not loadable as a single file here."""
_ARCHITECTURE_FIELDS: Final = ("n_layer", "n_embd", "n_head", "n_head_kv", "head_dim", "n_ff")


class CacheState(Enum):
    """Where an entry stands in the model cache."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    """Some chunks are stored; the download resumes (when the record keeps its URL)."""
    ABSENT = "absent"


@dataclass(frozen=True)
class Architecture:
    """The hyper-parameters the memory estimate needs (from the model's ``config.json``)."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    """Per-head key/value size (``n_embd / n_head`` for most models; 256 for Gemma 3)."""
    n_ff: int


@dataclass(frozen=True)
class CatalogueEntry:
    """One curated model file on the hub."""

    id: str
    name: str
    repo: str
    file: str
    parameters: str
    """As the model card says it, e.g. "1.24B"."""
    quantization: str
    size: int
    """Bytes of the file; exact when ``size_exact`` (else the model card's rounded figure)."""
    size_exact: bool
    licence: str
    context_length: int
    """Training context, tokens."""
    architecture: Architecture
    source: dict[str, str]
    """Where each fact came from (and what could not be confirmed)."""

    def url(self, hub: str = DEFAULT_HUB) -> str:
        return resolve_url(hub, self.repo, self.file)

    def specification(self, url: str) -> ModelSpecification:
        """What the memory estimate reads from a header, from the stated facts instead. The
        weights are taken as the whole file (a few MB of header more: on the safe side)."""
        arch = self.architecture
        return ModelSpecification.from_dict(
            {
                "name": self.name,
                "quantization": self.quantization,
                "layer_count": arch.n_layer,
                "embedding_length": arch.n_embd,
                "feed_forward_length": arch.n_ff,
                "context_length": self.context_length,
                "head_count": arch.n_head,
                "head_count_kv": arch.n_head_kv,
                "key_length": arch.head_dim,
                "value_length": arch.head_dim,
                "tensor_data_size": self.size,
                "source": url,
                "file_size": self.size,
            }
        )

    def details(self) -> str:
        """'Q4_K_M · 379.38 MiB · 0.49B parameters · apache-2.0 · 32,768-token context'."""
        size = format_bytes(self.size) if self.size_exact else f"about {format_bytes(self.size)}"
        return (
            f"{self.quantization} · {size} · {self.parameters} parameters · {self.licence} · "
            f"{self.context_length:,}-token context"
        )


@dataclass(frozen=True)
class PageOptions:
    """Where the page gets the catalogue and the hub from."""

    hub: str = DEFAULT_HUB
    catalogue: str = CATALOGUE_PATH

    @classmethod
    def from_query(cls, query: str) -> PageOptions:
        """Parse ``location.search``: ``hub`` is an http(s) URL or a same-origin path (a local
        mirror, the tests' fake hub); ``catalogue`` a same-origin path to a ``.json`` file."""
        values = parse_qs(query.removeprefix("?"))
        hub = values.get("hub", [DEFAULT_HUB])[-1].strip()
        catalogue = values.get("catalogue", [CATALOGUE_PATH])[-1].strip()
        return cls(hub=parse_hub(hub), catalogue=_parse_catalogue_path(catalogue))


def parse_hub(text: str) -> str:
    """A hub base URL without its trailing slash; HubError for anything else."""
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        valid = bool(parts.hostname) and not (parts.username or parts.password)
    else:
        valid = not parts.scheme and not parts.netloc and text.startswith("/")
    if not valid or parts.query or parts.fragment or text.startswith("//") or "\\" in text:
        raise HubError(
            f"The hub must be an http(s) URL or a path on this site (like /mirror), not {text!r}."
        )
    return text.rstrip("/") or "/"


def _parse_catalogue_path(text: str) -> str:
    parts = urlsplit(text)
    if (
        parts.scheme
        or parts.netloc
        or text.startswith("//")
        or "\\" in text
        or ".." in parts.path.split("/")
        or not parts.path.endswith(".json")
    ):
        raise CatalogueError(f"The catalogue must be a .json file on this site, not {text!r}.")
    return text


def parse_repo_id(text: str) -> str:
    """``owner/repo`` as typed (spaces around allowed); HubError naming the rule it breaks."""
    repo = text.strip()
    parts = repo.split("/")
    if len(parts) != 2 or not all(_valid_name(part) for part in parts):
        raise HubError(
            f"Give a Hugging Face repository as owner/name (letters, digits, '-', '_', '.'), "
            f"like bartowski/Llama-3.2-1B-Instruct-GGUF; {repo!r} is not one."
        )
    return repo


def _valid_name(part: str) -> bool:
    return (
        len(part) <= MAX_REPO_PART
        and _NAME.fullmatch(part) is not None
        and "--" not in part
        and ".." not in part
    )


def resolve_url(hub: str, repo: str, file: str) -> str:
    """The public download URL of ``file`` (a path in the repo) on the main branch."""
    return f"{hub.rstrip('/')}/{repo}/resolve/main/{quote(file, safe='/')}"


def model_api_url(hub: str, repo: str) -> str:
    """The hub's public model API; ``blobs=true`` adds each file's size to ``siblings``."""
    return f"{hub.rstrip('/')}/api/models/{repo}?blobs=true"


# ---- the catalogue file --------------------------------------------------------------------


def parse_catalogue(data: Any) -> list[CatalogueEntry]:
    """Validate ``catalogue.json`` (already parsed); CatalogueError naming the bad field."""
    if not isinstance(data, dict):
        raise CatalogueError("The model catalogue is not a JSON object.")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise CatalogueError(
            f"The model catalogue has schema_version {data.get('schema_version')!r}; "
            f"this page reads version {SCHEMA_VERSION}."
        )
    models = data.get("models")
    if not isinstance(models, list) or not models:
        raise CatalogueError("The model catalogue lists no models.")
    entries = [_entry(item, index) for index, item in enumerate(models)]
    ids = [entry.id for entry in entries]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise CatalogueError(f"The model catalogue repeats the id {duplicates[0]!r}.")
    return entries


def _entry(item: Any, index: int) -> CatalogueEntry:
    where = f"Catalogue entry {index + 1}"
    if not isinstance(item, dict):
        raise CatalogueError(f"{where} is not a JSON object.")
    if isinstance(item.get("id"), str) and item["id"]:
        where = f"Catalogue entry {item['id']!r}"

    def text(key: str) -> str:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{where}: {key} must be a non-empty string.")
        return value

    def count(mapping: dict[str, Any], key: str) -> int:
        value = mapping.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CatalogueError(f"{where}: {key} must be a positive whole number.")
        return value

    try:
        repo = parse_repo_id(text("repo"))
    except HubError as error:
        raise CatalogueError(f"{where}: {error}") from None
    file = text("file")
    if not file.lower().endswith(".gguf") or file.startswith("/") or ".." in file.split("/"):
        raise CatalogueError(f"{where}: file must be a .gguf path in the repository.")
    if not isinstance(item.get("size_exact"), bool):
        raise CatalogueError(f"{where}: size_exact must be true or false.")
    arch = item.get("architecture")
    if not isinstance(arch, dict):
        raise CatalogueError(f"{where}: architecture must be an object.")
    architecture = Architecture(**{key: count(arch, key) for key in _ARCHITECTURE_FIELDS})
    if architecture.n_head_kv > architecture.n_head:
        raise CatalogueError(f"{where}: n_head_kv cannot exceed n_head.")
    source = item.get("source")
    if (
        not isinstance(source, dict)
        or not source
        or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in source.items())
    ):
        raise CatalogueError(f"{where}: source must say, as text, where each fact came from.")
    return CatalogueEntry(
        id=text("id"),
        name=text("name"),
        repo=repo,
        file=file,
        parameters=text("parameters"),
        quantization=text("quantization"),
        size=count(item, "size"),
        size_exact=item["size_exact"],
        licence=text("licence"),
        context_length=count(item, "context_length"),
        architecture=architecture,
        source=dict(source),
    )


# ---- fit and cache state -------------------------------------------------------------------


def estimate_fit(entry: CatalogueEntry, url: str, environment: Environment) -> MemoryEstimate:
    """The memory estimate at the context a load would ask for by default (``params.py``),
    against this browser's (or machine's) limits, as the runner checks it before a load."""
    n_ctx = LoadParams.context_for(entry.context_length)
    return estimate_memory(
        entry.specification(url),
        n_ctx,
        device_memory_gib=environment.device_memory_gib,
        in_browser=not environment.native,
    )


def find_record(
    records: Sequence[ModelRecord], url: str, file_name: str, size: int | None = None
) -> ModelRecord | None:
    """The cached record of a model: downloaded from ``url``, else (another mirror, an imported
    file) one of the same file name, and of the same size when ``size`` is known."""
    for record in records:
        if record.source_url == url:
            return record
    name = file_name.rsplit("/", 1)[-1]
    for record in records:
        if record.file_name == name and (size is None or record.size == size):
            return record
    return None


def cache_state(record: ModelRecord | None) -> CacheState:
    if record is None:
        return CacheState.ABSENT
    return CacheState.COMPLETE if record.complete else CacheState.PARTIAL


def cache_text(record: ModelRecord | None) -> str:
    """'cached', 'partly downloaded: 41% (3 of 7 chunks), resumable' or 'not cached'."""
    if record is None:
        return "not cached"
    if record.complete:
        return "cached"
    resumable = ", resumable" if record.source_url is not None else ""
    return f"partly downloaded: {record.status()}{resumable}"


def action_label(record: ModelRecord | None) -> str:
    """The row's button: Load (cached), Resume (partial) or Download."""
    return {
        CacheState.COMPLETE: "Load",
        CacheState.PARTIAL: "Resume",
        CacheState.ABSENT: "Download",
    }[cache_state(record)]


def model_source(url: str, label: str, record: ModelRecord | None) -> ModelSource:
    """What the row loads: the cached record when it can complete it (a partial import cannot:
    its file is gone), else the URL (which the store caches, or resumes, by its own id)."""
    if record is not None and (record.complete or record.source_url is not None):
        return ModelSource.from_cache(record.id, label)
    return ModelSource.from_url(url)


@dataclass(frozen=True)
class CatalogueRow:
    """An entry as the page shows it here and now."""

    entry: CatalogueEntry
    url: str
    estimate: MemoryEstimate
    record: ModelRecord | None

    @property
    def state(self) -> CacheState:
        return cache_state(self.record)

    def fit_text(self) -> str:
        need = format_bytes(self.estimate.total_bytes)
        context = f"{self.estimate.n_ctx:,}-token context"
        if self.estimate.fits:
            return f"fits (needs about {need} with a {context})"
        text = f"too large for this device (needs about {need} with a {context}"
        if self.estimate.suggested_n_ctx is not None:
            return f"{text}; a {self.estimate.suggested_n_ctx:,}-token context would fit)"
        return f"{text})"

    def source(self) -> ModelSource:
        return model_source(self.url, self.entry.name, self.record)


def catalogue_rows(
    entries: Sequence[CatalogueEntry],
    records: Sequence[ModelRecord],
    environment: Environment,
    hub: str,
    absolute: Callable[[str], str] = str,
) -> list[CatalogueRow]:
    """One row per entry; ``absolute`` turns a URL relative to the page into the absolute one
    the cache keeps (the page passes ``new URL(url, location)``)."""
    rows = []
    for entry in entries:
        url = absolute(entry.url(hub))
        size = entry.size if entry.size_exact else None
        record = find_record(records, url, entry.file, size)
        rows.append(CatalogueRow(entry, url, estimate_fit(entry, url, environment), record))
    return rows


# ---- a repository on the hub ---------------------------------------------------------------


@dataclass(frozen=True)
class HubFile:
    """A GGUF file of a hub repository."""

    name: str
    """Path in the repository."""
    size: int | None
    """Bytes, when the hub said."""
    url: str

    def describe(self) -> str:
        return self.name if self.size is None else f"{self.name} ({format_bytes(self.size)})"


def parse_hub_listing(status: int, body: Any, hub: str, repo: str) -> list[HubFile]:
    """The GGUF files of ``repo`` from the model API's answer (``status`` and the JSON body,
    ``None`` when it was not JSON): ``siblings[].rfilename`` and, with ``blobs=true``, their
    ``size`` (or ``lfs.size``). Split GGUF parts are left out: they load only together."""
    if status in (401, 404):
        raise HubRepoNotFoundError(
            f"The hub has no public model repository {repo} (misspelt, private or gated?)."
        )
    if not 200 <= status < 300:
        raise HubError(f"The hub answered {status} when asked for the files of {repo}.")
    siblings = body.get("siblings") if isinstance(body, dict) else None
    if not isinstance(siblings, list):
        raise HubError(f"The hub's answer for {repo} is not a model repository's file list.")
    files, shards = [], 0
    for sibling in siblings:
        name = sibling.get("rfilename") if isinstance(sibling, dict) else None
        if not isinstance(name, str) or not name.lower().endswith(".gguf"):
            continue
        if _SHARD.search(name):
            shards += 1
            continue
        files.append(HubFile(name, _size(sibling), resolve_url(hub, repo, name)))
    if not files:
        why = f" (only {shards} parts of split files)" if shards else ""
        raise NoGGUFFilesError(f"{repo} has no single-file GGUF model{why}.")
    return sorted(files, key=lambda f: f.name.lower())


def _size(sibling: dict[str, Any]) -> int | None:
    lfs = sibling.get("lfs")
    for value in (sibling.get("size"), lfs.get("size") if isinstance(lfs, dict) else None):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None
