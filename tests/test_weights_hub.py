"""`depthnet weights fetch` through the real huggingface_hub client against a local server on 127.0.0.1 that
serves the Hub's download routes (HEAD/GET /{repo}/resolve/{rev}/{file}, X-Repo-Commit, ETag, ranges) for a
fixture file: a full download, a transfer cut mid-file and resumed, 401, no network, offline with a cached file."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from fastcli import DEPTHNET

FIX = Path(__file__).parent / "fixtures" / "checkpoints"
REPO = "depth-anything/Depth-Anything-V2-Small"
FILE = "depth_anything_v2_vits.pth"
COMMIT = "a" * 40


class Hub(http.server.BaseHTTPRequestHandler):
    body = (FIX / "public_layout_vits.pth").read_bytes()
    sha = hashlib.sha256(body).hexdigest()
    cut_first_get = False
    cut_at = 0
    seen: list[tuple[str, str, str]] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def _route(self) -> bool:
        if self.path.startswith("/private/"):
            self.send_response(401)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        if self.path != f"/{REPO}/resolve/main/{FILE}":
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def _headers(self, status: int, length: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{self.sha}"')
        self.send_header("X-Linked-Etag", f'"{self.sha}"')
        self.send_header("X-Linked-Size", str(len(self.body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        type(self).seen.append(("HEAD", self.path, self.headers.get("Authorization", "")))
        if self._route():
            self._headers(200, len(self.body))

    def do_GET(self) -> None:  # noqa: N802
        rng = self.headers.get("Range", "")
        type(self).seen.append(("GET", self.path, rng))
        if not self._route():
            return
        start = int(rng.split("=")[1].split("-")[0]) if rng.startswith("bytes=") else 0
        part = self.body[start:]
        if start:
            self._headers(
                206, len(part), {"Content-Range": f"bytes {start}-{len(self.body) - 1}/{len(self.body)}"}
            )
        else:
            self._headers(200, len(part))
        if type(self).cut_first_get:
            type(self).cut_first_get = False
            self.wfile.write(part[: self.cut_at or len(part) // 3])  # the connection drops mid-file
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(part)


@pytest.fixture()
def hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Hub.seen = []
    Hub.cut_first_get = False
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetch(tmp_path, endpoint, *args, offline=False, token=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    env["HF_HUB_DISABLE_XET"] = "1"
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [*DEPTHNET, "weights", "fetch", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_a_full_download_is_verified_inspected_and_cached(hub, tmp_path):
    done = fetch(tmp_path, hub, "da2-vits", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["verified"] and out["layout"] == "public" and out["encoder"] == "vits"
    assert Path(out["path"]).read_bytes() == Hub.body
    assert "Apache-2.0" in done.stderr
    gets = [s for s in Hub.seen if s[0] == "GET"]
    again = fetch(tmp_path, hub, "da2-vits")
    assert again.returncode == 0 and again.stdout.strip() == out["path"]
    assert [s for s in Hub.seen if s[0] == "GET"] == gets  # cached: no second transfer


def test_an_interrupted_transfer_is_resumed(hub, tmp_path, monkeypatch):
    """The client hands data on in 10 MB chunks: a 24 MB file cut after 8 MB (the first chunk got through) must
    be resumed with a Range request, not started again."""
    from torchzip import T, write_torch_zip

    big = write_torch_zip(
        tmp_path / "big.pth", {"cls_token": T((1, 1, 384)), "pos_embed": T((1, 15_000, 384))}
    )
    monkeypatch.setattr(Hub, "body", big.read_bytes())
    monkeypatch.setattr(Hub, "sha", hashlib.sha256(Hub.body).hexdigest())
    monkeypatch.setattr(Hub, "cut_at", 12 * 2**20)
    Hub.cut_first_get = True
    done = fetch(tmp_path, hub, "da2-vits", "--dir", str(tmp_path / "w"), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["path"] == str(tmp_path / "w" / FILE) and out["verified"]
    assert (tmp_path / "w" / FILE).read_bytes() == Hub.body
    ranges = [s[2] for s in Hub.seen if s[0] == "GET"]
    assert ranges[0] == "" and ranges[1] == f"bytes={10 * 2**20}-"  # from the end of the chunk that arrived


def test_401_says_how_to_log_in_and_never_prints_the_token(hub, tmp_path):
    from specgen.spec import releases

    assert releases.find_release("da2-vits") is not None
    done = fetch(tmp_path, hub + "/private", "da2-vits", token="hf_secret_token_123")
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert "hf auth login" in line and "HF_TOKEN" in line
    assert "hf_secret_token_123" not in done.stderr + done.stdout
    assert any(s[2] == "Bearer hf_secret_token_123" for s in Hub.seen)  # the client did send it


def test_no_network_is_one_line(tmp_path):
    """Nothing answers: one line, at once — one direct connection decides, not huggingface_hub's five retries with
    backoff (24 s before this line, when the hub library asked alone)."""
    done = fetch(tmp_path, "http://127.0.0.1:9", "da2-vits")  # nothing listens on the discard port
    assert "Retrying in" not in done.stderr  # the hub library's retries never started
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("depthnet:")]
    assert len(errors) == 1 and "cannot reach http://127.0.0.1:9" in errors[0]
    assert "Traceback" not in done.stderr


def test_offline_mode_uses_the_cached_file(hub, tmp_path):
    assert fetch(tmp_path, hub, "da2-vits").returncode == 0
    n = len(Hub.seen)
    done = fetch(tmp_path, hub, "da2-vits", offline=True)
    assert done.returncode == 0, done.stderr and len(Hub.seen) == n
    missing = fetch(tmp_path, hub, "da2-vitb", offline=True)
    assert missing.returncode == 1 and "HF_HUB_OFFLINE" in missing.stderr


def test_with_the_hub_gone_the_cached_file_is_used_at_once(hub, tmp_path):
    assert fetch(tmp_path, hub, "da2-vits").returncode == 0
    done = fetch(tmp_path, "http://127.0.0.1:9", "da2-vits")  # the same cache, no hub answering
    assert done.returncode == 0, done.stderr
    assert "Retrying in" not in done.stderr and "Traceback" not in done.stderr


def test_unknown_names_and_files_not_on_the_hub(tmp_path):
    assert "Coming soon" in fetch(tmp_path, "http://127.0.0.1:9", "da2-vitg").stderr
    dino = fetch(tmp_path, "http://127.0.0.1:9", "dinov2-vitl14")
    assert (
        dino.returncode == 1
        and "dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth" in dino.stderr
    )
