"""A pytest plugin for Chromium's page crashes (Playwright's "Target crashed"): what Chromium
printed is kept (``browser.keep_browser_output``) and quoted for each crash at the end of the
run, and a browser test whose page process died runs once more.

Debian's Chromium here loses a page process now and then: seen while Python boots, while a
model loads and while it generates, with nothing in the page's console; two of the last eleven
CI runs met one. The rerun keeps such a run from failing on it, and never hides it: every crash is
listed in the summary with Chromium's last output, and a second crash fails the test. Any other
failure is never rerun.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.support.browser import CRASH_MARKERS, browser_output_tail, keep_browser_output

BROWSER_TESTS = "tests/e2e/"
CRASH_RERUNS = 1

_output = Path("chromium.log")  # set in pytest_configure
_crashes: list[tuple[str, str]] = []


def pytest_configure(config: pytest.Config) -> None:
    global _output
    _output = Path(tempfile.mkdtemp(prefix="localwebai-chromium-")) / "chromium.log"
    keep_browser_output(_output)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(BROWSER_TESTS):
            item.add_marker(pytest.mark.flaky(reruns=CRASH_RERUNS, only_rerun=list(CRASH_MARKERS)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if report.failed and any(marker in str(report.longrepr) for marker in CRASH_MARKERS):
        _crashes.append((f"{item.nodeid} ({report.when})", browser_output_tail(_output)))
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    for test, output in _crashes:
        terminalreporter.write_sep("=", f"Chromium's page crashed in {test}")
        terminalreporter.write_line(f"Chromium's last output ({_output}):")
        terminalreporter.write_line(output)
