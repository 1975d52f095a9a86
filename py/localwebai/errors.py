"""The one error tree of LocalWebAI: every failure a user can cause is a ``LocalWebAIError``.

Each error carries a message written for the person in front of the page; the UI shows
``str(error)`` as it is.
"""

from __future__ import annotations


class LocalWebAIError(Exception):
    """Base of every error LocalWebAI raises on purpose."""


class GGUFError(LocalWebAIError):
    """The bytes are not a GGUF file this app can read (see ``localwebai.gguf`` for subclasses)."""


class ModelSourceError(LocalWebAIError):
    """A model could not be fetched or read from where the user pointed."""


class ModelNotFoundError(ModelSourceError):
    """The server answered 404 (or another client error) for the model URL."""


class NetworkError(ModelSourceError):
    """The connection failed or dropped while fetching the model."""


class CatalogueError(LocalWebAIError):
    """The model catalogue file is missing, malformed, or names a bad entry."""


class HubError(ModelSourceError):
    """A Hugging Face repository could not be listed: bad ``owner/repo``, a bad hub URL, or an
    answer that is not a model's file list."""


class HubRepoNotFoundError(HubError):
    """The hub has no public model repository by that name (404, or 401 for a private one)."""


class NoGGUFFilesError(HubError):
    """The repository exists but holds no ``.gguf`` file."""


class ModelTooLargeError(LocalWebAIError):
    """The model (weights + KV cache + compute buffers) would not fit in the tab's memory."""


class AbortedError(LocalWebAIError):
    """The user cancelled the operation (load or generation)."""


class ParameterError(LocalWebAIError):
    """A generation or load parameter has a value the engine cannot take."""


class EngineError(LocalWebAIError):
    """The inference engine (wllama) failed to load the model or to run it."""


class ModelLoadError(EngineError):
    """The engine could not load the model."""


class ContextFullError(EngineError):
    """The conversation no longer fits in the model's context window."""


class ModelNotLoadedError(EngineError):
    """An operation needs a loaded model and none is loaded."""


class BusyError(EngineError):
    """A reply is already being generated; one runs at a time."""


class OutputFormatError(LocalWebAIError):
    """A constrained reply (JSON mode, JSON schema) does not parse or does not match."""


class ToolError(LocalWebAIError):
    """A tool call could not be completed (unknown tool, too many steps)."""


class ConversationError(LocalWebAIError):
    """A saved or imported conversation could not be read, written or found."""


def from_engine_error(
    name: str, kind: str | None, message: str, loading: bool = False
) -> LocalWebAIError:
    """Translate a wllama error (its class name, its ``type`` field, its message) to our tree;
    ``loading``: it ended a model load, so nothing is loaded."""
    if name in ("AbortError", "WllamaAbortError"):
        return AbortedError("Stopped.")
    if kind == "kv_cache_full" or "exceeds the available context size" in message:
        return ContextFullError(
            "The conversation no longer fits in the model's context window. "
            "Start a new chat or load the model with a larger context."
        )
    if kind == "model_not_loaded":
        return ModelNotLoadedError("No model is loaded yet: load one first.")
    if name == "NotReadableError" or "could not be read" in message:
        return ModelLoadError(
            "The browser could not read the model's bytes back from its storage. In a private "
            "window browsers keep stored files in memory and may drop large ones (over about "
            f"2 GB): use a normal window, or free memory and load it again. ({message})"
        )
    if kind == "load_error" or loading:
        return ModelLoadError(f"The engine could not load this model: {message}")
    if "Failed to initialize samplers" in message:
        return EngineError(
            f"The engine refused these sampling settings or this grammar ({message})."
        )
    if name in ("RuntimeError", "WllamaRuntimeError"):
        return EngineError(
            f"The engine hit an internal error and stopped this reply ({message}). "
            "The model stays loaded: try again, or reload it if this repeats."
        )
    return EngineError(f"The engine failed: {message}")
