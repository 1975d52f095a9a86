"""Saved conversations: the record, its JSON file format, Markdown export, and the store.

Pure Python over one small interface, :class:`ConversationDB` (IndexedDB in the page, a dict in
CPython tests). The stored record and the exported ``.json`` file are the same document, with a
format name and version; reading one validates it strictly, so a wrong or damaged file gets a
clear :class:`~localwebai.errors.ConversationError` instead of a broken chat. Conversations live
in a database of their own, never the model cache's: clearing the cache leaves them alone.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .chat import Message
from .errors import ConversationError

DB_NAME = "localwebai-conversations"
"""The IndexedDB database of saved conversations (the model cache's is ``localwebai``)."""
DB_VERSION = 1
"""Schema version of that database: one object store, :data:`DB_STORE`, keyed by ``id``."""
DB_STORE = "conversations"

FILE_FORMAT = "localwebai-conversation"
FORMAT_VERSION = 1
"""Version of the record layout, in the database and in exported files alike."""

ROLES = ("user", "assistant")
"""Roles of a conversation's messages; the system prompt is a field of its own."""
TITLE_LENGTH = 40
"""Characters of the first user message a default title keeps."""
UNTITLED = "New chat"
MAX_FILE_BYTES = 16 << 20
MAX_MESSAGES = 10_000
MAX_TEXT = 1_000_000
"""Characters of one message, or of the system prompt."""
MAX_TITLE = 200
MAX_PARAMS = 64
MAX_PARAM_NAME = 64
MAX_PARAM_VALUE = 100_000
"""Characters of one parameter field (a JSON schema or a grammar may be long)."""
MAX_ID = 100
_FIELDS = frozenset(
    (
        "format",
        "version",
        "id",
        "title",
        "created_ms",
        "updated_ms",
        "system_prompt",
        "params",
        "model",
        "messages",
    )
)


@dataclass
class Conversation:
    """One saved chat: its messages and the settings it was held with."""

    id: str
    title: str
    created_ms: int
    updated_ms: int
    system_prompt: str = ""
    params: dict[str, str] = field(default_factory=dict)
    """The parameter form's fields as typed, e.g. ``{"temperature": "0.7", "mode": "chat"}``."""
    model: str = ""
    """The name of the model it was held with; empty when unknown."""
    messages: list[Message] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The stored record (and file contents): plain JSON values."""
        return {
            "format": FILE_FORMAT,
            "version": FORMAT_VERSION,
            "id": self.id,
            "title": self.title,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "system_prompt": self.system_prompt,
            "params": dict(self.params),
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
        }

    def to_json(self) -> str:
        """The exported ``.json`` file; :func:`conversation_from_json` reads it back."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    def to_markdown(self) -> str:
        """The exported ``.md`` file: title, model, system prompt, then each turn under its role.
        Contents are written as they are (replies are Markdown already)."""
        parts = [f"# {_one_line(self.title) or UNTITLED}", f"Model: {self.model or 'unknown'}"]
        if self.system_prompt:
            parts += ["## System prompt", self.system_prompt]
        for message in self.messages:
            parts += [f"## {message.role.capitalize()}", message.content]
        return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class ConversationSummary:
    """What the sidebar lists of a conversation."""

    id: str
    title: str
    updated_ms: int
    message_count: int
    model: str


class ConversationDB(Protocol):
    """Persistent storage of conversation records (plain dicts keyed by ``id``)."""

    async def put(self, record: dict[str, Any]) -> None: ...
    async def get(self, conversation_id: str) -> dict[str, Any] | None: ...
    async def delete(self, conversation_id: str) -> None: ...
    async def all(self) -> list[dict[str, Any]]: ...


def default_title(messages: Sequence[Message]) -> str:
    """The first user message on one line, cut at a word to about :data:`TITLE_LENGTH`."""
    text = next((_one_line(m.content) for m in messages if m.role == "user"), "")
    if not text:
        return UNTITLED
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[:TITLE_LENGTH]
    if " " in cut[TITLE_LENGTH // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" .,;:") + "…"


def export_file_name(conversation: Conversation, extension: str) -> str:
    """A safe download name from the title, e.g. ``what-is-gguf.md``."""
    slug = re.sub(r"[^\w]+", "-", conversation.title.lower()).strip("-_")[:60].strip("-_")
    return f"{slug or 'conversation'}.{extension}"


def conversation_from_json(text: str) -> Conversation:
    """Read an exported file (or a stored record as JSON), strictly; ConversationError if it is
    not a conversation this app can read."""
    check_file_size(len(text.encode()))
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ConversationError(
            f"This is not a LocalWebAI conversation file: it is not valid JSON ({error})."
        ) from None
    return conversation_from_dict(data)


def check_file_size(size: int) -> None:
    """Refuse a file too large to be a conversation before reading it."""
    if size > MAX_FILE_BYTES:
        raise ConversationError(
            f"This file is too large for a conversation ({size:,} bytes; "
            f"at most {MAX_FILE_BYTES:,})."
        )


def conversation_from_dict(data: Any) -> Conversation:
    """Validate a record (types, roles, sizes, format and version) into a Conversation."""
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise ConversationError(
            "This is not a LocalWebAI conversation file "
            f'(it lacks "format": "{FILE_FORMAT}"): export one from the sidebar.'
        )
    version = data.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ConversationError(
            f"This conversation file has version {version!r}; this app reads version "
            f"{FORMAT_VERSION}."
        )
    missing = sorted(_FIELDS - data.keys())
    if missing:
        raise ConversationError(f"The conversation file lacks the field(s) {', '.join(missing)}.")
    unknown = sorted(data.keys() - _FIELDS)
    if unknown:
        raise ConversationError(f"The conversation file has unknown field(s) {', '.join(unknown)}.")
    conversation_id = _text(data, "id", MAX_ID)
    if not conversation_id:
        raise ConversationError("The conversation file has an empty id.")
    return Conversation(
        id=conversation_id,
        title=_text(data, "title", MAX_TITLE),
        created_ms=_time(data, "created_ms"),
        updated_ms=_time(data, "updated_ms"),
        system_prompt=_text(data, "system_prompt", MAX_TEXT),
        params=_params(data["params"]),
        model=_text(data, "model", MAX_TITLE),
        messages=_messages(data["messages"]),
    )


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise ConversationError(f"In the conversation file, {name} must be text.")
    if len(value) > limit:
        raise ConversationError(
            f"In the conversation file, {name} is too long ({len(value):,} characters; "
            f"at most {limit:,})."
        )
    return value


def _time(data: dict[str, Any], name: str) -> int:
    value = data[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConversationError(
            f"In the conversation file, {name} must be a time in milliseconds (a whole number)."
        )
    return value


def _params(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_PARAMS:
        raise ConversationError(
            f"In the conversation file, params must be an object of at most {MAX_PARAMS} fields."
        )
    for name, setting in value.items():
        if len(name) > MAX_PARAM_NAME or not isinstance(setting, str):
            raise ConversationError(
                f"In the conversation file, the parameter {name[:MAX_PARAM_NAME]!r} must be "
                "text, as typed in the form."
            )
        if len(setting) > MAX_PARAM_VALUE:
            raise ConversationError(
                f"In the conversation file, the parameter {name!r} is too long "
                f"(at most {MAX_PARAM_VALUE:,} characters)."
            )
    return dict(value)


def _messages(value: Any) -> list[Message]:
    if not isinstance(value, list) or len(value) > MAX_MESSAGES:
        raise ConversationError(
            f"In the conversation file, messages must be a list of at most {MAX_MESSAGES:,}."
        )
    messages: list[Message] = []
    for number, item in enumerate(value, 1):
        if not isinstance(item, dict) or item.keys() != {"role", "content"}:
            raise ConversationError(
                f"In the conversation file, message {number} must have exactly a role and a "
                "content."
            )
        role, content = item["role"], item["content"]
        if role not in ROLES:
            raise ConversationError(
                f"In the conversation file, message {number} has the role {role!r}; a message's "
                f"role is {' or '.join(map(repr, ROLES))}."
            )
        if not isinstance(content, str) or len(content) > MAX_TEXT:
            raise ConversationError(
                f"In the conversation file, the content of message {number} must be text of at "
                f"most {MAX_TEXT:,} characters."
            )
        messages.append(Message(role, content))
    return messages


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


def _new_id() -> str:
    import uuid  # here, not at the top: 15 ms of the page's start in Pyodide

    return uuid.uuid4().hex


class ConversationStore:
    """Saved conversations over a :class:`ConversationDB`; ``clock`` gives milliseconds."""

    def __init__(
        self,
        db: ConversationDB,
        clock: Callable[[], int] = _wall_clock_ms,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self.db = db
        self.clock = clock
        self.new_id = new_id

    async def list(self) -> list[ConversationSummary]:
        """Every readable conversation, most recently updated first. An unreadable record is
        left out, never deleted: it is the user's data."""
        summaries = []
        for record in await self.db.all():
            try:
                conversation = conversation_from_dict(record)
            except ConversationError:
                continue
            summaries.append(
                ConversationSummary(
                    conversation.id,
                    conversation.title,
                    conversation.updated_ms,
                    len(conversation.messages),
                    conversation.model,
                )
            )
        return sorted(summaries, key=lambda s: s.updated_ms, reverse=True)

    async def get(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None when none has this id (deleted, maybe in another tab)."""
        record = await self.db.get(conversation_id)
        return None if record is None else conversation_from_dict(record)

    async def save(self, conversation: Conversation) -> Conversation:
        """Store it as updated now, with a default title if it has none; returns what was
        stored."""
        return await self._store(conversation, self.clock())

    async def save_chat(
        self,
        conversation_id: str | None,
        messages: Sequence[Message],
        *,
        system_prompt: str = "",
        params: dict[str, str] | None = None,
        model: str = "",
    ) -> Conversation:
        """Save the chat on screen: into ``conversation_id`` when it is stored (keeping its title
        and creation time), else as a new conversation (under that id, or a fresh one for None).
        Returns what was stored."""
        existing = None if conversation_id is None else await self.get(conversation_id)
        now = self.clock()
        base = existing or Conversation(conversation_id or self.new_id(), "", now, now)
        chat = replace(
            base,
            system_prompt=system_prompt,
            params=dict(params or {}),
            model=model,
            messages=list(messages),
        )
        return await self._store(chat, now)

    async def rename(self, conversation_id: str, title: str) -> Conversation:
        """Give it a new title (blank: the default title again); its place in the list stays."""
        conversation = await self._existing(conversation_id)
        return await self._store(replace(conversation, title=title), conversation.updated_ms)

    async def delete(self, conversation_id: str) -> None:
        await self.db.delete(conversation_id)

    async def import_json(self, text: str) -> Conversation:
        """Store an exported file as a new conversation (a fresh id: never overwrites one)."""
        conversation = conversation_from_json(text)
        return await self.save(replace(conversation, id=self.new_id()))

    async def _existing(self, conversation_id: str) -> Conversation:
        conversation = await self.get(conversation_id)
        if conversation is None:
            raise ConversationError("This conversation is no longer saved (deleted elsewhere?).")
        return conversation

    async def _store(self, conversation: Conversation, updated_ms: int) -> Conversation:
        """Validated as a file is, so whatever is stored can be read back."""
        title = _one_line(conversation.title)[:MAX_TITLE] or default_title(conversation.messages)
        stored = replace(conversation, title=title, updated_ms=updated_ms)
        record = stored.to_dict()
        conversation_from_dict(record)
        await self.db.put(record)
        return stored
