"""Input completion for folder paths (Textual ships list suggesters, not a filesystem one)."""

from __future__ import annotations

import os

from textual.suggester import Suggester


class PathSuggester(Suggester):
    """Suggest the first sub-folder that completes what has been typed."""

    def __init__(self, *, dirs_only: bool = True) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.dirs_only = dirs_only

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, prefix = os.path.split(expanded)
        try:
            with os.scandir(folder or ".") as it:
                names = sorted(
                    e.name
                    for e in it
                    if e.name.startswith(prefix)
                    and not e.name.startswith(".")
                    and (not self.dirs_only or e.is_dir())
                )
        except OSError:
            return None
        if not names or (names[0] == prefix and len(names) == 1):
            return None
        return value + names[0][len(prefix) :] + ("/" if self.dirs_only else "")
