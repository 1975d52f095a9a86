"""What the tests (and the benchmark scripts) are built on: the browser and its localhost guard,
the generated GGUF files, serve.py in a thread, and Python run in the page. The fixtures that use
them are in tests/conftest.py."""
