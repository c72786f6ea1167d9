"""Headless Chromium driven through the DevTools protocol over a pipe: standard library only,
no browser download, no websocket.

Chromium started with ``--remote-debugging-pipe`` reads protocol messages (JSON, each ended by a
NUL byte) on its file descriptor 3 and writes replies and events on descriptor 4. That is enough
to open a page, record every request it makes, measure its images and take a screenshot.

Used by ``tests/test_browser.py``, and from the command line to refresh the README's screenshots::

    .venv/bin/python tests/browser.py reports/2024-06-25/<run>/index.html docs/screenshots/run-index.png
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The Debian package's command first; other distributions name it differently.
CHROMIUM_COMMANDS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    # Resolve no host name, so a request a page tries is seen below but never reaches a network.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
# Measures every image once the page has loaded: its source kind, natural and rendered size.
IMAGES_SCRIPT = """JSON.stringify([...document.images].map(img => {
  const box = img.getBoundingClientRect();
  return {src: img.currentSrc.slice(0, 30), natural_width: img.naturalWidth, natural_height: img.naturalHeight,
          width: box.width, height: box.height, complete: img.complete};
}))"""


def find_chromium() -> str | None:
    """The path of the Chromium command, or ``None`` when none is installed."""
    return next((path for path in map(shutil.which, CHROMIUM_COMMANDS) if path), None)


@dataclass
class PageReport:
    """What happened while a page loaded."""

    url: str
    title: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for (first 200 characters)
    images: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript exceptions
    text: str = ""  # the page's visible text

    @property
    def requests_off_the_machine(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]

    @property
    def rendered_images(self) -> list[dict[str, Any]]:
        return [
            i for i in self.images if i["complete"] and i["natural_width"] > 0 and i["width"] > 0 and i["height"] > 0
        ]


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium with a fresh profile, for the lifetime of a ``with`` block."""

    def __init__(self, command: str | None = None, *, timeout: float = 60.0):
        self.command = command or find_chromium()
        if self.command is None:
            raise BrowserError("no Chromium installed (looked for " + ", ".join(CHROMIUM_COMMANDS) + ")")
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def as_descriptors_3_and_4():
            # Copied above 9 first, so neither dup2 can overwrite the other pipe's end.
            reading, writing = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_read, from_browser_write))
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        self._process = subprocess.Popen(
            [self.command, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=as_descriptors_3_and_4,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.call("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    # ----------------------------------------------------------------------- protocol

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its reply; events met meanwhile are kept for :meth:`wait_for`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_for(self, event: str, session: str) -> dict[str, Any]:
        """The first not yet seen ``event`` of ``session``, waiting for it if needed."""
        while True:
            for i, message in enumerate(self._events):
                if message.get("method") == event and message.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._receive())

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError(f"no message from Chromium within {self.timeout} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (status {self._process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    # ----------------------------------------------------------------------- pages

    def inspect(
        self,
        page: str | Path,
        screenshot: str | Path | None = None,
        *,
        width: int = 1200,
        height: int = 900,
        max_height: int = 20000,
    ) -> PageReport:
        """Load ``page`` (a path or URL) in a new tab of ``width`` x ``height`` CSS pixels and report its
        requests, images, errors and text; with ``screenshot``, save the page (down to
        ``max_height`` pixels) as a PNG there."""
        is_url = str(page).startswith(("file:", "http:", "https:", "data:"))
        url = str(page) if is_url else Path(page).resolve().as_uri()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Page", "Network", "Runtime"):
                self.call(f"{domain}.enable", session=session)
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session,
            )
            self._events.clear()
            self.call("Page.navigate", {"url": url}, session)
            self.wait_for("Page.loadEventFired", session)
            evaluated = self.call(
                "Runtime.evaluate", {"expression": IMAGES_SCRIPT, "returnByValue": True, "awaitPromise": True}, session
            )
            text = self.call(
                "Runtime.evaluate", {"expression": "document.body.innerText", "returnByValue": True}, session
            )
            report = PageReport(
                url=url,
                title=self.call("Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, session)[
                    "result"
                ]["value"],
                requests=[
                    e["params"]["request"]["url"][:200]
                    for e in self._events
                    if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session
                ],
                images=json.loads(evaluated["result"]["value"]),
                errors=[
                    e["params"]["exceptionDetails"].get("text", "")
                    for e in self._events
                    if e.get("method") == "Runtime.exceptionThrown" and e.get("sessionId") == session
                ],
                text=text["result"].get("value", ""),
            )
            if screenshot is not None:
                size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
                clip = {
                    "x": 0,
                    "y": 0,
                    "width": width,
                    "height": min(max(size["height"], height), max_height),
                    "scale": 1,
                }
                shot = self.call(
                    "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}, session
                )
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            return report
        finally:
            self.call("Target.closeTarget", {"targetId": target})


def shrink_png(path: str | Path, *, width: int, max_height: int, colours: int = 256) -> Path:
    """Scale the screenshot ``path`` to ``width`` pixels, crop it at ``max_height`` and reduce it to
    ``colours`` colours, in place: a small PNG for the README."""
    from PIL import Image

    path = Path(path)
    with Image.open(path) as image:
        image = image.convert("RGB")
        scaled = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        cropped = scaled.crop((0, 0, width, min(scaled.height, max_height)))
        buffer = io.BytesIO()
        cropped.quantize(colours, method=Image.Quantize.MEDIANCUT).save(buffer, format="PNG", optimize=True)
    path.write_bytes(buffer.getvalue())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot a report page with headless Chromium (offline).")
    parser.add_argument("page", help="HTML file or URL")
    parser.add_argument("png", help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1200, help="browser window width (CSS pixels)")
    parser.add_argument("--height", type=int, default=1500, help="height of the part of the page kept")
    parser.add_argument("--scale-to", type=int, default=900, help="width of the PNG written")
    args = parser.parse_args(argv)
    with Chromium() as browser:
        report = browser.inspect(args.page, args.png, width=args.width, height=args.height, max_height=args.height)
    shrink_png(args.png, width=args.scale_to, max_height=round(args.height * args.scale_to / args.width))
    print(
        f"{args.png}: {len(report.rendered_images)} images rendered, "
        f"{len(report.requests_off_the_machine)} requests off the machine",
        file=sys.stderr,
    )
    return 1 if report.requests_off_the_machine else 0


if __name__ == "__main__":
    sys.exit(main())
