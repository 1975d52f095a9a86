"""Saved conversations: the store over an in-memory database, the file format, Markdown export."""

from __future__ import annotations

import copy
import json
from itertools import count
from typing import Any

import pytest
from aio import run
from localwebai.chat import Message
from localwebai.conversations import (
    DB_NAME,
    MAX_FILE_BYTES,
    TITLE_LENGTH,
    Conversation,
    ConversationStore,
    conversation_from_json,
    default_title,
    export_file_name,
)
from localwebai.errors import ConversationError, LocalWebAIError

MESSAGES = [
    Message("user", "What is GGUF?"),
    Message("assistant", "A file format for **quantized** models.\n\n```\nmagic: GGUF\n```"),
    Message("user", "Thanks"),
]
PARAMS = {"temperature": "0.7", "max_tokens": "256", "mode": "chat"}


class MemoryConversationDB:
    """Records deep-copied in and out, as IndexedDB's structured clone does."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def put(self, record: dict[str, Any]) -> None:
        self.records[record["id"]] = copy.deepcopy(record)

    async def get(self, conversation_id: str) -> dict[str, Any] | None:
        record = self.records.get(conversation_id)
        return copy.deepcopy(record)

    async def delete(self, conversation_id: str) -> None:
        self.records.pop(conversation_id, None)

    async def all(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.records.values()]


def make_store(db: MemoryConversationDB | None = None) -> ConversationStore:
    """A store whose clock ticks 1000 ms per reading and whose ids are id-1, id-2, ..."""
    ticks = count(1000, 1000)
    ids = count(1)
    return ConversationStore(
        db or MemoryConversationDB(), clock=lambda: next(ticks), new_id=lambda: f"id-{next(ids)}"
    )


def conversation(**changes: Any) -> Conversation:
    fields: dict[str, Any] = {
        "id": "c1",
        "title": "GGUF questions",
        "created_ms": 5,
        "updated_ms": 6,
        "system_prompt": "You are terse.",
        "params": dict(PARAMS),
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "messages": list(MESSAGES),
        **changes,
    }
    return Conversation(**fields)


def file_dict(**changes: Any) -> dict[str, Any]:
    return {**conversation().to_dict(), **changes}


# ---- the store -----------------------------------------------------------------------------


def test_save_then_get_returns_the_same_conversation_with_updated_time_set():
    store = make_store()
    saved = run(store.save(conversation()))
    assert saved.updated_ms == 1000
    assert run(store.get("c1")) == saved
    assert saved.messages == MESSAGES and saved.params == PARAMS
    assert saved.system_prompt == "You are terse." and saved.created_ms == 5


def test_get_of_an_unknown_id_is_none():
    assert run(make_store().get("nope")) is None


def test_list_is_newest_updated_first_with_summaries():
    store = make_store()
    run(store.save(conversation(id="a", title="first")))
    run(store.save(conversation(id="b", title="second", messages=MESSAGES[:1])))
    run(store.save(conversation(id="a", title="first again")))  # a is now the newest
    summaries = run(store.list())
    assert [(s.id, s.title) for s in summaries] == [("a", "first again"), ("b", "second")]
    assert [s.message_count for s in summaries] == [3, 1]
    assert summaries[0].updated_ms > summaries[1].updated_ms
    assert summaries[0].model == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_list_skips_an_unreadable_record_without_deleting_it():
    db = MemoryConversationDB()
    store = make_store(db)
    run(store.save(conversation(id="good")))
    db.records["bad"] = {"id": "bad", "format": "something else"}
    assert [s.id for s in run(store.list())] == ["good"]
    assert "bad" in db.records


def test_save_without_title_takes_the_first_user_message():
    store = make_store()
    messages = [Message("assistant", "Hi!"), Message("user", "  Tell me\nabout   llamas  ")]
    saved = run(store.save(conversation(title="  ", messages=messages)))
    assert saved.title == "Tell me about llamas"


def test_default_title_is_cut_at_a_word_with_an_ellipsis():
    text = "Explain the difference between quantization formats Q4_0 and Q4_1 please"
    title = default_title([Message("user", text)])
    assert title.endswith("…")
    assert len(title) <= TITLE_LENGTH + 1
    assert text.startswith(title[:-1])
    assert title[:-1] == "Explain the difference between"
    assert default_title([Message("assistant", "only a reply")]) == "New chat"


def test_rename_changes_the_title_and_keeps_the_place_in_the_list():
    store = make_store()
    run(store.save(conversation(id="old")))
    run(store.save(conversation(id="new")))
    renamed = run(store.rename("old", "  Llama   notes "))
    assert renamed.title == "Llama notes"
    assert run(store.get("old")).title == "Llama notes"
    assert [s.id for s in run(store.list())] == ["new", "old"]


def test_rename_to_blank_restores_the_default_title():
    store = make_store()
    run(store.save(conversation()))
    assert run(store.rename("c1", "")).title == "What is GGUF?"


def test_rename_of_a_deleted_conversation_is_a_clear_error():
    with pytest.raises(ConversationError, match="no longer saved"):
        run(make_store().rename("gone", "x"))


def test_delete_removes_only_that_conversation():
    store = make_store()
    run(store.save(conversation(id="a")))
    run(store.save(conversation(id="b")))
    run(store.delete("a"))
    assert run(store.get("a")) is None
    assert [s.id for s in run(store.list())] == ["b"]


def test_save_chat_creates_then_updates_keeping_title_and_creation_time():
    store = make_store()
    first = run(store.save_chat(None, MESSAGES[:1], system_prompt="S", params=PARAMS, model="m"))
    assert first.id == "id-1" and first.title == "What is GGUF?"
    assert first.created_ms == first.updated_ms
    run(store.rename(first.id, "Mine"))
    second = run(store.save_chat(first.id, MESSAGES, params={"temperature": "0"}, model="m2"))
    assert second.id == first.id and second.title == "Mine"
    assert second.created_ms == first.created_ms and second.updated_ms > first.updated_ms
    assert second.messages == MESSAGES
    assert second.params == {"temperature": "0"} and second.model == "m2"
    assert second.system_prompt == ""
    assert len(run(store.list())) == 1


def test_save_chat_under_a_deleted_id_stores_it_again():
    store = make_store()
    first = run(store.save_chat(None, MESSAGES[:1]))
    run(store.delete(first.id))
    again = run(store.save_chat(first.id, MESSAGES))
    assert again.id == first.id and run(store.get(first.id)).messages == MESSAGES


def test_save_refuses_what_could_not_be_read_back():
    store = make_store()
    with pytest.raises(ConversationError, match="role"):
        run(store.save(conversation(messages=[Message("system", "x")])))
    assert run(store.list()) == []


# ---- the file format -----------------------------------------------------------------------


def test_json_round_trip_keeps_everything():
    original = conversation()
    text = original.to_json()
    data = json.loads(text)
    assert data["format"] == "localwebai-conversation" and data["version"] == 1
    assert conversation_from_json(text) == original


def test_import_gives_a_new_id_and_keeps_the_conversation():
    store = make_store()
    saved = run(store.save(conversation()))
    imported = run(store.import_json(saved.to_json()))
    assert imported.id != saved.id
    assert (imported.title, imported.messages, imported.system_prompt) == (
        saved.title,
        saved.messages,
        saved.system_prompt,
    )
    assert (imported.params, imported.model) == (saved.params, saved.model)
    assert run(store.get(saved.id)) == saved  # never overwritten
    assert [s.id for s in run(store.list())] == [imported.id, saved.id]


def test_import_of_a_wrong_file_stores_nothing():
    store = make_store()
    with pytest.raises(ConversationError):
        run(store.import_json("{}"))
    assert run(store.list()) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json at all", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "not a LocalWebAI conversation file"),
        (json.dumps(file_dict(format="chatgpt-export")), "not a LocalWebAI conversation file"),
        (json.dumps(file_dict(version=2)), "version 2; this app reads version 1"),
        (json.dumps(file_dict(version=True)), "version True"),
        (json.dumps(file_dict(version="1")), "version '1'"),
        (json.dumps({"format": "localwebai-conversation", "version": 1}), "lacks the field"),
        (json.dumps(file_dict(extra=1)), "unknown field(s) extra"),
        (json.dumps(file_dict(id="")), "empty id"),
        (json.dumps(file_dict(title=7)), "title must be text"),
        (json.dumps(file_dict(title="x" * 201)), "title is too long"),
        (json.dumps(file_dict(created_ms=-1)), "created_ms must be a time"),
        (json.dumps(file_dict(updated_ms=1.5)), "updated_ms must be a time"),
        (json.dumps(file_dict(updated_ms=False)), "updated_ms must be a time"),
        (json.dumps(file_dict(params=[])), "params must be an object"),
        (json.dumps(file_dict(params={"temperature": 0.7})), "'temperature' must be text"),
        (json.dumps(file_dict(messages={})), "messages must be a list"),
        (json.dumps(file_dict(messages=["hi"])), "message 1 must have exactly a role"),
        (
            json.dumps(file_dict(messages=[{"role": "user", "content": "a", "name": "x"}])),
            "message 1 must have exactly a role",
        ),
        (
            json.dumps(file_dict(messages=[{"role": "user", "content": "a"}, {"role": "tool"}])),
            "message 2 must have exactly",
        ),
        (
            json.dumps(file_dict(messages=[{"role": "tool", "content": "a"}])),
            "message 1 has the role 'tool'",
        ),
        (
            json.dumps(file_dict(messages=[{"role": "system", "content": "a"}])),
            "'user' or 'assistant'",
        ),
        (
            json.dumps(file_dict(messages=[{"role": "user", "content": None}])),
            "content of message 1 must be text",
        ),
    ],
)
def test_a_wrong_file_is_a_clear_typed_error(text: str, message: str):
    with pytest.raises(ConversationError) as caught:
        conversation_from_json(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, LocalWebAIError)


def test_an_oversized_file_is_refused_before_parsing():
    with pytest.raises(ConversationError, match="too large"):
        conversation_from_json(" " * (MAX_FILE_BYTES + 1))


def test_a_very_long_message_is_refused():
    text = json.dumps(file_dict(messages=[{"role": "user", "content": "x" * 1_000_001}]))
    with pytest.raises(ConversationError, match="at most 1,000,000 characters"):
        conversation_from_json(text)


# ---- exports -------------------------------------------------------------------------------


def test_markdown_export_has_title_model_system_prompt_and_each_turn():
    markdown = conversation().to_markdown()
    assert markdown == (
        "# GGUF questions\n\n"
        "Model: SmolLM2-135M-Instruct.Q4_1.gguf\n\n"
        "## System prompt\n\nYou are terse.\n\n"
        "## User\n\nWhat is GGUF?\n\n"
        "## Assistant\n\nA file format for **quantized** models.\n\n```\nmagic: GGUF\n```\n\n"
        "## User\n\nThanks\n"
    )


def test_markdown_export_without_system_prompt_or_model():
    markdown = conversation(system_prompt="", model="", title="a\nb").to_markdown()
    assert markdown.startswith("# a b\n\nModel: unknown\n\n## User\n\n")
    assert "System prompt" not in markdown


def test_export_file_names_are_safe_slugs():
    assert export_file_name(conversation(title="What is GGUF?"), "md") == "what-is-gguf.md"
    assert export_file_name(conversation(title="../../etc/passwd"), "json") == "etc-passwd.json"
    assert export_file_name(conversation(title="???"), "json") == "conversation.json"


def test_conversations_have_a_database_of_their_own():
    assert DB_NAME != "localwebai"  # the model cache's (web/js/cache.js)
