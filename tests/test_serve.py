"""``depthnet-tui --serve`` in a real headless Chromium (Debian's ``chromium``), driven over the DevTools protocol.

The page is textual-serve's xterm.js terminal, drawn with WebGL: the DOM holds no text. What the terminal shows is
read back from xterm's own screen buffer (its public ``buffer.active.getLine().translateToString()``), found in the
page's heap with ``Runtime.queryObjects`` — the characters xterm draws, after the real websocket, the real app
process and the real key events. The browser resolves no name but 127.0.0.1 (``--host-resolver-rules``).

Without chromium these skip locally and fail under CI (``.ci/run`` installs it: ``.ci/chromium``).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest
from conftest import REPO, require

from tui.serve import bind_refusal, is_loopback

WAIT = 60.0  # seconds: the bound on every wait below (a 2-core CI machine starting Chromium and the app)


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """A stream's lines as they come, read in a thread (so every wait on them can have a deadline)."""
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            out.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return out


def wait_line(lines: queue.Queue[str], pattern: str, what: str) -> re.Match[str]:
    deadline = time.monotonic() + WAIT
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if m := re.search(pattern, line):
            return m
    raise AssertionError(f"no {what} within {WAIT} s; got: {''.join(seen)[-2000:]}")


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop a process group we started (the server and the app processes it started), by its id."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture()
def served() -> Iterator[tuple[str, list[str]]]:
    """``depthnet-tui --serve --port 0`` as a user starts it: (the URL it printed, every line it printed)."""
    from tui.state import config_dir

    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "setup-seen").touch()  # Welcome first, not the first-start Setup screen
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.app", "--serve", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines = lines_of(proc.stdout)
        url = wait_line(lines, r"in your browser: (http://127\.0\.0\.1:\d+/[\w-]+/)$", "URL").group(1)
        ssh = wait_line(lines, r"ssh -L (\d+):127\.0\.0\.1:(\d+) \S+", "ssh line")
        yield url, [ssh.string]
    finally:
        stop(proc)


