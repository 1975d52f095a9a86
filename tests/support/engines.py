"""One way to drive the app in three browser engines: Chromium (Playwright), Firefox (WebDriver
BiDi over a WebSocket) and WebKit (WebKitWebDriver, classic WebDriver through selenium).

A test gets a :class:`Driver` and speaks JavaScript to the page through it: ``evaluate`` runs a
function with JSON arguments and returns its JSON result (awaiting a promise), ``wait_for`` polls
one until it returns something truthy. Only navigation and file inputs use each engine's own
commands. Every engine is kept off the network: Chromium by request interception, Firefox and
WebKit through :class:`RefusingProxy` (they have no interception a test can rely on); Firefox's
BiDi network events also attribute each request to the page, so its own background traffic,
refused by the proxy, does not fail a test. ``Driver.close`` raises when the page tried to reach
beyond localhost.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LOCAL_HOSTS, block_non_local

ENGINES = ("chromium", "firefox", "webkit")
FIREFOX = "/usr/bin/firefox-esr"
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
WEBKIT_BROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
WEBKIT_ENV = {"JSC_useSharedArrayBuffer": "1"}
"""WebKitGTK exposes SharedArrayBuffer (threads) only with this; Safari has it when isolated."""
POLL_S = 0.1
CONSOLE_TAIL = 40
"""How many of the page's last console lines a crash report quotes."""
WEBKIT_LOG = os.environ.get("LOCALWEBAI_WEBKIT_LOG", os.devnull)
WEBKIT_START_TIMEOUT_S = 45
WEBKIT_START_ATTEMPTS = 3
"""Now and then MiniBrowser never answers WebKitWebDriver's new session (seen once in ~30
starts here): such a start is abandoned and tried again."""

# Firefox prefs: no first-run pages, updates, telemetry or remote settings, and every non-local
# request through the refusing proxy (set per launch).
FIREFOX_PREFS: dict[str, Any] = {
    "app.normandy.enabled": False,
    "app.update.disabledForTesting": True,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.newtabpage.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "extensions.update.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "remote.prefs.recommended": True,
    "toolkit.telemetry.enabled": False,
    "network.proxy.type": 1,
    "network.proxy.no_proxies_on": "localhost, 127.0.0.1",
    "network.proxy.allow_hijacking_localhost": False,
}


class PageCrashed(RuntimeError):
    """The page's renderer died: polling it again cannot help."""


class Driver(Protocol):
    """A page in one engine; see the module docstring."""

    engine: str

    def goto(self, url: str) -> None: ...
    def reload(self) -> None: ...
    def evaluate(self, function: str, *args: Any) -> Any: ...
    def set_files(self, selector: str, path: Path) -> None: ...
    def close(self) -> None: ...


def wait_for(driver: Driver, function: str, *args: Any, timeout_s: float = 60) -> Any:
    """Poll ``function(*args)`` in the page until it returns something truthy; that value.
    A call that fails (the page is between documents: its own reload into isolation) is
    polled again."""
    deadline = time.monotonic() + timeout_s
    failure: Exception | None = None
    while True:
        try:
            value = driver.evaluate(function, *args)
            if value:
                return value
        except PageCrashed:
            raise
        except Exception as error:
            failure = error
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{driver.engine}: no answer in {timeout_s} s from {function}"
                + (f" (last error: {failure})" if failure else "")
            )
        time.sleep(POLL_S)


# ---- the refusing proxy ---------------------------------------------------------------------


