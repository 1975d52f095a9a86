"""Test-only hook: ``window.harnessRun(source)`` runs a Python snippet (top-level await allowed)
in one namespace that has the runner API imported, and resolves to JSON
``{"ok": true, "value": ...}`` or ``{"ok": false, "type": ..., "message": ...}``.

The app never ships this: tests/e2e/test_runner.py serves it under the app's origin.
"""

import json
import traceback

import js
from pyodide.code import eval_code_async
from pyodide.ffi import create_proxy

namespace: dict = {"__name__": "harness"}
exec(
    "import json\n"
    "import js\n"
    "from localwebai.browser.runtime import create_runner\n"
    "from localwebai.constrained import ResponseFormat\n"
    "from localwebai.errors import *\n"
    "from localwebai.generation import StopReason\n"
    "from localwebai.params import GenerationParams, LoadChoices, LoadParams\n"
    "from localwebai.sources import ModelSource\n"
    "from localwebai.tools import tool\n"
    "def model_url(name):\n"
    "    return str(js.URL.new(f'/models/{name}', js.location.href).href)\n",
    namespace,
)


async def run(source: str) -> str:
    try:
        value = await eval_code_async(source, namespace)
    except Exception as error:
        return json.dumps(
            {
                "ok": False,
                "type": type(error).__name__,
                "message": str(error),
                "trace": traceback.format_exc(),
            }
        )
    return json.dumps({"ok": True, "value": value}, default=repr)


js.window.harnessRun = create_proxy(run)
js.document.body.dataset.state = "ready"
