"""Downloading a public release through the Hugging Face Hub client (imported only when fetching).

``huggingface_hub.hf_hub_download`` does the transfer: the Hub's cache (``HF_HOME``/``HF_HUB_CACHE``), resume of a
transfer cut mid-file (it re-requests the rest with a Range header), ``HF_ENDPOINT`` (a mirror), ``HF_HUB_OFFLINE``
(cached files only) and the token (``HF_TOKEN`` or ``hf auth login``) — never read, printed or written here. The
client checks the size; we also check the SHA-256 against the Hub's ETag of the LFS file (the client does not hash),
then inspect the file like any other.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specgen.data.checkpoints import CheckpointInfo
from specgen.job.weights import inspect_file
from specgen.spec.releases import Release

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


class FetchError(RuntimeError):
    """A download that did not happen or did not check out; the message is one line with what to do."""


@dataclass(frozen=True)
class Fetched:
    path: str
    info: CheckpointInfo
    verified: bool  # the SHA-256 matched the Hub's ETag


def endpoint() -> str:
    """Where ``hf_hub_download`` goes: huggingface_hub's own setting (``HF_ENDPOINT``, read when it is imported),
    so that what we probe and name is what the library asks."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def _progress_class(callback: Progress) -> type:
    """A tqdm class that reports to ``callback`` instead of drawing (the app's ProgressBar)."""
    from tqdm.auto import tqdm  # type: ignore[import-untyped]

    class _Report(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.update(file=io.StringIO(), disable=False, leave=False)
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)
            callback(int(self.n), self.total)

        def update(self, n: float | None = 1) -> bool | None:
            out = super().update(n)
            callback(int(self.n), self.total)
            return out

    return _Report


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * 2**20):
            h.update(chunk)
    return h.hexdigest()


def _etag(path: str, directory: str | None, filename: str) -> str | None:
    """The Hub's ETag of the file just fetched: the blob's name in the cache, the metadata hf keeps in a --dir."""
    if directory is None:
        name = os.path.basename(os.path.realpath(path))
        return name if _SHA256.match(name) else None
    try:
        from huggingface_hub._local_folder import read_download_metadata

        meta = read_download_metadata(Path(directory), filename)
    except (ImportError, OSError, ValueError):
        return None
    return meta.etag if meta is not None and _SHA256.match(meta.etag or "") else None


def _unreachable(url: str, timeout: float = 5.0) -> bool:
    """True when nothing answers at the endpoint's host and port (refused, no such host, no route, silence for
    ``timeout`` s). huggingface_hub retries a failed request five times with backoff — 24 s before "no network" —
    so one direct connection decides first. With a proxy set, or HF_HUB_OFFLINE, it says False: the hub library
    decides."""
    import socket
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    if not parts.hostname or _offline():
        return False
    proxies = getproxies()  # the *_proxy variables the hub library's HTTP client honours too
    if (proxies.get(parts.scheme) or proxies.get("all")) and not proxy_bypass(parts.hostname):
        return False  # reached through a proxy: a direct probe would say nothing
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError:  # refused, unknown host (gaierror), unreachable, timed out
        return True
    return False


def _offline() -> bool:
    """huggingface_hub's own reading of ``HF_HUB_OFFLINE``."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def fetch(release: Release, directory: str | None = None, *, progress: Progress | None = None) -> Fetched:
    """Download ``release`` (or find it in the cache / ``directory``), verify and inspect it. Raises FetchError."""
    if release.repo_id is None:
        raise FetchError(
            f"{release.name} is not on the Hugging Face Hub in the layout TAO loads; download {release.url} "
            "yourself (e.g. curl -LO URL) and give that file"
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    where = f"{endpoint()}/{release.repo_id}"
    try:
        path = hf_hub_download(
            release.repo_id,
            release.filename,
            local_dir=directory,
            tqdm_class=_progress_class(progress) if progress is not None else None,
            # no answer at the endpoint: the cached copy, if any, at once (else the "cannot reach" line below)
            local_files_only=_unreachable(endpoint()),
        )
    except GatedRepoError:
        raise FetchError(_login(release, where, "gated: accept its terms on the Hub page, then")) from None
    except RepositoryNotFoundError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise FetchError(_login(release, where, f"refused ({status}):")) from None
        raise FetchError(f"{where} does not exist on the hub (check HF_ENDPOINT)") from None
    except LocalEntryNotFoundError:
        raise FetchError(
            f"{release.filename} is not in the local cache and HF_HUB_OFFLINE is set: unset it to download"
            if _offline()
            else f"cannot reach {endpoint()} to download {release.filename} (no network, or the hub is down) and "
            "it is not in the local cache: check the connection, or set HF_ENDPOINT to a mirror"
        ) from None
    except RemoteEntryNotFoundError:
        raise FetchError(f"{where} has no file {release.filename}") from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise FetchError(_login(release, where, f"refused ({status}):")) from None
        raise FetchError(f"the hub answered {status or 'an error'} for {where}; try again later") from None
    except OSError as exc:
        raise FetchError(
            f"downloading {release.filename} failed: {exc.strerror or exc}; run the same command again to retry"
        ) from None
    if not isinstance(path, str):
        raise FetchError(f"{release.filename}: the hub client returned no file")
    etag = _etag(path, directory, release.filename)
    verified = False
    if etag is not None:
        if _sha256(path) != etag:
            raise FetchError(
                f"{path}: its SHA-256 does not match the hub's ({etag[:12]}…): the file is damaged; delete it "
                "and fetch again"
            )
        verified = True
    from specgen.data.checkpoints import CheckpointError

    try:
        info = inspect_file(path)
    except CheckpointError as exc:
        raise FetchError(str(exc)) from None
    return Fetched(path, info, verified)


def _login(release: Release, where: str, why: str) -> str:
    return (
        f"the hub refused {where}: {why} log in once with `hf auth login` (or set HF_TOKEN to a token that may read "
        f"{release.repo_id}) and fetch again"
    )
