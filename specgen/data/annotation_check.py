"""Before TAO's minute is spent: every annotation line's files exist and its RGB image opens.

TAO finds a missing or unreadable image only when a DataLoader worker reaches that line — after model build and
the sanity check, ~95 s into a run on an H200 (capture ``c_missing_file``), or hours in when the line is deep in a
big list. This check reads the annotation file the way TAO does and looks at the files before launch:

- lines as TAO sees them: ``open(f).read().splitlines()`` (so ``\\r``, ``\\x0b``, ``\\x0c``… also end a line), each
  split on a single space: 1 column = image only, 2 = image depth, ≥3 = image, (ignored), depth (facts §2.2);
  an empty line is an image with no extension (TAO: "Unsupported file extension") and a trailing space makes the
  depth path empty — both are named;
- the RGB extension must be ``.png``/``.jpg``/``.jpeg``, case-sensitive (facts §2.3);
- the files must be regular files, and the RGB must open: Pillow ``Image.open`` reads the header only (no
  ``load()``), so a 10k-line list is checked in well under 2 s; the doctor decodes a sample fully, not this.

The file is streamed in binary (a 2 GB list is never read whole; memory stays bounded): small lists are checked
line by line entirely; a big list (``mode="auto"`` past ``ALL_LIMIT`` lines) gets its syntax checked on every line
and its files on a seeded reservoir sample of ``sample`` lines; ``mode="all"`` checks every line's files, calling
``progress(lines_done, fraction_of_bytes)`` as it goes (a progress bar for the TUI, a counter for the CLI).
The same file named on many lines is looked at once.

``specgen/job/validate.py`` and ``specgen/engine/preflight.py`` call :func:`check_annotation_file` (or
:func:`check_annotation_files` with the spec keys); the failure catalogue calls :func:`locate` to say which
annotation line named a file TAO could not read.
"""

from __future__ import annotations

import os
import random
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: RGB extensions TAO's ``read_image`` decodes (``os.path.splitext``, case-sensitive).
RGB_EXTENSIONS = (".png", ".jpg", ".jpeg")
#: Up to this many lines, ``mode="auto"`` checks every line's files; past it, a seeded sample.
ALL_LIMIT = 20_000
#: Lines whose files a sampled check looks at.
DEFAULT_SAMPLE = 2_000
#: Problems kept per annotation file (the count of all of them is kept too).
MAX_PROBLEMS = 200
#: Seconds between two progress calls.
PROGRESS_EVERY = 0.1
#: Pillow plug-ins tried first (what depth RGB images are); others are tried only when these do not identify it.
_FAST_FORMATS = ("JPEG", "PNG")

Mode = Literal["auto", "all", "sample"]
Progress = Callable[[int, float], None]


@dataclass(frozen=True)
class AnnotationProblem:
    """One problem of one annotation line: where (file, 1-based line as TAO counts them), which path, what."""

    annotation_file: str
    line: int
    path: str  # the file named on that line ('' for a blank line or an empty column)
    column: Literal["rgb", "depth", "line"]
    message: str

    def text(self) -> str:
        """One line for the user: ``<annotation file>:<line>: <message>``."""
        return f"{self.annotation_file}:{self.line}: {self.message}"


@dataclass
class CheckReport:
    """What one annotation file's check found."""

    annotation_file: str
    lines: int = 0  # lines TAO would read
    checked: int = 0  # lines whose files were looked at
    sampled: bool = False  # True: only a seeded sample of lines had their files looked at
    problems: list[AnnotationProblem] = field(default_factory=list)
    problem_count: int = 0  # all of them, also past MAX_PROBLEMS
    seconds: float = 0.0
    error: str | None = None  # the annotation file itself could not be read

    @property
    def ok(self) -> bool:
        return self.error is None and self.problem_count == 0

    def summary(self) -> str:
        """One line: how many lines, how many looked at, how many problems (and the first)."""
        if self.error:
            return self.error
        how = f"{self.checked} of {self.lines} lines sampled" if self.sampled else f"{self.lines} lines"
        if not self.problem_count:
            return f"{self.annotation_file}: {how}, every file there"
        first = self.problems[0].text() if self.problems else ""
        more = f" (+{self.problem_count - 1} more)" if self.problem_count > 1 else ""
        return f"{first}{more} [{how}]"


@dataclass(frozen=True)
class _Row:
    number: int
    rgb: str
    depth: str | None