class RefusingProxy:
    """An HTTP proxy on localhost that answers every request 403 and logs where it was going
    (``CONNECT host:443`` or ``GET http://host/...``): a browser pointed at it reaches nothing."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                with contextlib.suppress(OSError):
                    line = connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                    if line:
                        self.requests.append(line)
                    connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._socket.close()


# ---- Chromium -------------------------------------------------------------------------------


class PlaywrightDriver:
    """Chromium through Playwright, requests beyond localhost aborted and recorded."""

    engine = "chromium"

    def __init__(self, playwright: Any, profile: Path) -> None:
        self._context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        self.blocked = block_non_local(self._context)
        self.page = self._context.pages[0] if self._context.pages else self._context.new_page()
        self.console: deque[str] = deque(maxlen=CONSOLE_TAIL)
        self.crashed = False
        self.page.on(
            "console", lambda message: self.console.append(f"{message.type}: {message.text}")
        )
        self.page.on("crash", lambda _page: setattr(self, "crashed", True))

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def reload(self) -> None:
        self.page.reload()

    def evaluate(self, function: str, *args: Any) -> Any:
        if self.crashed:
            raise PageCrashed(
                "chromium: the page crashed; its last console lines:\n" + "\n".join(self.console)
            )
        return self.page.evaluate(f"(args) => ({function})(...args)", list(args))

    def set_files(self, selector: str, path: Path) -> None:
        self.page.set_input_files(selector, str(path))

    def close(self) -> None:
        self._context.close()
        assert self.blocked == [], f"chromium: the page reached beyond localhost: {self.blocked}"


# ---- Firefox --------------------------------------------------------------------------------


class BidiError(RuntimeError):
    """A WebDriver BiDi command failed, or the page threw."""


class FirefoxDriver:
    """Firefox ESR over WebDriver BiDi (its built-in remote agent), headless."""

    engine = "firefox"

    def __init__(self, profile: Path, proxy: RefusingProxy) -> None:
        from websockets.sync.client import connect

        prefs = {
            **FIREFOX_PREFS,
            **{f"network.proxy.{kind}": "127.0.0.1" for kind in ("http", "ssl")},
            **{f"network.proxy.{kind}_port": proxy.port for kind in ("http", "ssl")},
        }
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())
        )
        self._process = subprocess.Popen(
            [
                FIREFOX,
                "--headless",
                "--no-remote",
                "--profile",
                str(profile),
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._exit = contextlib.ExitStack()
        self._socket = self._exit.enter_context(
            connect(self._ws_url(), max_size=None, ping_interval=None, open_timeout=30)
        )
        self._next_id = 0
        self.page_requests: list[str] = []
        self._command("session.new", capabilities={})
        tree = self._command("browsingContext.getTree", maxDepth=0)
        self._context = tree["contexts"][0]["context"]
        self._command("session.subscribe", events=["network.beforeRequestSent"])

    def _ws_url(self) -> str:
        assert self._process.stderr is not None
        deadline = time.monotonic() + 60
        for line in self._process.stderr:
            found = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
            if found:
                threading.Thread(target=self._drain, daemon=True).start()
                return found.group(1).rstrip("/") + "/session"
            if time.monotonic() > deadline:
                break
        raise BidiError(f"Firefox did not start its BiDi agent (exit {self._process.poll()})")

    def _drain(self) -> None:
        assert self._process.stderr is not None
        for _line in self._process.stderr:
            pass

    def _command(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == ident:
                if message.get("type") == "error":
                    raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]
            if message.get("type") == "event":
                self._on_event(message["method"], message["params"])

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "network.beforeRequestSent" and params.get("context"):
            url = params["request"]["url"]
            if url.startswith(("http:", "https:", "ws:", "wss:")) and (
                urlsplit(url).hostname not in LOCAL_HOSTS
            ):
                self.page_requests.append(url)

    def goto(self, url: str) -> None:
        self._command("browsingContext.navigate", context=self._context, url=url, wait="complete")

    def reload(self) -> None:
        self._command("browsingContext.reload", context=self._context, wait="complete")

    def _call(self, declaration: str, arguments: list[dict[str, Any]]) -> dict[str, Any]:
        result = self._command(
            "script.callFunction",
            functionDeclaration=declaration,
            arguments=arguments,
            awaitPromise=True,
            target={"context": self._context},
            resultOwnership="none",
        )
        if result.get("type") == "exception":
            details = result["exceptionDetails"]
            raise BidiError(f"firefox: the page threw: {details.get('text')}")
        return result["result"]

    def evaluate(self, function: str, *args: Any) -> Any:
        declaration = f"async (args) => JSON.stringify(await ({function})(...JSON.parse(args)))"
        value = self._call(declaration, [{"type": "string", "value": json.dumps(list(args))}])
        return json.loads(value["value"]) if value.get("type") == "string" else None

    def set_files(self, selector: str, path: Path) -> None:
        element = self._call(
            "(selector) => document.querySelector(selector)",
            [{"type": "string", "value": selector}],
        )
        self._command(
            "input.setFiles",
            context=self._context,
            element={"sharedId": element["sharedId"]},
            files=[str(path)],
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._command("session.end")
        self._exit.close()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        assert self.page_requests == [], (
            f"firefox: the page tried to reach beyond localhost: {self.page_requests}"
        )


# ---- WebKit ---------------------------------------------------------------------------------


class WebKitDriver:
    """WebKitGTK's MiniBrowser through WebKitWebDriver (selenium), in a virtual X display."""

    engine = "webkit"

    def __init__(self, proxy: RefusingProxy, shared_array_buffer: bool = True) -> None:
        from selenium import webdriver
        from selenium.webdriver.common.proxy import Proxy, ProxyType
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        self._proxy = proxy
        self._display = VirtualDisplay()
        options = Options()
        options.binary_location = WEBKIT_BROWSER
        options.add_argument("--automation")
        address = f"127.0.0.1:{proxy.port}"
        options.proxy = Proxy(
            {
                "proxyType": ProxyType.MANUAL,
                "httpProxy": address,
                "sslProxy": address,
                "noProxy": sorted(LOCAL_HOSTS),
            }
        )
        # NO_AT_BRIDGE: no accessibility bus to wait for (there is no D-Bus session here)
        environment = {**os.environ, "DISPLAY": self._display.name, "NO_AT_BRIDGE": "1"}
        if shared_array_buffer:
            environment.update(WEBKIT_ENV)
        for _attempt in range(WEBKIT_START_ATTEMPTS):
            service = Service(WEBKIT_DRIVER, env=environment, log_output=WEBKIT_LOG)
            started: list[Any] = []
            starting = threading.Thread(
                target=lambda out=started, service=service: out.append(
                    webdriver.WebKitGTK(options=options, service=service)
                ),
                daemon=True,
            )
            starting.start()
            starting.join(WEBKIT_START_TIMEOUT_S)
            if started:
                break
            _kill_tree(service.process)  # a browser that never came up: start another
            warnings.warn(
                f"WebKit did not start in {WEBKIT_START_TIMEOUT_S} s: retried", stacklevel=2
            )
        else:
            self._display.close()
            raise RuntimeError(f"WebKit did not start in {WEBKIT_START_ATTEMPTS} attempts")
        self._driver = started[0]
        self._driver.set_script_timeout(600)

    def goto(self, url: str) -> None:
        self._driver.get(url)

    def reload(self) -> None:
        self._driver.refresh()

    def evaluate(self, function: str, *args: Any) -> Any:
        script = (
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => ({function})(...JSON.parse(arguments[0])))"
            ".then((v) => done(JSON.stringify({value: v === undefined ? null : v})),"
            " (e) => done(JSON.stringify({error: String(e && e.stack || e)})));"
        )
        answer = json.loads(self._driver.execute_async_script(script, json.dumps(list(args))))
        if "error" in answer:
            raise RuntimeError(f"webkit: the page threw: {answer['error']}")
        return answer["value"]

    def set_files(self, selector: str, path: Path) -> None:
        from selenium.webdriver.common.by import By

        self._driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))

    def close(self) -> None:
        try:
            self._driver.quit()
        finally:
            self._display.close()
        assert self._proxy.requests == [], (
            f"webkit: the page tried to reach beyond localhost: {self._proxy.requests}"
        )


