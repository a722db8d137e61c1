"""RGB and colour-mapped depth side by side, via textual-image (graphics protocol where the terminal has one,
coloured half cells otherwise)."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

try:  # textual-image probes the terminal on import; keep the app usable if that fails
    from textual_image.widget import HalfcellImage
    from textual_image.widget import Image as AutoImage
except Exception:  # pragma: no cover - depends on the terminal
    AutoImage = HalfcellImage = None  # type: ignore[assignment,misc]


def image_widget_class():
    """Half cells when asked (tests, snapshots, odd terminals) or when auto-detection is unavailable."""
    if os.environ.get("DEPTHNET_TUI_IMAGES", "auto") == "halfcell" or AutoImage is None:
        return HalfcellImage
    return AutoImage


class DepthPreview(Vertical):
    """Two labelled images: the RGB sample and its depth map as a colour map. Captions sit in one row above the
    images, so a caption that wraps in a narrow pane moves both images down together (styles in app.tcss)."""

    def __init__(
        self, rgb: np.ndarray, depth_rgb: np.ndarray, caption: str, rgb_caption: str = "RGB sample", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self._rgb_caption = rgb_caption
        self._rgb = PILImage.fromarray(rgb)
        self._depth = PILImage.fromarray(depth_rgb)
        self._caption = caption

    def compose(self) -> ComposeResult:
        cls = image_widget_class()
        with Horizontal(classes="preview-captions"):
            yield Label(self._rgb_caption)
            yield Label(self._caption)
        if cls is not None:
            with Horizontal(classes="preview-images"):
                yield cls(self._rgb, classes="preview-image")
                yield cls(self._depth, classes="preview-image")
