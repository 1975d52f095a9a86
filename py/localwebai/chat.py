"""Chat history: the messages of one conversation, in the OpenAI-style shape wllama takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass
class ChatHistory:
    """A conversation; the system prompt, if any, always comes first."""

    system_prompt: str = ""
    messages: list[Message] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        self.messages.append(Message("user", text))

    def add_assistant(self, text: str) -> None:
        self.messages.append(Message("assistant", text))

    def clear(self) -> None:
        self.messages.clear()

    def as_dicts(self) -> list[dict[str, str]]:
        """The full prompt for the engine: system prompt then the turns."""
        head = [Message("system", self.system_prompt)] if self.system_prompt else []
        return [{"role": m.role, "content": m.content} for m in head + self.messages]
