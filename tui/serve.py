"""``depthnet-tui --serve``: the same app in a browser tab, one app process per browser session (textual-serve).

textual-serve has no authentication: whoever reaches its port gets an app that can launch jobs and read files as
you. So the server listens on loopback unless ``--public`` says otherwise (the SSH tunnel is the way in), and every
request must carry a random token as the first path segment: ``http://127.0.0.1:P/<token>/``. The token lives in
memory only (printed once, never written to disk or logged: aiohttp's access log would print request paths, so it is
off). The token is a path prefix, not a query parameter or cookie, because textual-serve builds the page's
websocket and static URLs from its aiohttp router: mounting its application as a sub-application under
``/<token>/`` makes every URL it hands the browser carry the token, and one middleware on the outer application
answers 403 to anything else — the websocket route included, before a process is started. (textual-serve's
file-download links ignore the prefix; this app delivers no files.)

Importing this module imports aiohttp and textual-serve: ``tui.app`` imports it only when ``--serve`` is given.
"""

from __future__ import annotations

import asyncio
import getpass
import hmac
import ipaddress
import logging
import secrets
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from textual_serve.server import Server

FORBIDDEN = (
    "403 Forbidden: this address needs the access token that `depthnet-tui --serve` printed "
    "(http://HOST:PORT/<token>/)\n"
)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback one (127.0.0.0/8, ::1; ``localhost``)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    if host == "localhost":
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def bind_refusal(host: str, public: bool) -> str | None:
    """Why we will not listen on ``host`` (None when we will)."""
    if public or is_loopback(host):
        return None
    return (
        f"--host {host} is not a loopback address: anyone who can reach it would drive the app as you; "
        "keep the default 127.0.0.1 and use an SSH tunnel, or add --public if you mean it"
    )


def free_port(host: str) -> int:
    """A port the kernel says is free on ``host`` now (for ``--port 0``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def app_command(app_args: Sequence[str]) -> str:
    """The shell command textual-serve starts for each browser session: this interpreter, the app, its flags."""
    return shlex.join([sys.executable, "-m", "tui.app", *app_args])


class TokenServer(Server):
    """textual-serve's server under ``/<token>/``, with everything else refused."""

    def __init__(self, command: str, *, host: str, port: int, token: str, public: bool) -> None:
        super().__init__(command, host=host, port=port, title="depthnet-tui")
        self.token = token
        self.public = public
        url_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{url_host}:{port}/{token}/"

    async def _make_app(self) -> web.Application:
        inner = await super()._make_app()
        outer = web.Application(middlewares=[self._require_token])
        outer.add_subapp(f"/{self.token}", inner)
        return outer

    @web.middleware
    async def _require_token(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        first = request.rel_url.raw_path.split("/", 2)[1]
        if not hmac.compare_digest(first.encode(), self.token.encode()):
            raise web.HTTPForbidden(text=FORBIDDEN)
        if request.rel_url.raw_path == f"/{self.token}":
            raise web.HTTPFound(self.url)
        return await handler(request)

    async def on_startup(self, app: web.Application) -> None:
        """aiohttp runs this before its socket listens: say the URL only once the port takes connections, so a
        person (or a script) who opens it at once is not refused."""
        self._announcing = asyncio.get_running_loop().create_task(self._announce_when_listening())

    async def _announce_when_listening(self, seconds: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            try:
                _, writer = await asyncio.open_connection(self.host.strip("[]"), self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            break
        self.announce()

    def announce(self) -> None:
        """Our lines instead of textual-serve's banner: plain prints (a pipe must not wrap the URL)."""
        port = self.port
        print(f"depthnet-tui in your browser: {self.url}", flush=True)
        if self.public:
            print(
                f"listening on {self.host}:{port} (--public): anyone with this URL who can reach the port drives "
                "the app as you",
                flush=True,
            )
        else:
            print(
                f"from your own machine: ssh -L {port}:127.0.0.1:{port} {getpass.getuser()}@{socket.gethostname()}"
                "   then open the URL above there",
                flush=True,
            )
        print("each browser tab runs its own app; Ctrl+C stops serving", flush=True)


def serve(*, host: str, port: int, public: bool, app_args: Sequence[str] = ()) -> int:
    """Serve until Ctrl+C. Exit status: 0 stopped, 1 could not listen, 2 refused (non-loopback without --public)."""
    refusal = bind_refusal(host, public)
    if refusal:
        print(f"depthnet-tui: {refusal}", file=sys.stderr)
        return 2
    try:
        port = port or free_port(host)
        server = TokenServer(
            app_command(app_args), host=host, port=port, token=secrets.token_urlsafe(24), public=public
        )
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # request paths carry the token
        server.serve()
    except OSError as exc:
        print(
            f"depthnet-tui: cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port",
            file=sys.stderr,
        )
        return 1
    return 0
