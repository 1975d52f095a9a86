"""What a model is, from its GGUF header: :class:`ModelSpecification`.

Tolerant by design: a field the file does not state (or states with the wrong type) is
``None``; a vocab-only file (no tensors) gives ``None`` for everything that needs tensors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

from localwebai.gguf import GGUFArray, GGUFHeader, TensorInfo

LLAMA_FTYPE_NAMES: Final[dict[int, str]] = {
    # general.file_type values (llama_ftype in llama.h) and the names used in file names
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    33: "Q4_0_4_4",
    34: "Q4_0_4_8",
    35: "Q4_0_8_8",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
}
"""1024 (``LLAMA_FTYPE_GUESSED``) and unknown values fall back to the dominant tensor type."""


def quantization_name(file_type: int | None, tensors: tuple[TensorInfo, ...] = ()) -> str | None:
    """``"Q4_K_M"`` for ``general.file_type`` 15; else the dominant tensor type, else ``None``."""
    if file_type is not None and file_type in LLAMA_FTYPE_NAMES:
        return LLAMA_FTYPE_NAMES[file_type]
    return dominant_tensor_type(tensors)


def dominant_tensor_type(tensors: tuple[TensorInfo, ...]) -> str | None:
    """The ggml type holding the most elements among matrices (all tensors if there are none)."""
    matrices = [t for t in tensors if t.n_dims >= 2] or list(tensors)
    if not matrices:
        return None
    elements: Counter[str] = Counter()
    for t in matrices:
        elements[t.type_name] += t.n_elements
    return max(elements.items(), key=lambda item: item[1])[0]


def _int(value: Any) -> int | None:
    """An integer value, the largest one for a per-layer array; ``None`` otherwise."""
    if isinstance(value, GGUFArray):
        if value.element_type.name in ("STRING", "ARRAY", "BOOL", "FLOAT32", "FLOAT64"):
            return None
        items = value.to_list()
        return max(items) if items else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ModelSpecification:
    """A model's identity and hyper-parameters, plus where it came from."""

    architecture: str | None
    name: str | None
    file_type: int | None
    quantization: str | None
    """``"Q4_K_M"`` style name; ``None`` without tensors."""
    parameter_count: int | None
    """Sum of the tensors' element counts; ``None`` without tensors."""
    layer_count: int | None
    embedding_length: int | None
    feed_forward_length: int | None
    """Largest over layers when the file gives one value per layer."""
    context_length: int | None
    """Training context length."""
    head_count: int | None
    head_count_kv: int | None
    """Defaults to ``head_count`` (no grouped-query attention) when absent."""
    key_length: int | None
    """Per-head key size when stated (else ``embedding_length / head_count``)."""
    value_length: int | None
    rope_freq_base: float | None
    rope_freq_scale: float | None
    """``1 / {arch}.rope.scaling.factor`` (or ``scale_linear``); ``None`` when not stated."""
    vocab_size: int | None
    tokenizer_model: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    chat_template: str | None
    gguf_version: int
    tensor_count: int
    tensor_data_size: int
    source: str | None = None
    """Where the model came from: a URL or a file name."""
    file_size: int | None = None
    date_added: str | None = None
    """When the user added it (ISO 8601, given by the caller)."""

    @classmethod
    def from_header(
        cls,
        header: GGUFHeader,
        *,
        source: str | None = None,
        file_size: int | None = None,
        date_added: str | None = None,
    ) -> ModelSpecification:
        """Derive the specification from a parsed header; provenance comes from the caller."""
        arch = header.architecture

        def a(suffix: str) -> Any:
            return header.get(f"{arch}.{suffix}") if arch else None

        head_count = _int(a("attention.head_count"))
        head_count_kv = _int(a("attention.head_count_kv"))
        tokens = header.get("tokenizer.ggml.tokens")
        vocab_size = len(tokens) if isinstance(tokens, GGUFArray) else _int(a("vocab_size"))
        file_type = _int(header.get("general.file_type"))
        return cls(
            architecture=arch,
            name=_str(header.get("general.name")),
            file_type=file_type,
            quantization=quantization_name(file_type, header.tensors) if header.tensors else None,
            parameter_count=sum(t.n_elements for t in header.tensors) if header.tensors else None,
            layer_count=_int(a("block_count")),
            embedding_length=_int(a("embedding_length")),
            feed_forward_length=_int(a("feed_forward_length")),
            context_length=_int(a("context_length")),
            head_count=head_count,
            head_count_kv=head_count_kv if head_count_kv is not None else head_count,
            key_length=_int(a("attention.key_length")),
            value_length=_int(a("attention.value_length")),
            rope_freq_base=_float(a("rope.freq_base")),
            rope_freq_scale=_rope_scale(a("rope.scaling.factor"), a("rope.scale_linear")),
            vocab_size=vocab_size,
            tokenizer_model=_str(header.get("tokenizer.ggml.model")),
            bos_token_id=_int(header.get("tokenizer.ggml.bos_token_id")),
            eos_token_id=_int(header.get("tokenizer.ggml.eos_token_id")),
            chat_template=_str(header.get("tokenizer.chat_template")),
            gguf_version=header.version,
            tensor_count=header.tensor_count,
            tensor_data_size=header.tensor_data_size,
            source=source,
            file_size=file_size,
            date_added=date_added,
        )

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpecification:
        """The inverse of ``to_dict``; unknown keys are ignored, missing ones are ``None``."""
        names = [f.name for f in fields(cls)]
        return cls(**{name: data.get(name) for name in names})

    def summary(self) -> list[tuple[str, str]]:
        """(label, text) rows for display; fields the file does not state are left out."""
        rows: list[tuple[str, str | None]] = [
            ("Name", self.name),
            ("Architecture", self.architecture),
            ("Parameters", format_count(self.parameter_count)),
            ("Quantization", self.quantization),
            ("Weights", format_bytes(self.tensor_data_size) if self.tensor_count else None),
            ("Context length", _thousands(self.context_length)),
            ("Layers", _thousands(self.layer_count)),
            ("Embedding length", _thousands(self.embedding_length)),
            ("Feed-forward length", _thousands(self.feed_forward_length)),
            ("Attention heads", _heads(self.head_count, self.head_count_kv)),
            ("RoPE base", _number(self.rope_freq_base)),
            ("RoPE scale", _number(self.rope_freq_scale)),
            ("Vocabulary", _thousands(self.vocab_size)),
            ("Tokenizer", self.tokenizer_model),
            ("Chat template", "yes" if self.chat_template else "no"),
            ("GGUF version", str(self.gguf_version)),
            ("Source", self.source),
            ("File size", format_bytes(self.file_size) if self.file_size is not None else None),
            ("Added", self.date_added),
        ]
        return [(label, text) for label, text in rows if text is not None]


def _rope_scale(factor: Any, linear: Any) -> float | None:
    for value in (_float(factor), _float(linear)):
        if value is not None and value > 0:
            return 1.0 / value
    return None


def format_count(n: int | None) -> str | None:
    """``134515008`` → ``"134.5 M"``."""
    if n is None:
        return None
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def format_bytes(n: int) -> str:
    """``1610612736`` → ``"1.50 GiB"``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _thousands(n: int | None) -> str | None:
    return None if n is None else f"{n:,}"


def _number(x: float | None) -> str | None:
    return None if x is None else f"{x:g}"


def _heads(heads: int | None, kv_heads: int | None) -> str | None:
    if heads is None:
        return None
    if kv_heads is None or kv_heads == heads:
        return str(heads)
    return f"{heads} ({kv_heads} for keys/values)"
