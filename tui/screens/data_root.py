"""Step 1: where the data is, and where our outputs go."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DirectoryTree, Input, Label, OptionList, Static

from specgen.data.convert.planner import IMAGE_EXTS
from tui.screens.base import WizardScreen
from tui.state import load_recent
from tui.widgets.path_suggester import PathSuggester


class FolderTree(DirectoryTree):
    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if p.is_dir() and not p.name.startswith(".")]


def inspect_root(root: str) -> tuple[str, str | None]:
    """A one-line reading of the folder, and the parent to use instead when it looks like one scene."""
    try:
        entries = list(os.scandir(root))
    except OSError as exc:
        return f"[red]cannot read {root}: {exc.strerror}[/]", None
    dirs = [e for e in entries if e.is_dir()]
    images = [e for e in entries if e.is_file() and e.name.endswith(IMAGE_EXTS)]
    text = f"{len(dirs)} sub-folder(s), {len(entries) - len(dirs)} file(s) directly inside"
    if images and not dirs:
        parent = str(Path(root).resolve().parent)
        return (
            f"[yellow]⚠ {len(images)} images sit directly in this folder: it looks like one scene. TAO's convert "
            f"only walks sub-folders, so it would find nothing. Use the parent ({parent}) — ctrl+f.[/]"
        ), parent
    if images:
        return text + f" — [yellow]{len(images)} image(s) directly inside are ignored by TAO[/]", None
    return text, None


class DataRootScreen(WizardScreen):
    STEP = "data_root"
    HELP_TOPIC = "troubleshooting.md"
    BINDINGS = [Binding("ctrl+f", "use_parent", "Use parent folder")]

    _suggested_parent: str | None = None

    def compose_body(self) -> ComposeResult:
        start = (
            self.state.data_root
            if self.state.data_root and Path(self.state.data_root).is_dir()
            else os.getcwd()
        )
        with Horizontal(id="data-root-body"):
            yield FolderTree(str(Path(start).parent if self.state.data_root else start), id="tree")
            with Vertical(id="data-root-form"):
                yield Label("Data root — the folder that holds the scene folders")
                yield Input(
                    self.state.data_root,
                    id="data-root",
                    suggester=PathSuggester(),
                    placeholder="/data/nyu/train",
                    compact=True,
                )
                yield Static("", id="root-check")
                yield Label("Output folder — annotations, specs, results, session")
                yield Input(
                    self.state.output_dir or os.path.join(os.getcwd(), "depthnet-work"),
                    id="output-dir",
                    suggester=PathSuggester(),
                    compact=True,
                )
                yield Label("Recent data roots")
                yield OptionList(*load_recent().roots, id="recent")

    def on_mount(self) -> None:
        self.query_one("#data-root", Input).focus()
        if self.state.data_root:
            self.check_root(self.state.data_root)

    @on(DirectoryTree.DirectorySelected)
    def _picked(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#data-root", Input).value = str(event.path)

    @on(OptionList.OptionSelected, "#recent")
    def _recent(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#data-root", Input).value = str(event.option.prompt)

    @on(Input.Changed, "#data-root")
    def _root_changed(self, event: Input.Changed) -> None:
        self.check_root(event.value)

    @work(thread=True, exclusive=True, group="root-check", exit_on_error=False)
    def check_root(self, value: str) -> None:
        root = os.path.expanduser(value.strip())
        if not root:
            text, parent = "", None
        elif not os.path.isdir(root):
            text, parent = f"[red]{root}: not a folder[/]", None
        else:
            text, parent = inspect_root(root)
        self.call_ui(self._show_check, text, parent)

    def _show_check(self, text: str, parent: str | None) -> None:
        self._suggested_parent = parent
        self.query_one("#root-check", Static).update(text)

    def action_use_parent(self) -> None:
        if self._suggested_parent:
            self.query_one("#data-root", Input).value = self._suggested_parent
        else:
            self.notify("Nothing to fix here: the data root does not look like a single scene.")

    def commit(self) -> bool:
        root = os.path.expanduser(self.query_one("#data-root", Input).value.strip())
        out = os.path.expanduser(self.query_one("#output-dir", Input).value.strip())
        if not root or not os.path.isdir(root):
            self.notify(
                f"{root or 'The data root'} is not a folder: pick the folder that holds your scene folders.",
                severity="error",
                title="Data root",
            )
            return False
        if not out:
            self.notify("Give an output folder for annotations, specs and results.", severity="error")
            return False
        root_abs, out_abs = Path(root).resolve(), Path(out).resolve()
        if out_abs == root_abs or root_abs in out_abs.parents:
            self.notify(
                "The output folder lies inside the data root, which the run mounts read-only: choose a "
                "folder outside it.",
                severity="error",
                title="Output folder",
            )
            return False
        if root != self.state.data_root:
            self.state.train_file = self.state.val_file = self.state.test_file = ""
        self.state.data_root, self.state.output_dir = str(root_abs), str(out_abs)
        return True