def _parse(text: str, number: int) -> _Row:
    """TAO's ``split(' ')`` of one line (facts §2.2)."""
    parts = text.split(" ")
    if len(parts) == 1:
        return _Row(number, parts[0], None)
    if len(parts) == 2:
        return _Row(number, parts[0], parts[1])
    return _Row(number, parts[0], parts[2])


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str, float]]:
    """(TAO's 1-based line number, the line's text, fraction of the file's bytes read), streamed.

    TAO reads ``f.read().splitlines()``; a binary line (up to ``\\n``) decoded and split with ``str.splitlines`` gives
    the same entries in the same order, without holding the file. Undecodable bytes are kept as U+FFFD (TAO, in a
    UTF-8 container, raises UnicodeDecodeError on them: :func:`check_annotation_file` names such lines)."""
    size = max(1, os.stat(path).st_size)
    number = read = 0
    with open(path, "rb") as handle:
        for raw in handle:
            read += len(raw)
            text = raw.decode("utf-8", errors="replace")
            for piece in text.splitlines() or [""]:
                number += 1
                yield number, piece, min(1.0, read / size)


def _syntax(annotation_file: str, number: int, text: str) -> list[AnnotationProblem]:
    """What is wrong with a line before any file is looked at."""
    out: list[AnnotationProblem] = []

    def add(path: str, column: Literal["rgb", "depth", "line"], message: str) -> None:
        out.append(AnnotationProblem(annotation_file, number, path, column, message))

    if "\ufffd" in text:
        add(text, "line", "not valid UTF-8: TAO fails reading the file (UnicodeDecodeError)")
    if not text.strip():
        add(
            "",
            "line",
            "blank line: TAO reads it as an image path with no extension and stops "
            "(Unsupported file extension) — remove blank lines",
        )
        return out
    row = _parse(text, number)
    if text.endswith(" "):
        add("", "line", "trailing space: TAO splits on ' ' and reads the depth path as '' — strip it")
    elif row.depth == "":
        add(
            "",
            "line",
            "two spaces in a row: TAO splits on ' ' and reads the depth path as '' — use one space",
        )
    elif "\t" in text:
        add(text, "line", "tab in the line: TAO splits on single spaces only, so the path holds the tab")
    ext = os.path.splitext(row.rgb)[1]
    if row.rgb and ext not in RGB_EXTENSIONS:
        add(
            row.rgb,
            "rgb",
            f"RGB extension {ext or '(none)'!r}: TAO reads only .png/.jpg/.jpeg (case-sensitive) — "
            "rename the files or convert them",
        )
    return out


class _FileCache:
    """Each path looked at once: (is a regular file, opens as an image) → the problem text or None."""

    def __init__(self) -> None:
        self.rgb: dict[str, str | None] = {}
        self.depth: dict[str, str | None] = {}

    def rgb_problem(self, path: str) -> str | None:
        if path not in self.rgb:
            self.rgb[path] = _exists_problem(path, "RGB image") or _opens_problem(path)
        return self.rgb[path]

    def depth_problem(self, path: str) -> str | None:
        if path not in self.depth:
            self.depth[path] = _exists_problem(path, "depth file")
        return self.depth[path]


def _exists_problem(path: str, what: str) -> str | None:
    if not path:
        return f"{what} path is empty"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{what} not found: {path}"
    except OSError as exc:
        return f"{what} cannot be read: {path} ({exc.strerror})"
    if not stat.S_ISREG(mode):
        return f"{what} is not a regular file (a folder, FIFO or device): {path}"
    return None


def _opens_problem(path: str) -> str | None:
    """Pillow reads the header only (no ``load()``): a file that is not an image at all is caught, cheaply. Pillow
    is imported here, when a file is opened: ``depthnet validate`` of a spec whose files are not here never needs it."""
    from PIL import Image, UnidentifiedImageError

    for formats in (_FAST_FORMATS, None):
        try:
            with Image.open(path, formats=formats):
                return None
        except UnidentifiedImageError:
            continue
        except Image.DecompressionBombError:
            return f"RGB image declares an enormous size (a decompression bomb): {path}"
        except (OSError, SyntaxError, ValueError) as exc:
            return f"RGB image cannot be read: {path} ({exc.__class__.__name__}: {exc})"
    return f"RGB image is not an image file (corrupt or renamed): {path}"


def _file_problems(annotation_file: str, row: _Row, cache: _FileCache) -> list[AnnotationProblem]:
    out: list[AnnotationProblem] = []
    if not row.rgb:
        return out  # a blank line: said by _syntax
    if (rgb := cache.rgb_problem(row.rgb)) is not None:
        out.append(AnnotationProblem(annotation_file, row.number, row.rgb, "rgb", rgb))
    if row.depth and (depth := cache.depth_problem(row.depth)) is not None:  # '' was said by _syntax
        out.append(AnnotationProblem(annotation_file, row.number, row.depth, "depth", depth))
    return out


