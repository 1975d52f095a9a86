"""Will the model fit? An estimate of the memory a model needs in the browser engine.

The engine (llama.cpp compiled to wasm32) keeps everything in one WebAssembly memory:

* **weights**: the tensor data, loaded whole (``ModelSpecification.tensor_data_size``);
* **KV cache**: keys and values of every layer for ``n_ctx`` positions, f16 by default:
  ``layers x n_ctx x kv_heads x (key_length + value_length) x 2`` bytes, where key and value
  lengths default to ``embedding_length / head_count`` (so ``2 x layers x n_ctx x kv_heads x
  head_dim x 2`` in the usual case);
* **compute buffer**: scratch memory for one forward pass. We allow, for a batch of
  ``COMPUTE_UBATCH`` tokens, the f32 attention scores of one layer (``ubatch x n_ctx x heads x 4``,
  the largest tensor of a pass without flash attention; ggml reuses buffers from layer to layer)
  plus one layer's f32 activations (``ubatch x (4 x embedding + 3 x feed_forward) x 4``), plus
  ``COMPUTE_FIXED_BYTES`` for the rest (graph, output logits, tokenizer, runtime). These
  figures follow llama.cpp's CPU compute buffer sizes (about 300 MiB for a 7B model at 4096
  tokens); they are an allowance, not an exact count.

The sum must stay under ``WASM_MEMORY_LIMIT`` (wasm32 addresses 4 GiB at most) and, when the
caller knows the device's RAM (``navigator.deviceMemory``), under ``DEVICE_MEMORY_FRACTION``
of it. Natively (``in_browser=False``: llama.cpp in CPython) there is no wasm limit, and the
model may use ``NATIVE_MEMORY_FRACTION`` of the machine's RAM. When it does not fit,
:attr:`MemoryEstimate.suggested_n_ctx` is the largest power-of-two context (at least
``MIN_SUGGESTED_N_CTX``) that would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from localwebai.errors import ParameterError
from localwebai.spec import ModelSpecification, format_bytes

MiB: Final = 1 << 20
GiB: Final = 1 << 30

WASM_MEMORY_LIMIT: Final = 4 * GiB
"""A wasm32 memory holds at most 2**32 bytes."""
KV_BYTES_PER_ELEMENT: Final = 2
"""KV cache element size: f16, llama.cpp's default ``type_k``/``type_v``."""
COMPUTE_UBATCH: Final = 512
"""Tokens per forward pass (llama.cpp's default ``n_ubatch``)."""
ACTIVATION_BYTES: Final = 4
"""Activations and attention scores are f32."""
COMPUTE_FIXED_BYTES: Final = 64 * MiB
"""Graph metadata, output logits, tokenizer tables and runtime overhead."""
DEVICE_MEMORY_FRACTION: Final = 0.5
"""Share of the device's RAM one tab can expect: the OS, the browser, other tabs and the copy of
the file the page holds while loading need the rest."""
NATIVE_MEMORY_FRACTION: Final = 0.9
"""Share of the RAM a native process can expect (no browser, no other tabs)."""
MIN_SUGGESTED_N_CTX: Final = 512
"""Smaller contexts are too short for a conversation; no suggestion goes below this."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a model needs at context size ``n_ctx``, and whether that fits."""

    n_ctx: int
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    total_bytes: int
    wasm_limit_bytes: int | None
    """``WASM_MEMORY_LIMIT`` in the browser; ``None`` natively."""
    device_limit_bytes: int | None
    """``DEVICE_MEMORY_FRACTION`` of the device's RAM; ``None`` when unknown."""
    fits: bool
    """Under the wasm limit (in the browser) and, when known, under the device limit."""
    suggested_n_ctx: int | None
    """When it does not fit: the largest power-of-two context (>= 512, < ``n_ctx``) that would;
    ``None`` when it fits or when no such context exists."""
    missing: tuple[str, ...]
    """Hyper-parameters the file lacks; the KV cache and compute parts are then underestimated."""

    @property
    def limit_bytes(self) -> int | None:
        """The binding limit: the smaller of the wasm and device limits (None: neither)."""
        return _smaller(self.wasm_limit_bytes, self.device_limit_bytes)

    def message(self) -> str:
        """One or two sentences for the user."""
        need = format_bytes(self.total_bytes)
        if self.limit_bytes is None:
            return f"Needs about {need} with a {self.n_ctx:,}-token context (memory unknown)."
        limit = format_bytes(self.limit_bytes)
        where = (
            "this device's memory"
            if self.limit_bytes == self.device_limit_bytes
            else "the browser's 4 GiB WebAssembly limit"
        )
        unknown = (
            " (this device's memory is unknown to the browser)"
            if self.device_limit_bytes is None
            else ""
        )
        if self.fits:
            return (
                f"Needs about {need} with a {self.n_ctx:,}-token context; fits in {limit}{unknown}."
            )
        text = (
            f"Needs about {need} with a {self.n_ctx:,}-token context, more than {where} "
            f"allows ({limit}{unknown})."
        )
        if self.suggested_n_ctx is not None:
            return f"{text} It should fit with a context of {self.suggested_n_ctx:,} tokens."
        return f"{text} No context size makes it fit: choose a smaller or more quantized model."


