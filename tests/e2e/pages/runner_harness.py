"""Test-only page script: boots Python with the app's pyscript.json, then says so. The tests
import the runner API here and run their snippets through tests/support/page_python.py.

The app never ships this: tests/e2e/test_runner.py serves it under the app's origin.
"""

import js

js.document.body.dataset.state = "ready"
