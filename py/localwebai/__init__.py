"""LocalWebAI: run GGUF language models fully offline in a browser tab.

The modules directly in this package are a pure-Python core (GGUF parsing, parameters, chat
history, generation records, errors) that runs in CPython and in Pyodide alike. Everything that
touches JavaScript (DOM, fetch, wllama) lives in ``localwebai.browser`` and runs only in the page.
"""

__version__ = "0.1.0"
