"""Headless Chromium (Debian's ``chromium`` package) for looking at the report as a reader does.

Used by ``tools/screenshot_report.py`` (the screenshots under docs/screenshots) and by
tests/test_report_browser.py. Chromium's profile and HOME are a temporary folder in the
given scratch folder, so nothing outside it is written.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

#: The closed network here refuses Chromium's background connections; these flags keep it
#: from trying (and from waiting on them), and a fresh profile keeps runs independent.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


class WebDriverError(RuntimeError):
    """ChromeDriver refused a command; ``error`` is the W3C error code."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error


#: Errors of a page still being drawn (React replaces elements as it renders): retried.
TRANSIENT_ERRORS = {
    "stale element reference",
    "element click intercepted",
    "element not interactable",
    "no such frame",
    "no such element",
}


class BrowserMissingError(RuntimeError):
    """Chromium is not installed (``apt-get install chromium``; .ci/run does it)."""


def chromium_path() -> str:
    """Path of Debian's Chromium, or :class:`BrowserMissingError`."""
    path = shutil.which("chromium")
    if path is None:
        raise BrowserMissingError(
            "chromium not found: install Debian's package (apt-get install chromium)"
        )
    return path


class WebDriver:
    """A Chromium session driven through ChromeDriver's W3C WebDriver protocol.

    ChromeDriver is Debian's ``chromium-driver``; the session clicks through the report as a
    reader does.
    """

    def __init__(self, scratch: Path, width: int = 1600, height: int = 1000) -> None:
        driver = shutil.which("chromedriver")
        if driver is None:
            raise BrowserMissingError("chromedriver not found: apt-get install chromium-driver")
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-", dir=scratch)
        port = _free_port()
        self._driver = subprocess.Popen(
            [driver, f"--port={port}", "--log-level=OFF"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": self._profile.name},
        )
        self._base = f"http://127.0.0.1:{port}"
        _wait_until_ready(self._base)
        options = {
            "binary": chromium_path(),
            "args": [
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self._profile.name}/profile",
                f"--window-size={width},{height}",
            ],
        }
        capabilities = {"alwaysMatch": {"goog:chromeOptions": options}}
        self._session = self._call("POST", "/session", {"capabilities": capabilities})["sessionId"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self._base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            value = json.loads(exc.read() or b"{}").get("value", {})
            raise WebDriverError(
                value.get("error", str(exc.code)), value.get("message", "")
            ) from None

    def _session_call(self, method: str, path: str, body: dict | None = None) -> dict:
        return self._call(method, f"/session/{self._session}{path}", body)

    def open(self, page: Path) -> None:
        """Load a local HTML file."""
        self._session_call("POST", "/url", {"url": page.resolve().as_uri()})

    def click(self, xpath: str, timeout_s: float = 20) -> None:
        """Click the first element matching ``xpath``, waiting for the page to draw it."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self._session_call("POST", "/elements", {"using": "xpath", "value": xpath})
            if found:
                element = next(iter(found[0].values()))
                try:
                    self._session_call("POST", f"/element/{element}/click", {})
                    return
                except WebDriverError as exc:
                    if exc.error not in TRANSIENT_ERRORS:
                        raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing matches {xpath} in the page")
            time.sleep(0.25)

    def click_until(self, xpath: str, shown_xpath: str, timeout_s: float = 30) -> None:
        """Click ``xpath`` until ``shown_xpath`` is in the page.

        A click that lands before the page's scripts have attached their handlers does
        nothing; clicking again once they have is what a reader would do.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self.click(xpath, timeout_s=max(deadline - time.monotonic(), 1.0))
            for _ in range(8):
                if self._session_call(
                    "POST", "/elements", {"using": "xpath", "value": shown_xpath}
                ):
                    return
                time.sleep(0.25)
            if time.monotonic() > deadline:
                raise RuntimeError(f"clicking {xpath} never showed {shown_xpath}")

    def page_text(self) -> str:
        """The visible text of the page and of each frame in it (a report item is a frame)."""
        script = {"script": "return document.body.innerText;", "args": []}
        texts = [self._session_call("POST", "/execute/sync", script)]
        frames = self._session_call(
            "POST", "/elements", {"using": "css selector", "value": "iframe"}
        )
        for frame in frames:
            self._session_call("POST", "/frame", {"id": frame})
            texts.append(self._session_call("POST", "/execute/sync", script))
            self._session_call("POST", "/frame/parent", {})
        return "\n".join(texts)

    def wait_for_text(self, text: str, timeout_s: float = 20) -> str:
        """:meth:`page_text` once it holds ``text`` (the report draws items asynchronously)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                shown = self.page_text()
            except WebDriverError as exc:
                if exc.error not in TRANSIENT_ERRORS:
                    raise
                shown = ""
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise RuntimeError(f"{text!r} never appeared in the page")
            time.sleep(0.25)

    def screenshot(self, png: Path) -> None:
        """Save what the window shows."""
        png.write_bytes(base64.b64decode(self._session_call("GET", "/screenshot")))

    def close(self) -> None:
        """End the session and stop ChromeDriver."""
        try:
            self._session_call("DELETE", "")
        finally:
            self._driver.terminate()
            self._driver.wait(timeout=30)
            self._profile.cleanup()

    def __enter__(self) -> WebDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(base: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(base + "/status", timeout=5) as response:
                if json.loads(response.read())["value"]["ready"]:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("chromedriver did not start")
        time.sleep(0.2)
