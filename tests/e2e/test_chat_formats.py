"""A model without a chat template, chatted with in real Chromium through the runner API: the
tiny gemma (``scripts/make_test_models.py``) gets the gemma format chosen by its architecture,
so the wasm engine sees exactly the prompt native llama.cpp's own gemma template makes, answers
with native llama.cpp's greedy tokens (tests/data/tiny_gemma_chat.json), and stops at its
``<end_of_turn>`` instead of running on to max tokens."""

from __future__ import annotations

import json
from pathlib import Path

from localwebai.chat_formats import GEMMA
from playwright.sync_api import Page

from tests.e2e import test_runner
from tests.support.page_python import run_python

REFERENCE = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "tiny_gemma_chat.json").read_text()
)
MAX_TOKENS = 32
harness = test_runner.harness
"""The runner API page (tests/e2e/test_runner.py), the API imported as a user's page would."""


def test_a_gemma_without_a_template_is_prompted_as_gemma_and_stops_at_its_turn_end(
    harness: Page,
):
    seen = run_python(
        harness,
        f"""
        reference = json.loads({json.dumps(json.dumps(REFERENCE))})
        greedy = GenerationParams(max_tokens={MAX_TOKENS}, temperature=0)
        runner = await create_runner()
        try:
            source = locate(reference["model_file"])
            inspection = await runner.inspect(source)
            params = runner.load_params(inspection, LoadChoices(n_ctx=256))
            await runner.load_model(source, params, inspection=inspection)
            system, user = reference["messages"]
            chat = runner.chat_session(system_prompt=system["content"])
            reply = await chat.ask(user["content"], greedy)
            raw = await runner.generate(reference["prompt"], greedy)
            seen = {{
                "template": runner.chat_template_name,
                "text": reply.text,
                "stop": reply.stop_reason.value,
                "prompt_tokens": reply.timings.prompt_tokens,
                "generated": reply.timings.generated_tokens,
                "raw": raw.text,
                "raw_stop": raw.stop_reason.value,
            }}
        finally:
            await runner.terminate()
        seen
        """,
    )
    assert seen["template"] == GEMMA.name, seen
    # the prompt the engine saw: as many tokens as native llama.cpp's gemma prompt...
    assert seen["prompt_tokens"] == len(REFERENCE["prompt_token_ids"]), seen
    # ...and the reply is native llama.cpp's greedy reply to it, token for token
    assert seen["text"] == REFERENCE["generated_text"] == seen["raw"], seen
    assert seen["generated"] == len(REFERENCE["generated_token_ids"]) < MAX_TOKENS
    assert seen["stop"] == seen["raw_stop"] == "end"  # at <end_of_turn>, not max tokens