def check_annotation_file(
    path: str | os.PathLike[str],
    *,
    mode: Mode = "auto",
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    progress: Progress | None = None,
    max_problems: int = MAX_PROBLEMS,
) -> CheckReport:
    """Check one annotation file (see the module docstring); never raises for a bad file, says it in ``error``."""
    start = time.perf_counter()
    name = str(path)
    report = CheckReport(annotation_file=name)
    try:
        mode_bits = os.stat(path).st_mode
    except FileNotFoundError:
        report.error = f"annotation file not found: {name}"
        return report
    except OSError as exc:
        report.error = f"annotation file cannot be read: {name} ({exc.strerror})"
        return report
    if not stat.S_ISREG(mode_bits):
        report.error = f"annotation file is not a regular file (a folder, FIFO or device): {name}"
        return report

    def add(problems: Iterable[AnnotationProblem]) -> None:
        for problem in problems:
            report.problem_count += 1
            if len(report.problems) < max_problems:
                report.problems.append(problem)

    cache = _FileCache()
    rng = random.Random(seed)
    kept: list[_Row] = []  # rows waiting for their file check (auto: until ALL_LIMIT; sample: the reservoir)
    limit = ALL_LIMIT if mode == "auto" else sample
    last_call = 0.0
    try:
        for number, text, done in iter_lines(path):
            report.lines = number
            add(_syntax(name, number, text))
            row = _parse(text, number)
            if mode == "all":
                add(_file_problems(name, row, cache))
                report.checked += 1
            elif mode == "auto" and not report.sampled and len(kept) < limit:
                kept.append(row)
            else:
                if (
                    not report.sampled
                ):  # auto past ALL_LIMIT: from here on a seeded reservoir of `sample` rows
                    report.sampled = True
                    kept = rng.sample(kept, min(sample, len(kept))) if mode == "auto" else kept
                    limit = sample
                if len(kept) < limit:
                    kept.append(row)
                else:
                    j = rng.randrange(number)  # Algorithm R: every line equally likely to be kept
                    if j < limit:
                        kept[j] = row
            if progress is not None and (now := time.perf_counter()) - last_call >= PROGRESS_EVERY:
                last_call = now
                progress(report.checked, done)
    except OSError as exc:
        report.error = f"annotation file cannot be read: {name} ({exc.strerror or exc})"
        return report
    if mode == "sample":
        report.sampled = report.lines > len(kept)
    for i, row in enumerate(sorted(kept, key=lambda r: r.number)):
        add(_file_problems(name, row, cache))
        report.checked += 1
        if progress is not None and (now := time.perf_counter()) - last_call >= PROGRESS_EVERY:
            last_call = now
            progress(report.checked, (i + 1) / len(kept))
    report.problems.sort(key=lambda p: p.line)
    if progress is not None:
        progress(report.checked, 1.0)
    report.seconds = time.perf_counter() - start
    return report


def check_annotation_files(
    files: Mapping[str, str],
    *,
    mode: Mode = "auto",
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    progress: Callable[[str, int, float], None] | None = None,
) -> dict[str, CheckReport]:
    """Each spec key's annotation file (``RunSpec.data_files``: dotted key → file) checked once, by key."""
    reports: dict[str, CheckReport] = {}
    done: dict[str, CheckReport] = {}
    for key, file in files.items():
        if file not in done:

            def step(n: int, fraction: float, key: str = key) -> None:
                if progress is not None:
                    progress(key, n, fraction)

            done[file] = check_annotation_file(file, mode=mode, sample=sample, seed=seed, progress=step)
        reports[key] = done[file]
    return reports


def locate(
    target: str, annotation_files: Iterable[str | os.PathLike[str]], *, max_lines: int = 5_000_000
) -> tuple[str, int] | None:
    """(annotation file, line) of the first line naming ``target`` as its RGB or depth path, streamed; None when
    no readable file has it (or after ``max_lines`` lines in all: a diagnosis must stay quick)."""
    seen = 0
    for file in annotation_files:
        name = str(file)
        try:
            if not Path(name).is_file():
                continue
            for number, text, _done in iter_lines(name):
                seen += 1
                if seen > max_lines:
                    return None
                if target in text:  # cheap test first; then the exact column
                    row = _parse(text, number)
                    if target in (row.rgb, row.depth):
                        return name, number
        except OSError:
            continue
    return None
