"""Chat formats for models whose GGUF carries no ``tokenizer.chat_template``.

Such a model gets a format chosen by its ``general.architecture`` (and, for llama, by its
vocabulary), modelled on llama.cpp's built-in templates (``llm_chat_apply_template`` in
src/llama-chat.cpp): the same text, written as a jinja template the engine applies (wllama
and llama-cpp-python both take one at load). A format's end-of-turn strings become stop
strings of every chat reply, so the reply ends at its turn's end even where the engine does
not treat that token as the end of generation. Anything unknown gets ChatML, llama.cpp's own
default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .errors import ParameterError
from .gguf import GGUFArray, GGUFHeader
from .params import MAX_STOP_STRINGS, GenerationParams

NO_TEMPLATE = "the model has no chat template"


@dataclass(frozen=True)
class ChatFormat:
    """How a conversation becomes a prompt, and which strings end a turn."""

    key: str
    name: str
    """Shown to the user: the format and why it was chosen."""
    template: str
    """A jinja template over ``messages`` and ``add_generation_prompt``, for the engine."""
    stop: tuple[str, ...]
    """End-of-turn strings: stop strings of every chat reply."""

    def with_stops(self, params: GenerationParams) -> GenerationParams:
        """``params`` with this format's end-of-turn strings added to its stop strings."""
        extra = tuple(s for s in self.stop if s not in params.stop)
        if not extra:
            return params
        if len(params.stop) + len(extra) > MAX_STOP_STRINGS:
            raise ParameterError(
                f"At most {MAX_STOP_STRINGS - len(extra)} stop strings with this model: its "
                f"chat format ({self.key}) adds {', '.join(extra)}."
            )
        return replace(params, stop=params.stop + extra)


CHATML = ChatFormat(
    key="chatml",
    name=f"ChatML (default: {NO_TEMPLATE})",
    template=(
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    ),
    stop=("<|im_end|>",),
)

GEMMA = ChatFormat(
    key="gemma",
    name=f"Gemma (chosen by architecture: {NO_TEMPLATE})",
    # No system role: the system prompt opens the first user turn, as in llama.cpp.
    template=(
        "{% set ns = namespace(system='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}"
        "{% set ns.system = ns.system + (message['content'] | trim) %}"
        "{% else %}"
        "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
        "{{ '<start_of_turn>' + role + '\\n' }}"
        "{% if ns.system and role != 'model' %}"
        "{{ ns.system + '\\n\\n' }}{% set ns.system = '' %}"
        "{% endif %}"
        "{{ (message['content'] | trim) + '<end_of_turn>\\n' }}"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
    ),
    stop=("<end_of_turn>",),
)

LLAMA_3 = ChatFormat(
    key="llama3",
    name=f"Llama 3 (chosen by architecture and vocabulary: {NO_TEMPLATE})",
    template=(
        "{% for message in messages %}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        " + (message['content'] | trim) + '<|eot_id|>' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
        "{% endif %}"
    ),
    stop=("<|eot_id|>",),
)

LLAMA_2 = ChatFormat(
    key="llama2",
    name=f"Llama 2 / Mistral [INST] (chosen by architecture and vocabulary: {NO_TEMPLATE})",
    # llama.cpp's plain "llama2": the system prompt is the first line of the first [INST].
    template=(
        "{% set ns = namespace(inside=true) %}"
        "{{ '[INST] ' }}"
        "{% for message in messages %}"
        "{% if not ns.inside %}{{ '[INST] ' }}{% set ns.inside = true %}{% endif %}"
        "{% if message['role'] == 'system' %}{{ message['content'] + '\\n' }}"
        "{% elif message['role'] == 'user' %}{{ message['content'] + ' [/INST]' }}"
        "{% else %}{{ message['content'] + '</s>' }}{% set ns.inside = false %}"
        "{% endif %}"
        "{% endfor %}"
    ),
    stop=("</s>",),
)

PHI_3 = ChatFormat(
    key="phi3",
    name=f"Phi-3 (chosen by architecture: {NO_TEMPLATE})",
    template=(
        "{% for message in messages %}"
        "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
    ),
    stop=("<|end|>",),
)

FORMATS: tuple[ChatFormat, ...] = (CHATML, GEMMA, LLAMA_3, LLAMA_2, PHI_3)
BY_ARCHITECTURE: dict[str, ChatFormat] = {
    "gemma": GEMMA,
    "gemma2": GEMMA,
    "gemma3": GEMMA,
    "gemma3n": GEMMA,
    "phi3": PHI_3,
}
"""Architectures with one format; llama depends on its vocabulary; the rest get ChatML."""
LLAMA_3_TOKENS = frozenset({"<|start_header_id|>", "<|eot_id|>"})
SPM_TOKENIZER = "llama"
"""``tokenizer.ggml.model`` of the SentencePiece vocabulary of Llama 2 and Mistral."""


def fallback_chat_format(header: GGUFHeader) -> ChatFormat:
    """The format for a model without its own chat template."""
    architecture = header.architecture or ""
    if architecture in BY_ARCHITECTURE:
        return BY_ARCHITECTURE[architecture]
    if architecture == "llama":
        tokens = header.get("tokenizer.ggml.tokens")
        if isinstance(tokens, GGUFArray) and _has_all(tokens, LLAMA_3_TOKENS):
            return LLAMA_3
        if header.get("tokenizer.ggml.model") == SPM_TOKENIZER:
            return LLAMA_2
    return CHATML


def custom_chat_format(template: str) -> ChatFormat:
    """A template given at load by the caller (no end-of-turn strings known)."""
    return ChatFormat("custom", "custom (given at load)", template, ())


def _has_all(tokens: Iterable[object], wanted: frozenset[str]) -> bool:
    missing = set(wanted)
    for token in tokens:
        missing.discard(token)  # type: ignore[arg-type]
        if not missing:
            return True
    return False