def _head_dims(spec: ModelSpecification) -> tuple[int, int] | None:
    if spec.key_length is not None and spec.value_length is not None:
        return spec.key_length, spec.value_length
    if spec.embedding_length is None or not spec.head_count:
        return None
    head_dim = spec.embedding_length // spec.head_count
    return (
        spec.key_length if spec.key_length is not None else head_dim,
        spec.value_length if spec.value_length is not None else head_dim,
    )


def kv_cache_bytes(spec: ModelSpecification, n_ctx: int) -> int:
    """f16 KV cache bytes for ``n_ctx`` positions (0 when the file lacks the needed fields)."""
    dims = _head_dims(spec)
    if dims is None or spec.layer_count is None or spec.head_count_kv is None:
        return 0
    key_length, value_length = dims
    return (
        spec.layer_count
        * n_ctx
        * spec.head_count_kv
        * (key_length + value_length)
        * KV_BYTES_PER_ELEMENT
    )


def compute_buffer_bytes(spec: ModelSpecification, n_ctx: int) -> int:
    """The compute-buffer allowance for ``n_ctx`` (see the module docstring)."""
    ubatch = min(COMPUTE_UBATCH, n_ctx)
    scores = ubatch * n_ctx * (spec.head_count or 0) * ACTIVATION_BYTES
    activations = (
        ubatch
        * (4 * (spec.embedding_length or 0) + 3 * (spec.feed_forward_length or 0))
        * ACTIVATION_BYTES
    )
    return COMPUTE_FIXED_BYTES + scores + activations


def _missing(spec: ModelSpecification) -> tuple[str, ...]:
    names = {
        "tensors": spec.tensor_count == 0,
        "layer_count": spec.layer_count is None,
        "head_count": spec.head_count is None,
        "embedding_length": spec.embedding_length is None and spec.key_length is None,
        "feed_forward_length": spec.feed_forward_length is None,
    }
    return tuple(name for name, absent in names.items() if absent)


def _total(spec: ModelSpecification, n_ctx: int) -> tuple[int, int, int]:
    kv = kv_cache_bytes(spec, n_ctx)
    compute = compute_buffer_bytes(spec, n_ctx)
    return kv, compute, spec.tensor_data_size + kv + compute


def _smaller(a: int | None, b: int | None) -> int | None:
    known = [x for x in (a, b) if x is not None]
    return min(known) if known else None


def estimate_memory(
    spec: ModelSpecification,
    n_ctx: int,
    *,
    device_memory_gib: float | None = None,
    in_browser: bool = True,
) -> MemoryEstimate:
    """Estimate the memory for context size ``n_ctx``.

    ``device_memory_gib`` is ``navigator.deviceMemory`` when the browser gives it (GiB of RAM,
    rounded down to a power of two and capped at 8 by the browser), natively the machine's RAM.
    """
    if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < 1:
        raise ParameterError(f"The context size must be a positive whole number, not {n_ctx!r}.")
    device_limit = None
    if device_memory_gib is not None:
        if (
            isinstance(device_memory_gib, bool)
            or not isinstance(device_memory_gib, (int, float))
            or not device_memory_gib > 0
        ):
            raise ParameterError(
                f"The device memory must be a positive number of GiB, not {device_memory_gib!r}."
            )
        fraction = DEVICE_MEMORY_FRACTION if in_browser else NATIVE_MEMORY_FRACTION
        device_limit = int(device_memory_gib * GiB * fraction)
    wasm_limit = WASM_MEMORY_LIMIT if in_browser else None
    limit = _smaller(wasm_limit, device_limit)
    kv, compute, total = _total(spec, n_ctx)
    fits = limit is None or total <= limit
    suggested = None
    if limit is not None and not fits:
        candidate = 1 << (n_ctx.bit_length() - 1)  # largest power of two <= n_ctx
        if candidate == n_ctx:
            candidate //= 2
        while candidate >= MIN_SUGGESTED_N_CTX:
            if _total(spec, candidate)[2] <= limit:
                suggested = candidate
                break
            candidate //= 2
    return MemoryEstimate(
        n_ctx=n_ctx,
        weights_bytes=spec.tensor_data_size,
        kv_cache_bytes=kv,
        compute_bytes=compute,
        total_bytes=total,
        wasm_limit_bytes=wasm_limit,
        device_limit_bytes=device_limit,
        fits=fits,
        suggested_n_ctx=suggested,
        missing=_missing(spec),
    )
