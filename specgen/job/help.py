"""What this installed copy knows about itself: where its user-facing references are (a source checkout, or
installed under <prefix>/share/depthnet-tui), for both faces' help."""

from __future__ import annotations

import sys
from pathlib import Path


def references_dir() -> Path | None:
    """A source checkout's references/, else where ``pip install`` put them (the wheel's data files)."""
    import site

    for candidate in (
        Path(__file__).resolve().parents[2] / "references",
        Path(sys.prefix) / "share" / "depthnet-tui" / "references",
        Path(site.getuserbase()) / "share" / "depthnet-tui" / "references",
    ):
        if candidate.is_dir():
            return candidate
    return None


def help_text(topic: str) -> str:
    """The Markdown of references/<file>, optionally only the section whose heading contains ``#anchor``."""
    name, _, section = topic.partition("#")
    folder = references_dir()
    if folder is None or not (folder / name).is_file():
        return f"# Help\n\n`references/{name}` is not installed with this copy of depthnet-tui."
    text = (folder / name).read_text(encoding="utf-8")
    if not section:
        return text
    out, keep = [], False
    for line in text.splitlines():
        if line.startswith("#"):
            keep = section.lower() in line.lower()
        if keep:
            out.append(line)
    return "\n".join(out) or text


def topics() -> dict[str, str]:
    """Help topics (the Markdown files of references/) with their first heading."""
    folder = references_dir()
    out: dict[str, str] = {}
    for path in sorted(folder.glob("*.md")) if folder else []:
        first = next(
            (
                line.lstrip("# ").strip()
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")
            ),
            path.stem,
        )
        out[path.stem] = first
    return out