def test_loopback_only_unless_public():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.1.2.3", "192.0.2.7"))
    assert bind_refusal("127.0.0.1", public=False) is None
    assert bind_refusal("0.0.0.0", public=True) is None
    refused = subprocess.run(
        [sys.executable, "-m", "tui.app", "--serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith(
        "depthnet-tui: --host 0.0.0.0 is not a loopback address"
    )
    assert "--public" in refused.stderr


def test_aiohttp_is_not_imported_without_serve():
    """The web server's imports cost nothing to a terminal start."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, tui.app; print('aiohttp' in sys.modules, 'textual_serve' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        cwd=REPO,
    )
    assert done.stdout.split() == ["False", "False"], done.stderr


async def test_every_route_needs_the_token(served):
    url, printed = served
    origin, token = url.rstrip("/").rsplit("/", 1)
    port = origin.rsplit(":", 1)[1]
    assert printed[0].startswith(f"from your own machine: ssh -L {port}:127.0.0.1:{port} ")
    wrong = ("x" if token[0] != "x" else "y") + token[1:]  # same length, one character off
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/ws", "/static/js/textual.js", f"/{wrong}/", f"/{wrong}/ws", f"/{token[:-1]}/"):
            async with http.get(origin + path) as r:
                assert r.status == 403, path
                assert "needs the access token" in await r.text()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{origin}/{wrong}/ws?width=80&height=24")
        assert refused.value.status == 403
        async with http.get(url) as r:
            assert r.status == 200
            page = await r.text()
        assert f'data-session-websocket-url="ws://127.0.0.1:{port}/{token}/ws"' in page
        async with http.get(f"{url}static/js/textual.js") as r:
            assert r.status == 200


# ---------------------------------------------------------------------------------------------- the browser


class Cdp:
    """The few DevTools-protocol calls the test needs, over aiohttp's websocket client (flat sessions)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.next_id = ws, 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        mine = self.next_id
        message: dict[str, Any] = {"id": mine, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        await self.ws.send_str(json.dumps(message))
        while True:
            reply = json.loads((await asyncio.wait_for(self.ws.receive(), WAIT)).data)
            if reply.get("id") != mine:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise AssertionError(f"{method}: {reply['error']}")
            return reply["result"]

    async def screen_text(self) -> str:
        """The rows xterm.js holds for the terminal on the page ('' before it exists)."""
        found = await self.call("Runtime.evaluate", expression="Object.prototype")
        heap = await self.call("Runtime.queryObjects", prototypeObjectId=found["result"]["objectId"])
        reader = """function () {
            for (const o of this) {
                try {
                    if (o && o.websocket_url && o.terminal && o.terminal.buffer) {
                        const b = o.terminal.buffer.active, rows = [];
                        for (let y = 0; y < o.terminal.rows; y++) rows.push(b.getLine(y).translateToString(true));
                        return rows.join("\\n");
                    }
                } catch (e) {}
            }
            return "";
        }"""
        got = await self.call(
            "Runtime.callFunctionOn",
            functionDeclaration=reader,
            objectId=heap["objects"]["objectId"],
            returnByValue=True,
        )
        await self.call("Runtime.releaseObjectGroup", objectGroup="")
        return str(got["result"].get("value") or "")

    async def wait_text(self, needle: str) -> str:
        deadline = time.monotonic() + WAIT
        text = ""
        while time.monotonic() < deadline:
            text = await self.screen_text()
            if needle in text:
                return text
            await asyncio.sleep(0.2)  # a poll interval, not a wait for time to pass: the condition decides
        raise AssertionError(f"{needle!r} not on the page within {WAIT} s; the terminal shows:\n{text}")

    async def press(self, key: str, code: str, key_code: int, text: str) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=code,
                windowsVirtualKeyCode=key_code,
                **({"text": text} if kind == "keyDown" else {}),
            )


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Cdp]:
    exe = shutil.which("chromium")
    require(exe is not None, "Debian's chromium is not installed (apt-get install -y chromium; .ci/chromium)")
    assert exe is not None
    proc = subprocess.Popen(
        [
            exe,
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # no network but 127.0.0.1
            "--window-size=1100,700",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        devtools = wait_line(
            lines_of(proc.stderr), r"DevTools listening on (ws://\S+)", "DevTools URL"
        ).group(1)
        async with aiohttp.ClientSession() as http, http.ws_connect(devtools, max_msg_size=0) as ws:
            cdp = Cdp(ws)
            target = await cdp.call("Target.createTarget", url="about:blank")
            attached = await cdp.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
            cdp.session = attached["sessionId"]
            await cdp.call("Page.enable")
            await cdp.call("Network.enable")
            yield cdp
    finally:
        stop(proc)


async def test_the_app_in_a_real_browser(served, tmp_path):
    url, _ = served
    origin, token = url.rstrip("/").rsplit("/", 1)
    async with chromium(tmp_path / "profile") as cdp:
        # A wrong token: the browser gets 403 and our one line, no app.
        wrong = f"{origin}/{'x' if token[0] != 'x' else 'y'}{token[1:]}/"
        await cdp.call("Page.navigate", url=wrong)
        deadline = time.monotonic() + WAIT

        def responses() -> list[dict[str, Any]]:
            return [
                e["params"]["response"]
                for e in cdp.events
                if e.get("method") == "Network.responseReceived" and e["params"]["response"]["url"] == wrong
            ]

        while not responses():
            assert time.monotonic() < deadline, "no response to the wrong-token page"
            await cdp.call("Runtime.evaluate", expression="1")  # collects the events that arrived meanwhile
        assert [r["status"] for r in responses()] == [403]
        body = ""
        while "needs the access token" not in body:
            assert time.monotonic() < deadline, body
            got = await cdp.call(
                "Runtime.evaluate",
                expression="document.body ? document.body.innerText : ''",
                returnByValue=True,
            )
            body = got["result"]["value"]

        # The right one: the page loads, the app starts, Welcome is drawn.
        await cdp.call("Page.navigate", url=url)
        text = await cdp.wait_text("New setup — choose a data root")
        assert "From a folder of RGB images and depth maps" in text and "Try it with sample data" in text
        assert "Data root — the folder that holds the scene folders" not in text

        # A key press reaches the app: Enter on "New setup" opens the Data root step.
        await cdp.call(
            "Runtime.evaluate", expression="document.querySelector('.xterm-helper-textarea').focus()"
        )
        await cdp.press("Enter", "Enter", 13, "\r")
        text = await cdp.wait_text("Data root — the folder that holds the scene folders")
        assert "New setup — choose a data root" not in text
