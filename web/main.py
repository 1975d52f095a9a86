"""Page entry point: PyScript runs this once Python has booted (see pyscript.json)."""

from localwebai.browser.app import main

await main()  # noqa: F704 - PyScript allows top-level await
