"""``python -m localwebai run | chat | pull | models | inspect | bench``: the native runtime
from the command line.

    python -m localwebai run MODEL "Once upon a time" --temperature 0 --max-tokens 16
    python -m localwebai run MODEL "Describe Ada as JSON." --json-schema person.json
    python -m localwebai chat MODEL [--system "You are terse."]   # /reset, /system TEXT
    python -m localwebai pull URL [--sha256 HEX]
    python -m localwebai models [--remove ID_OR_NAME]
    python -m localwebai inspect MODEL [--ctx N]
    python -m localwebai bench MODEL [--runs N]

MODEL is a local .gguf path (loaded in place), an http(s) URL (downloaded into the cache, or
resumed, or loaded from it) or a cached model's id or file name. Ctrl-C during a reply stops
the reply; in ``chat``, Ctrl-C or Ctrl-D at the prompt ends the chat. The llama-cpp-python
import happens only when a command runs, so ``build`` works without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ..bench import format_table, measure, parse_runs, speed_rows
from ..cache import describe_record, parse_sha256
from ..constrained import ResponseFormat
from ..errors import LocalWebAIError, ModelSourceError, ParameterError
from ..generation import Generation
from ..params import GenerationParams, LoadChoices
from ..progress import LoadProgress, LoadStage
from ..runner import LlamaRunner
from ..sources import ModelSource
from ..spec import format_bytes
from .blobs import FileRegion


def url_or_file(text: str) -> ModelSource | None:
    """The source ``text`` names when it is an http(s) URL or an existing file."""
    if text.startswith(("http://", "https://")):
        return ModelSource.from_url(text)
    path = Path(text).expanduser()
    if path.is_file():
        return ModelSource.from_file(FileRegion.whole(path), path.name)
    return None


async def resolve(text: str, runner: LlamaRunner) -> ModelSource:
    """A URL, a local file, or a cached model's id or file name."""
    source = url_or_file(text)
    if source is not None:
        return source
    for record in await runner.store.cache.models():
        if text in (record.id, record.file_name):
            return ModelSource.from_cache(record.id, record.file_name)
    raise ModelSourceError(f"{text} is not a file, an http(s) URL, nor a cached model.")


def print_progress(progress: LoadProgress) -> None:
    """One status line on stderr, rewritten in place."""
    text = progress.stage.value
    if progress.note:
        print(f"\r\x1b[K{progress.note}", file=sys.stderr)
    if progress.total:
        text += f" {format_bytes(progress.done)} / {format_bytes(progress.total)}"
    end = "\n" if progress.stage is LoadStage.READY else ""
    print(f"\r\x1b[K{text}", end=end, file=sys.stderr, flush=True)