def _kill_tree(process: subprocess.Popen | None) -> None:
    """Kill a process and everything it started."""
    import psutil

    if process is None:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(process.pid)
        for child in [*parent.children(recursive=True), parent]:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


class VirtualDisplay:
    """An Xvfb server on a free display number, for the WebKitGTK browser."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self._process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as display:
            number = display.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        self.name = f":{number}"

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(10)


# ---- launching ------------------------------------------------------------------------------


def missing(engine: str) -> str | None:
    """What this machine lacks to run ``engine`` (``.ci/run`` installs it), or None."""
    needs = {
        "chromium": [CHROMIUM],
        "firefox": [FIREFOX],
        "webkit": [WEBKIT_DRIVER, WEBKIT_BROWSER, shutil.which("Xvfb") or "Xvfb"],
    }[engine]
    absent = [path for path in needs if not Path(path).exists()]
    return f"{engine} needs {', '.join(absent)} (apt packages: see .ci/run)" if absent else None


@contextlib.contextmanager
def launched(
    engine: str, playwright: Any = None, shared_array_buffer: bool = True
) -> Iterator[Driver]:
    """A fresh browser of ``engine`` (a new profile) with one page, closed after the block.
    Chromium needs ``playwright``; ``shared_array_buffer=False`` starts WebKit without it."""
    with tempfile.TemporaryDirectory(prefix=f"{engine}-profile-") as profile:
        proxy = RefusingProxy()
        driver: Driver
        try:
            if engine == "chromium":
                driver = PlaywrightDriver(playwright, Path(profile))
            elif engine == "firefox":
                driver = FirefoxDriver(Path(profile), proxy)
            else:
                driver = WebKitDriver(proxy, shared_array_buffer)
            try:
                yield driver
            finally:
                driver.close()
        finally:
            proxy.close()
