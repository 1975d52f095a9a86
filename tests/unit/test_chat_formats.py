"""The fallback chat formats: which one a model without a chat template gets, the prompt each
renders (as the engines' jinja does, and as llama.cpp's own built-in templates do), and the
end-of-turn strings that end a reply."""

from __future__ import annotations

import ctypes
from pathlib import Path

import gguf
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from localwebai.chat_formats import (
    CHATML,
    FORMATS,
    GEMMA,
    LLAMA_2,
    LLAMA_3,
    PHI_3,
    ChatFormat,
    fallback_chat_format,
)
from localwebai.errors import ParameterError
from localwebai.gguf import read_header_file
from localwebai.params import MAX_STOP_STRINGS, GenerationParams

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Name?"},
]
EXPECTED = {
    "chatml": (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nName?<|im_end|>\n"
        "<|im_start|>assistant\n"
    ),
    "gemma": (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nName?<end_of_turn>\n<start_of_turn>model\n"
    ),
    "llama3": (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nName?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "llama2": "[INST] Be brief.\nHi [/INST]Hello.</s>[INST] Name? [/INST]",
    "phi3": (
        "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n"
        "<|user|>\nName?<|end|>\n<|assistant|>\n"
    ),
}
LLAMA_CPP_NAMES = {"chatml": "chatml", "gemma": "gemma", "llama3": "llama3"}
LLAMA_CPP_NAMES |= {"llama2": "llama2", "phi3": "phi3"}
"""llama.cpp's name of each format's built-in template (llm_chat_apply_template)."""


def render(chat_format: ChatFormat, messages: list[dict[str, str]]) -> str:
    """The prompt, rendered as llama-cpp-python's Jinja2ChatFormatter renders a template."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(chat_format.template).render(
        messages=messages, add_generation_prompt=True
    )


def write_header(path: Path, architecture: str, tokens: list[str], tokenizer: str = "gpt2") -> None:
    writer = gguf.GGUFWriter(path, architecture)
    writer.add_tokenizer_model(tokenizer)
    writer.add_token_list(tokens)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


@pytest.mark.parametrize("chat_format", FORMATS, ids=lambda f: f.key)
def test_each_format_renders_a_whole_conversation(chat_format: ChatFormat) -> None:
    assert render(chat_format, CONVERSATION) == EXPECTED[chat_format.key]


@pytest.mark.parametrize("chat_format", FORMATS, ids=lambda f: f.key)
def test_each_format_renders_what_llama_cpp_builds_in(chat_format: ChatFormat) -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (.[native])")
    messages = (llama_cpp.llama_chat_message * len(CONVERSATION))(
        *(
            llama_cpp.llama_chat_message(m["role"].encode(), m["content"].encode())
            for m in CONVERSATION
        )
    )
    buffer = ctypes.create_string_buffer(4096)
    name = LLAMA_CPP_NAMES[chat_format.key].encode()
    n = llama_cpp.llama_chat_apply_template(name, messages, len(CONVERSATION), True, buffer, 4096)
    assert buffer.raw[:n].decode() == render(chat_format, CONVERSATION)


def test_gemma_trims_turns_and_a_system_prompt_opens_the_first_user_turn_only() -> None:
    messages = [
        {"role": "system", "content": " Be brief. "},
        {"role": "user", "content": " Hi\n"},
    ]
    assert render(GEMMA, messages) == (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    )
    no_system = render(GEMMA, CONVERSATION[1:])
    assert no_system == EXPECTED["gemma"].replace("Be brief.\n\n", "")
    assert "system" not in render(GEMMA, CONVERSATION)


def test_every_format_has_a_name_and_ends_its_turns() -> None:
    assert len({f.key for f in FORMATS}) == len(FORMATS)
    for chat_format in FORMATS:
        assert "the model has no chat template" in chat_format.name
        assert chat_format.stop
        assert all(stop in EXPECTED[chat_format.key] for stop in chat_format.stop)
    assert GEMMA.name == "Gemma (chosen by architecture: the model has no chat template)"
    assert CHATML.name == "ChatML (default: the model has no chat template)"
    assert (GEMMA.stop, PHI_3.stop, LLAMA_3.stop) == (
        ("<end_of_turn>",),
        ("<|end|>",),
        ("<|eot_id|>",),
    )


@pytest.mark.parametrize(
    ("architecture", "expected"),
    [("gemma", GEMMA), ("gemma2", GEMMA), ("gemma3", GEMMA), ("phi3", PHI_3), ("qwen2", CHATML)],
)
def test_the_format_follows_the_architecture(
    tmp_path: Path, architecture: str, expected: ChatFormat
) -> None:
    path = tmp_path / "model.gguf"
    write_header(path, architecture, ["<unk>", "<s>", "</s>"])
    assert fallback_chat_format(read_header_file(path)) is expected


def test_a_llama_is_chosen_by_its_vocabulary(tmp_path: Path) -> None:
    def llama(tokens: list[str], tokenizer: str) -> ChatFormat:
        path = tmp_path / "llama.gguf"
        write_header(path, "llama", tokens, tokenizer)
        return fallback_chat_format(read_header_file(path))

    llama_3 = ["a", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    assert llama(llama_3, "gpt2") is LLAMA_3
    assert llama(["<unk>", "<s>", "</s>", "a"], "llama") is LLAMA_2  # Llama 2, Mistral
    assert llama(["a", "<|eot_id|>"], "gpt2") is CHATML  # a BPE llama without Llama 3's markers
    assert llama(["<|im_start|>", "<|im_end|>"], "gpt2") is CHATML  # e.g. SmolLM


@pytest.mark.parametrize(
    ("vocab", "expected"),
    [
        ("ggml-vocab-llama-bpe.gguf", LLAMA_3),
        ("ggml-vocab-llama-spm.gguf", LLAMA_2),
        ("ggml-vocab-phi-3.gguf", PHI_3),
        ("ggml-vocab-qwen2.gguf", CHATML),
        ("ggml-vocab-deepseek-llm.gguf", CHATML),
    ],
)
def test_real_vocabularies_get_their_format(
    models_dir: Path, vocab: str, expected: ChatFormat
) -> None:
    assert fallback_chat_format(read_header_file(models_dir / "vocab" / vocab)) is expected


def test_the_tiny_gemma_gets_the_gemma_format(models_dir: Path) -> None:
    header = read_header_file(models_dir / "tiny-gemma.gguf")
    assert header.get("tokenizer.chat_template") is None
    assert fallback_chat_format(header) is GEMMA


def test_end_of_turn_strings_join_the_stop_strings() -> None:
    params = GenerationParams(stop=("\n\n",))
    assert GEMMA.with_stops(params).stop == ("\n\n", "<end_of_turn>")
    assert GEMMA.with_stops(params).max_tokens == params.max_tokens
    already = GenerationParams(stop=("<end_of_turn>",))
    assert GEMMA.with_stops(already) is already
    full = GenerationParams(stop=tuple(str(i) for i in range(MAX_STOP_STRINGS)))
    with pytest.raises(ParameterError, match=f"At most {MAX_STOP_STRINGS - 1} stop strings"):
        GEMMA.with_stops(full)