@contextlib.contextmanager
def ctrl_c_calls(action: Callable[[], None]) -> Iterator[None]:
    """While the block runs, Ctrl-C calls ``action`` (stops a reply) instead of ending us."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, action)
    except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C ends the program
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def load(runner: LlamaRunner, args: argparse.Namespace) -> None:
    source = await resolve(args.model, runner)
    inspection = await runner.inspect(source)
    choices = LoadChoices(n_ctx=args.ctx, n_threads=args.threads, n_gpu_layers=args.gpu_layers)
    params = runner.load_params(inspection, choices)
    await runner.load_model(source, params, print_progress, inspection=inspection)
    print(f"{runner.model_name} · {runner.backend} · {params.n_ctx} context", file=sys.stderr)


def generation_params(args: argparse.Namespace) -> GenerationParams:
    params = GenerationParams(
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        stop=tuple(args.stop),
    )
    schema = getattr(args, "json_schema", None)
    if schema is None:
        return params
    try:
        text = Path(schema).read_text()
    except OSError as error:
        raise ParameterError(f"Cannot read the JSON schema {schema}: {error.strerror}.") from None
    return params.with_format(ResponseFormat.from_schema_text(text))


async def _runner(args: argparse.Namespace) -> LlamaRunner:
    from .runtime import create_runner

    return await create_runner(force_cpu=args.cpu, cache_dir=args.cache_dir)


async def print_reply(reply: Generation, abort: Callable[[], None]) -> None:
    """Stream a reply to stdout as it comes (Ctrl-C stops it), then its stats to stderr."""
    with ctrl_c_calls(abort):
        async for piece in reply:
            print(piece, end="", flush=True)
    print()
    print(reply.result.summary(), file=sys.stderr)


async def run_prompt(args: argparse.Namespace) -> None:
    runner = await _runner(args)
    try:
        await load(runner, args)
        await print_reply(runner.generate(args.prompt, generation_params(args)), runner.abort)
    finally:
        await runner.terminate()


async def run_chat(args: argparse.Namespace) -> None:
    runner = await _runner(args)
    try:
        await load(runner, args)
        chat = runner.chat_session(system_prompt=args.system)
        params = generation_params(args)
        print("Ctrl-C stops a reply; Ctrl-D (or Ctrl-C here) ends the chat.", file=sys.stderr)
        while True:
            try:
                text = input("> ")
            except (EOFError, KeyboardInterrupt):
                print(file=sys.stderr)
                return
            if not text.strip():
                continue
            if text.strip() == "/reset":
                chat.clear()
                print("(a new conversation)", file=sys.stderr)
                continue
            if text.startswith("/system"):
                chat.system_prompt = text.removeprefix("/system").strip()
                print(f"(system prompt: {chat.system_prompt or 'none'})", file=sys.stderr)
                continue
            await print_reply(chat.send(text, params), chat.abort)
    finally:
        await runner.terminate()


async def run_pull(args: argparse.Namespace) -> None:
    runner = await _runner(args)
    source = ModelSource.from_url(args.url, sha256=parse_sha256(args.sha256 or ""))
    inspection = await runner.inspect(source)
    blob = await runner.store.open(source, inspection, None, print_progress)
    print(f"\r\x1b[K{blob.path} ({format_bytes(blob.size)})")


async def run_models(args: argparse.Namespace) -> None:
    runner = await _runner(args)
    records = await runner.store.cache.models()
    if args.remove:
        chosen = [r for r in records if args.remove in (r.id, r.file_name)]
        if not chosen:
            raise ModelSourceError(f"No cached model is called {args.remove}.")
        for record in chosen:
            await runner.store.cache.delete(record.id)
            print(f"removed {record.file_name} ({record.id})")
        return
    if not records:
        print("no cached models", file=sys.stderr)
    for record in records:
        print(f"{record.id}  {record.file_name}  {describe_record(record)}")


async def run_inspect(args: argparse.Namespace) -> None:
    """The header (a few Range requests for a URL) and the memory estimate; no weights."""
    runner = await _runner(args)
    source = await resolve(args.model, runner)
    inspection = await runner.inspect(source)
    rows = [(label, text) for label, text in inspection.spec.summary()]
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        print(f"{label:<{width}}  {text}")
    n_ctx = runner.load_params(inspection, LoadChoices(n_ctx=args.ctx)).n_ctx
    print(f"Memory: {runner.memory_estimate(inspection, n_ctx).message()}")
    if args.metadata:
        for key, kind, text in inspection.metadata_rows():
            print(f"{key} ({kind}): {text}")


async def run_bench(args: argparse.Namespace) -> None:
    """llama-bench's pp/tg, medians over ``--runs`` completions (the page's Benchmark panel)."""
    runner = await _runner(args)
    try:
        await load(runner, args)
        timings = await measure(runner, parse_runs(str(args.runs)), print_status)
        print("\r\x1b[K", end="", file=sys.stderr)
        info = runner.engine_info
        threads = str(info.threads) if info else "?"
        rows = [
            (runner.model_name, runner.backend, threads, row.test, row.text())
            for row in speed_rows(timings)
        ]
        print(format_table(("model", "backend", "threads", "test", "t/s"), rows))
    finally:
        await runner.terminate()


def print_status(text: str) -> None:
    print(f"\r\x1b[K{text}", end="", file=sys.stderr, flush=True)


COMMANDS = {
    "run": run_prompt,
    "chat": run_chat,
    "pull": run_pull,
    "models": run_models,
    "inspect": run_inspect,
    "bench": run_bench,
}


def run_native(args: argparse.Namespace) -> int:
    try:
        asyncio.run(COMMANDS[args.command](args))
    except LocalWebAIError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, help="model cache folder (default: ~/.cache)")
    parser.add_argument("--cpu", action="store_true", help="never offload layers to a GPU")


def _loading(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("model", help="a .gguf path, an http(s) URL, or a cached model")
    parser.add_argument("--ctx", type=int, help="context size in tokens (default 4096)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    parser.add_argument("--gpu-layers", type=int, help="layers to offload (GPU builds only)")
    parser.add_argument("--max-tokens", type=int, default=256, help="most tokens per reply")
    parser.add_argument("--temperature", type=float, default=0.7, help="0 = greedy")
    parser.add_argument("--seed", type=int, help="fixed sampling seed")
    parser.add_argument("--stop", action="append", default=[], help="a stop string (repeat)")


def add_native_commands(commands: argparse._SubParsersAction) -> None:
    run_cmd = commands.add_parser("run", help="complete a prompt with a model (native)")
    _loading(run_cmd)
    run_cmd.add_argument("prompt", help="the text to continue (raw, no chat template)")
    chat_cmd = commands.add_parser("chat", help="chat with a model in the terminal (native)")
    _loading(chat_cmd)
    chat_cmd.add_argument("--system", default="", help="the system prompt")
    pull_cmd = commands.add_parser("pull", help="download a model into the cache (resumes)")
    _common(pull_cmd)
    pull_cmd.add_argument("url", help="the model's http(s) URL")
    pull_cmd.add_argument("--sha256", help="the file's expected sha256, checked once")
    run_cmd.add_argument("--json-schema", type=Path, help="a JSON schema file the reply follows")
    models_cmd = commands.add_parser("models", help="list the cached models, or remove one")
    _common(models_cmd)
    models_cmd.add_argument("--remove", metavar="ID_OR_NAME", help="delete this cached model")
    inspect_cmd = commands.add_parser(
        "inspect", help="a model's GGUF header and memory needs, without its weights"
    )
    _common(inspect_cmd)
    inspect_cmd.add_argument("model", help="a .gguf path, an http(s) URL, or a cached model")
    inspect_cmd.add_argument("--ctx", type=int, help="context size for the estimate")
    inspect_cmd.add_argument("--metadata", action="store_true", help="also every metadata key")
    bench_cmd = commands.add_parser("bench", help="prompt and generation speed, like llama-bench")
    _loading(bench_cmd)
    bench_cmd.add_argument("--runs", type=int, default=3, help="completions to time (1-10)")
    for command in (run_cmd, chat_cmd, pull_cmd, models_cmd, inspect_cmd, bench_cmd):
        command.set_defaults(run=run_native)
