"""Pull an image with per-layer progress from the Docker engine's pull stream, cancellable, with honest errors.

The engine keeps every layer it finished: a cancelled or broken pull resumes where it stopped ("Already exists").
Used by ``depthnet setup --pull`` (rich progress) and the Setup screen (a ProgressBar per layer and a total).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from specgen.engine.backends import LaunchError
from specgen.engine.setup import LOGIN_FIX


@dataclass
class Layer:
    id: str
    status: str = "waiting"
    current: int = 0
    total: int = 0
    done: bool = False


@dataclass
class PullState:
    """What the pull stream has said so far: layers in the order they appeared, their bytes, the last status."""

    image: str
    layers: dict[str, Layer] = field(default_factory=dict)
    status: str = ""
    finished: bool = False

    @property
    def total(self) -> int:
        return sum(layer.total for layer in self.layers.values())

    @property
    def current(self) -> int:
        return sum(layer.total if layer.done else layer.current for layer in self.layers.values())

    def feed(self, msg: dict[str, Any]) -> None:
        """One JSON message of the stream (``status``, ``id``, ``progressDetail``)."""
        if "error" in msg:
            raise PullError(str(msg.get("error")))
        status = str(msg.get("status", ""))
        layer_id = msg.get("id")
        if not layer_id or status.startswith(("Pulling from", "Digest:", "Status:")):
            self.status = status if not layer_id else f"{status} {layer_id}"
            if status.startswith("Status:"):
                self.finished = True
            return
        layer = self.layers.setdefault(layer_id, Layer(id=layer_id))
        layer.status = status
        detail = msg.get("progressDetail") or {}
        if status == "Downloading" and isinstance(detail.get("total"), int):
            layer.total = max(layer.total, detail["total"])
            layer.current = int(detail.get("current") or 0)
        elif status in ("Pull complete", "Already exists", "Download complete"):
            if status != "Download complete":
                layer.done = True
            if layer.total:
                layer.current = layer.total


class PullError(LaunchError):
    """A pull failed; the message says why in plain words and what to do."""


def explain(text: str, image: str) -> str:
    """The engine's error in plain words, with the fix."""
    low = text.lower()
    registry = (
        image.split("/", 1)[0]
        if "/" in image and ("." in image.split("/", 1)[0] or ":" in image.split("/", 1)[0])
        else "docker.io"
    )
    if "unauthorized" in low or "authentication required" in low or "denied" in low or "no basic auth" in low:
        login = LOGIN_FIX if registry == "nvcr.io" else f"docker login {registry}"
        return f"{registry} refused the pull of {image} (not logged in, or no access): {login}"
    if "no space left" in low:
        return (
            f"the engine ran out of disk while pulling {image}: free space where Docker keeps images "
            "(`docker system df`, `docker image prune`) and pull again; finished layers are kept"
        )
    if "not found" in low or "manifest unknown" in low:
        return f"{image} does not exist in {registry}: check the name and tag"
    if any(
        s in low
        for s in (
            "no such host",
            "connection refused",
            "i/o timeout",
            "network is unreachable",
            "timeout",
            "dial tcp",
            "tls handshake",
        )
    ):
        return (
            f"{registry} cannot be reached from the engine (no network, proxy or DNS?): {text.strip()[:200]}"
        )
    return f"pulling {image} failed: {text.strip()[:300]}"


def pull(
    client: Any,
    image: str,
    on_progress: Callable[[PullState], None] | None = None,
    cancel: threading.Event | None = None,
) -> PullState:
    """Pull ``image`` through ``client`` (a docker.DockerClient), reporting each stream message. Raises PullError
    (plain words and the fix) on failure; ``cancel`` stops it (the engine keeps the finished layers)."""
    repo, _, tag = image.rpartition(":")
    if not repo or "/" in tag:
        repo, tag = image, "latest"
    state = PullState(image=image)
    try:
        stream = client.api.pull(repo, tag=tag, stream=True, decode=True)
        for msg in stream:
            if cancel is not None and cancel.is_set():
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
                state.status = "cancelled (finished layers are kept; pull again to resume)"
                return state
            state.feed(msg)
            if on_progress is not None:
                on_progress(state)
    except PullError as exc:
        raise PullError(explain(str(exc), image)) from None
    except Exception as exc:  # docker.errors.APIError / requests errors
        text = str(getattr(exc, "explanation", "") or exc)
        raise PullError(explain(text, image)) from None
    state.finished = True
    return state


__all__ = ["Layer", "PullError", "PullState", "explain", "pull"]
