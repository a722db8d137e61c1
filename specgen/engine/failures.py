"""The failure catalogue: what went wrong in a failed TAO run, in one line — the cause and the fix.

TAO prints its real error at the end of a long traceback (``Error executing job with overrides: []`` comes first,
the words that matter — ``size mismatch for model.pretrained.cls_token …`` or ``RGB image is None for file: …`` —
come 40 lines later), often glued to other output by the entrypoint's ``\\r`` relaying, in colour, with TAO's
install paths. :func:`diagnose` reads the whole log (its last ``MAX_TAIL`` characters: a 2 GB log costs no more
than 4 MB), plus status.json's lines and the exit code, and returns a :class:`Diagnosis` from the first catalogue
entry that matches, in the catalogue's order (root causes before their consequences: an OOM on rank 0 before the
NCCL time-outs it causes on rank 1). Nothing matches → the last exception line of the log (its deepest traceback,
``[rankN]:`` prefixes handled) — never the first line of a traceback.

Each :class:`Entry` says what it looks for, the cause and the fix in words, and where that knowledge comes from: a
real capture (``tests/fixtures/tao-7.3.0*``) or a section of the TAO facts reference. ``references/failures.md``
is generated from :data:`CATALOGUE` (:func:`catalogue_markdown`).

Every pattern runs in time linear in the line: literal anchors select lines (``in``), and the few regexes have no
nested quantifiers over untrusted text; lines are cut at ``MAX_LINE`` characters.

Wiring (the verdict calls this; nothing here imports the verdict): ``diagnose(...).one_line()`` is the reason;
``excerpt`` is what ``depthnet verdict --verbose`` shows.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specgen.data.annotation_check import locate
from specgen.data.checkpoints import classify_keys
from specgen.engine.logparse import ANSI, CONTROL
from specgen.engine.resume import last_session
from specgen.engine.status import finite, flat_kpi, nonfinite

if TYPE_CHECKING:  # a verdict of a healthy run reads no spec: the schema is not imported to judge it
    from specgen.engine.runspec import RunSpec

#: The most of a log that is read: its last characters (the error is at the end).
MAX_TAIL = 4 << 20
#: Longest line looked at (a longer one is cut: patterns stay cheap, a reason stays short).
MAX_LINE = 1 << 16
#: A reason's length limit (the Run screen's banner, `depthnet runs`, a sweep's trial table).
ONE_LINE_MAX = 200
#: Catalogue codes that are the machine's fault, not the spec's: the same spec may pass when run again on another
#: node or later (a scheduler may retry these; every other code needs a change by the user first). Stable names:
#: ``Diagnosis.code`` is kept in run.json (``Verdict.code``) and read by retry logic.
INFRA_CODES = frozenset({"nccl", "cuda_init", "host_oom_kill", "worker_killed", "shm", "no_space"})
#: Lines of log shown around the matched line by ``depthnet verdict --verbose``.
EXCERPT_BEFORE, EXCERPT_AFTER, EXCERPT_WIDTH = 4, 3, 300

#: Where a Python package lives inside TAO's container (and on the capture machines): shown package-relative.
#: Line and paragraph separators and C1 controls: a reason must stay one line on every terminal.
_BREAKS = re.compile("[\x80-\x9f\u2028\u2029]")
_INSTALL = re.compile(r"(?<![^\s'\"(\[=])/[^\s'\"()]*/(?:dist|site)-packages/")
_RANK = re.compile(r"^\[(?:rank|Rank) ?:? ?(\d+)\]:? ?")
_EXC = re.compile(
    r"((?:[A-Za-z_][A-Za-z0-9_]*\.){0,6}[A-Za-z_][A-Za-z0-9_]*(?:Error|Exception|Interrupt|Exit|Value|ValueType|Iteration))(?::|$)"
)
_FRAME = re.compile(r'^\s*File "([^"]{1,500})", line (\d+), in (\S{1,200})')
_TAO_LOGGER = re.compile(r"\x1b\[3[13]m|\x1b\[3[138];20m")
_GLUED_STARTS = (
    "Traceback (most recent call last):",
    "Error executing job with overrides:",
    "Set the environment variable HYDRA_FULL_ERROR",
)
#: Encoder width (DINOv2 embedding) → model.encoder (facts §7).
WIDTHS = {384: "vits", 768: "vitb", 1024: "vitl", 1536: "vitg"}
#: DPT head's first projection out-channels → model.encoder (fixtures/checkpoints README).
HEAD_WIDTHS = {48: "vits", 96: "vitb", 256: "vitl", 1536: "vitg"}
_UNITS = {"B": 1 / 2**30, "KiB": 1 / 2**20, "MiB": 1 / 2**10, "GiB": 1.0, "TiB": 2**10}


@dataclass(frozen=True)
class Diagnosis:
    """Why a run failed: the cause and the fix in words, the log lines it was read from, where the knowledge
    comes from (a capture name or a facts §), and the catalogue entry's code."""

    cause: str
    fix: str
    excerpt: str
    source: str
    code: str = "unknown"

    def one_line(self, prefix: str = "") -> str:
        """``prefix`` + cause — fix, in at most 200 characters: no traceback, no colour or control bytes, no TAO
        install path. When both do not fit, the fix keeps at least 60 characters (all of it when shorter: it is
        what the user acts on) and the cause what it needs of the rest; the fix takes what the cause leaves."""
        cause, fix = _flat(self.cause), _flat(self.fix)
        room = ONE_LINE_MAX - len(prefix)
        if not fix:
            return prefix + _cut(cause, room)
        sep = " — "
        avail = room - len(sep)
        if len(cause) + len(fix) <= avail:
            return f"{prefix}{cause}{sep}{fix}"
        fix_room = min(len(fix), max(60, avail - len(cause)))
        return prefix + _cut(cause, avail - fix_room) + sep + _cut(fix, fix_room)


@dataclass
class _Ctx:
    """What an entry may look at: the cleaned log lines (then status.json's messages), the exit code, the spec."""

    lines: list[str]
    status: list[str]
    exit_code: int | None
    spec: RunSpec | None
    action: str | None
    annotation_files: list[str]
    _exception: tuple[int, str, str] | None | bool = field(default=False, repr=False)

    @property
    def all(self) -> list[str]:
        return self.lines + self.status

    def last(self, anchors: Sequence[str], *, warnings: bool = False) -> int | None:
        """Index (into ``all``) of the last line holding any anchor; a library warning line is not an error."""
        every = self.all
        for i in range(len(every) - 1, -1, -1):
            line = every[i]
            if any(a in line for a in anchors) and (warnings or not _is_warning(line)):
                return i
        return None

    def exception(self) -> tuple[int, str, str] | None:
        """(index, type, message) of the log's last exception line (status.json's when the log has none)."""
        if self._exception is False:
            self._exception = _last_exception(self.lines, 0) or _last_exception(self.status, len(self.lines))
        return self._exception if isinstance(self._exception, tuple) else None


Explain = Callable[[_Ctx, int, "re.Match[str] | None"], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Entry:
    """One failure signature. ``anchors`` (literal text, any of them) select the last such line; ``detail``, a
    regex, reads fields from it (named groups, used in ``cause``/``fix`` templates); ``explain`` replaces the
    templates when the words depend on the spec or on other lines (it may return None: not this entry after
    all). ``exit_codes``: only for these exit codes. ``signature``/``cause``/``fix`` are also the help topic."""

    code: str
    signature: str
    cause: str
    fix: str
    source: str
    anchors: tuple[str, ...] = ()
    detail: re.Pattern[str] | None = None
    explain: Explain | None = None
    exit_codes: frozenset[int] | None = None
    warnings: bool = (
        False  # a line that also says "Warning: " may match (CUDA driver warnings precede the error)
    )


# ---------------------------------------------------------------------------------------------------- text helpers


def _flat(text: str) -> str:
    """One line: colours and control bytes gone, TAO's install paths package-relative, whitespace collapsed."""
    text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    text = _BREAKS.sub(" ", CONTROL.sub(" ", ANSI.sub("", text)))
    return " ".join(_INSTALL.sub("", text).split())


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(0, room - 1)].rstrip() + "…"


def one_line(text: str, room: int = ONE_LINE_MAX) -> str:
    """Any reason as the faces show it: one line of at most ``room`` characters, no colour or control bytes, no
    TAO install path (the verdict applies it to every reason, a kpi key or a log line quoted in it included)."""
    return _cut(_flat(text), room)


def short_path(path: str, keep: int = 60) -> str:
    """A long path as ``…/`` + its last components (the file name is what the user recognises)."""
    if len(path) <= keep:
        return path
    parts = path.split("/")
    out = parts[-1]
    for part in reversed(parts[:-1]):
        if len(out) + len(part) + 3 > keep:
            break
        out = f"{part}/{out}"
    return "…/" + out


def clean_lines(log_text: str) -> list[str]:
    """The log as lines a reader sees: the last ``MAX_TAIL`` characters, TAO-logger lines and traceback starts
    that the entrypoint glued to other output put on their own lines, ``\\r`` a line end, colours gone."""
    if len(log_text) > MAX_TAIL:
        log_text = log_text[-MAX_TAIL:]
        log_text = log_text[log_text.find("\n") + 1 :] if "\n" in log_text[:MAX_LINE] else log_text
    log_text = _TAO_LOGGER.sub(lambda m: "\n" + m.group(0), log_text)
    for start in _GLUED_STARTS:
        if start in log_text:
            log_text = log_text.replace(start, "\n" + start)
    log_text = ANSI.sub("", log_text)
    out = []
    for line in log_text.splitlines():
        line = CONTROL.sub("", line.replace("\t", "    "))
        if line.strip():
            out.append(line[:MAX_LINE])
    return out


def read_tail(path: str | os.PathLike[str], max_bytes: int = MAX_TAIL) -> str:
    """The last ``max_bytes`` of a log file, decoded (a huge log is never read whole)."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - max_bytes))
        return handle.read().decode("utf-8", errors="replace")


def _is_warning(line: str) -> bool:
    """A library warning (``UserWarning: …``, c10's ``[W1201 08:38:54 …]``), not an error."""
    return "Warning: " in line or _body(line).startswith("[W")


def _body(line: str) -> str:
    """A line without torch's per-rank prefix (``[rank1]: RuntimeError: …``)."""
    m = _RANK.match(line)
    return line[m.end() :] if m else line


def _last_exception(lines: list[str], offset: int) -> tuple[int, str, str] | None:
    for i in range(len(lines) - 1, -1, -1):
        body = _body(lines[i])
        if body[:1] in (" ", ""):
            continue  # traceback source lines are indented; exception lines start at column 0
        m = _EXC.match(body)
        if m is None or m.group(1).endswith("Warning"):
            continue
        message = body[m.end() :].strip()
        if not message or message.endswith(":"):  # "Error(s) in loading state_dict for X:" → its next lines
            extra = [_body(x).strip() for x in lines[i + 1 : i + 4]]
            extra = [x for x in extra if x and not x.startswith(("Set the environment", "Error executing"))]
            if extra and not _EXC.match(extra[0]):
                message = f"{message} {extra[0]}".strip()
        return offset + i, m.group(1), message
    return None


def _frame_before(lines: list[str], index: int) -> tuple[str, str, str] | None:
    """(file, line, function) of the last traceback frame above ``index``."""
    for i in range(index - 1, max(-1, index - 60), -1):
        m = _FRAME.match(_body(lines[i]))
        if m:
            return _INSTALL.sub("", m.group(1)), m.group(2), m.group(3)
    return None


def _excerpt(lines: list[str], index: int) -> str:
    lo, hi = max(0, index - EXCERPT_BEFORE), min(len(lines), index + EXCERPT_AFTER + 1)
    return "\n".join(_cut(_INSTALL.sub("", x), EXCERPT_WIDTH) for x in lines[lo:hi])


def _gib(value: str, unit: str) -> float:
    return float(value) * _UNITS.get(unit, 1.0)


def _action(ctx: _Ctx) -> str | None:
    return ctx.action or (ctx.spec.action if ctx.spec else None)


# ---------------------------------------------------------------------------------------------- entry functions

_HYDRA_DETAIL = ("reference_type=", "object_type=", "full_key:")


def _hydra(ctx: _Ctx, i: int, _m: re.Match[str] | None) -> tuple[str, str] | None:
    """Hydra/OmegaConf: ``Error merging 'x.yaml' with schema`` / the message / ``full_key: train.num_epoch``
    (before the action: no status.json line), or ``omegaconf.errors.X: msg`` / ``full_key:`` inside the action."""
    lines = ctx.all
    key = lines[i].strip()[len("full_key:") :].strip()
    message = ""
    for j in range(i - 1, max(-1, i - 6), -1):
        text = _body(lines[j]).strip()
        if not text or text.startswith(_HYDRA_DETAIL):
            continue
        if text.startswith("Error merging"):
            break
        m = _EXC.match(text)
        message = text[m.end() :].strip() if m else text
        break
    if not message:
        return None
    from specgen.spec.keypaths import where_it_belongs
    from specgen.spec.schema import ExperimentSpec

    if " not in " in message and message.startswith("Key "):
        hint = where_it_belongs(ExperimentSpec, key)
    elif "could not be converted" in message or message.startswith("Invalid value"):
        kind = message.rsplit(" to ", 1)[-1] if " to " in message else "the type the schema expects"
        hint = f"give {key} a value of type {kind}"
    elif message.startswith("Incompatible value 'None'"):
        hint = f"{key} is present but empty: give it a value or remove the line"
    elif message.startswith("Missing mandatory value"):
        hint = f"set {key}"
    else:
        hint = f"fix {key}"
    # The words `spec error at <key>: <message>` and the validate pointer were verdict.py's (kept: users know them).
    return f"spec error at {key}: {message}", f"{hint}; `depthnet validate` names such keys before launch"


def _oom(ctx: _Ctx, i: int, _m: re.Match[str] | None) -> tuple[str, str]:
    line = ctx.all[i]
    tried = re.search(r"Tried to allocate ([\d.]+) ([KMGT]?i?B)", line)
    total = re.search(r"GPU (\d+) has a total capacity of ([\d.]+) ([KMGT]?i?B)", line) or re.search(
        r"\(GPU (\d+); ([\d.]+) ([KMGT]?i?B) total capacity", line
    )
    gpu = f"GPU {total.group(1)}" if total else "the GPU"
    cap = _gib(total.group(2), total.group(3)) if total else None
    said = [
        f"{cap:.1f} GiB" if cap else "",
        f"tried to allocate {tried.group(1)} {tried.group(2)}" if tried else "",
    ]
    cause = f"CUDA out of memory on {gpu}" + (f" ({'; '.join(s for s in said if s)})" if any(said) else "")
    run = ctx.spec
    if run is not None and run.action == "train":
        from specgen.job.memory_fit import estimate, largest_batch

        spec = run.spec
        enc, crop = spec.model.encoder, spec.dataset.train_dataset.augmentation.crop_size
        batch, prec = spec.dataset.train_dataset.batch_size, spec.train.precision
        need = estimate(enc, crop, batch, prec)
        head = f"{enc} at crop {crop[0]}×{crop[-1]}, batch {batch}, {prec} needs {need.text()}"
        if cap:
            best = largest_batch(enc, crop, prec, cap)
            if best >= batch:
                return cause, (
                    f"{head}, which should fit {cap:.0f} GiB: another process may hold GPU memory (nvidia-smi); "
                    "else lower dataset.train_dataset.batch_size"
                )
            if best:
                return cause, (
                    f"{head}: the largest batch that fits is {best} (dataset.train_dataset.batch_size), "
                    "or fp16, a smaller crop or encoder"
                )
            return cause, f"{head}: not even batch 1 fits; a smaller encoder or crop, or fp16"
        return cause, f"{head}: lower dataset.train_dataset.batch_size, the crop, or use fp16"
    split = {"evaluate": "test_dataset", "inference": "infer_dataset"}.get(
        _action(ctx) or "", "train_dataset"
    )
    return cause, f"lower dataset.{split}.batch_size or the crop/encoder, or train.precision fp16"


def _host_oom(ctx: _Ctx, i: int, _m: re.Match[str] | None) -> tuple[str, str] | None:
    if ctx.exception() is not None and "killed by signal" not in ctx.all[i]:
        return None  # a Python error explains the exit better than the signal
    return (
        "killed by the system (SIGKILL, exit 137) with no Python error: most likely the host ran out of memory",
        "lower dataset.*.workers and batch_size, or give the container/job more memory "
        "(docker --memory, Slurm --mem)",
    )


def _encoder_of(shape: str) -> str | None:
    dims = [int(d) for d in re.findall(r"\d+", shape)]
    return WIDTHS.get(dims[-1]) if dims else None


_MISMATCH = re.compile(
    r"size mismatch for ([\w.]{1,300}): copying a param with shape torch\.Size\(\[([\d, ]{0,80})\]\) from "
    r"checkpoint, the shape in current model is torch\.Size\(\[([\d, ]{0,80})\]\)"
)
_WIDTH_KEYS = ("cls_token", "pos_embed", "mask_token", "patch_embed.proj.bias", "norm.weight", "norm.bias")


def _size_mismatch(ctx: _Ctx, i: int, _m: re.Match[str] | None) -> tuple[str, str]:
    lines = ctx.all
    found: list[tuple[str, str, str]] = []
    for line in lines[max(0, i - 2000) : i + 1]:
        if "size mismatch for " in line:
            found += [(m.group(1), m.group(2), m.group(3)) for m in _MISMATCH.finditer(line)]
    have = want = None
    for key, ckpt, model in found:
        if key.endswith(_WIDTH_KEYS):
            have, want = _encoder_of(ckpt), _encoder_of(model)
            if have and want:
                break
    if not (have and want):
        for key, ckpt, model in found:
            if key.endswith("depth_head.projects.0.weight"):
                cd, md = re.findall(r"\d+", ckpt), re.findall(r"\d+", model)
                have = HEAD_WIDTHS.get(int(cd[0])) if cd else None
                want = HEAD_WIDTHS.get(int(md[0])) if md else None
    where = _checkpoint_key(ctx, lines, i)
    first = found[0][0] if found else "some layer"
    if have and want and have != want:  # the model TAO built (the log's) is what the spec said
        return (
            f"the checkpoint holds a {have} model; the spec says model.encoder: {want}",
            f"set model.encoder: {have}, or give a {want} checkpoint in {where}",
        )
    return (
        f"the checkpoint's layers have other shapes than the model's ({len(found)} size mismatches, first "
        f"{first})",
        "model.mono_backbone.use_bn / use_clstoken (or the encoder) differ from the run that saved it: "
        f"set them as in that run's experiment.yaml, or give {where} a matching file",
    )


def _checkpoint_key(ctx: _Ctx, lines: list[str], i: int) -> str:
    """Which spec key gave the file that failed to load: the backbone's, train's, or the action's checkpoint."""
    window = " ".join(lines[max(0, i - 80) : i + 1])
    if "for DinoVisionTransformer" in window or "dpt.py" in window:
        return "model.mono_backbone.pretrained_path"
    action = _action(ctx)
    if action == "train":
        run = ctx.spec
        if (
            run is not None
            and run.spec.train.resume_training_checkpoint_path
            and not (run.spec.train.pretrained_model_path)
        ):
            return "train.resume_training_checkpoint_path"
        return "train.pretrained_model_path"
    return f"{action}.checkpoint" if action in ("evaluate", "inference", "export") else "the checkpoint key"


def _layout_of(keys: list[str]) -> str | None:
    """The layout a list of state-dict keys belongs to, in the catalogue's words — ``tao_relative``,
    ``tao_metric``, ``tao`` (head not listed), ``public``, ``dinov2`` — from the checkpoint inspector's
    :func:`~specgen.data.checkpoints.classify_keys` (one vocabulary: fixtures/checkpoints/README.md). TAO quotes a
    bare DINOv2 file loaded as a whole model with ``model.`` before each key (``model.cls_token``): read under it."""
    if not keys:
        return None
    info = classify_keys(keys)
    if info.layout == "unknown" and all(k.startswith("model.") for k in keys):
        if classify_keys([k[len("model.") :] for k in keys]).layout == "dinov2":
            return "dinov2"
    layout = info.inner if info.layout == "ddp" else info.layout
    if layout == "tao":
        return {"metric": "tao_metric", "relative": "tao_relative"}.get(info.head or "", "tao")
    return layout if layout in ("public", "dinov2") else None


_KEYS = re.compile(r'"([^"]{1,300})"')


def _keys_after(lines: list[str], i: int, label: str) -> list[str]:
    for line in lines[i : i + 12]:
        if label in line:
            return _KEYS.findall(line.split(label, 1)[1][:MAX_LINE])[:5000]
    return []


def _missing_unexpected(ctx: _Ctx, i: int, _m: re.Match[str] | None) -> tuple[str, str]:
    """Strict load: which layout the file has (its unexpected keys) against what the model wanted (missing);
    the spec key it belongs in, from the matrix measured on real TAO (tao-7.3.0-h200 README)."""
    lines = ctx.all
    head = lines[i]
    target = head.split(" for ", 1)[1].rstrip(":").strip() if " for " in head else "the model"
    missing = _keys_after(lines, i, "Missing key(s) in state_dict:")
    unexpected = _keys_after(lines, i, "Unexpected key(s) in state_dict:")
    file_layout = _layout_of(unexpected)
    model_layout = _layout_of(missing)
    mt = ctx.spec.spec.model.model_type if ctx.spec else None
    into_backbone = target == "DinoVisionTransformer"
    key = _checkpoint_key(ctx, lines, i) if not into_backbone else "model.mono_backbone.pretrained_path"
    if into_backbone and file_layout == "public":
        return (
            "model.mono_backbone.pretrained_path holds a whole Depth Anything V2 model (pretrained.* + "
            "depth_head.*); a RelativeDepthAnything backbone takes a bare DINOv2 file",
            "give this file as train.pretrained_model_path instead (it loads whole: backbone and head)",
        )
    if into_backbone and not unexpected and model_layout == "dinov2":
        return (
            "for MetricDepthAnything, model.mono_backbone.pretrained_path keeps only keys holding 'pretrained.': "
            "this file has none (a bare DINOv2 backbone?)",
            "give a public Depth Anything V2 file or a TAO checkpoint there, or use the DINOv2 file with "
            "RelativeDepthAnything",
        )
    if file_layout == "tao_relative" and model_layout == "tao_metric":
        return (
            f"{key} is a RelativeDepthAnything checkpoint (model.depth_head.*); the spec says model.model_type: "
            f"{mt or 'MetricDepthAnything'}",
            "set model.model_type: RelativeDepthAnything, or load only its backbone via "
            "model.mono_backbone.pretrained_path (head random)",
        )
    if file_layout == "tao_metric" and model_layout == "tao_relative":
        return (
            f"{key} is a MetricDepthAnything checkpoint (model.metric_depth_head.*); the spec says "
            f"model.model_type: {mt or 'RelativeDepthAnything'}",
            "set model.model_type: MetricDepthAnything, or load only its backbone via "
            "model.mono_backbone.pretrained_path (head random)",
        )
    if file_layout == "dinov2" and not into_backbone:
        return (
            f"{key} is a bare DINOv2 backbone (cls_token, blocks.*), not a whole depth model",
            "give it as model.mono_backbone.pretrained_path with RelativeDepthAnything (the head starts random)",
        )
    said = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "", ""]
    said[1] = f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else ""
    return (
        f"the file in {key} does not fit {target}: " + ", ".join(s for s in said if s),
        "match the file to model.model_type and model.encoder (which key takes which file: "
        "`depthnet help finetuning`)",
    )


def _where_in_annotations(ctx: _Ctx, path: str) -> str:
    files = list(ctx.annotation_files)
    if ctx.spec is not None:
        files += [f for f in ctx.spec.data_files.values() if f not in files]
    found = locate(path, files) if files else None
    return f" (annotation line {found[1]} of {short_path(found[0], 48)})" if found else ""


def _rgb_missing(ctx: _Ctx, i: int, m: re.Match[str] | None) -> tuple[str, str] | None:
    if m is None:
        return None
    path = m.group("path").strip()
    exists = Path(path).exists()
    what = "RGB image cannot be read" if exists else "RGB image not found"
    return (
        f"{what}: {short_path(path)}{_where_in_annotations(ctx, path)}",
        "fix that line or the file (a corrupt/partial image?)"
        if exists
        else "fix the path or the mount; `depthnet validate` checks every line's files before launch",
    )


def _depth_none(ctx: _Ctx, i: int, _m: re.Match[str] | None) -> tuple[str, str]:
    """OpenCV returned None for a PNG depth: the message does not name the file, the annotation files may."""
    from specgen.data.annotation_check import check_annotation_file

    files = list(ctx.annotation_files) or (list(ctx.spec.data_files.values()) if ctx.spec else [])
    for file in files:
        report = check_annotation_file(file, mode="auto")
        bad = next((p for p in report.problems if p.column == "depth"), None)
        if bad is not None:
            return (
                f"depth file not readable: {short_path(bad.path)} (annotation line {bad.line} of {file})",
                "fix the depth path (often a convert rewrite error) or the file",
            )
    return (
        "a depth PNG could not be read (OpenCV returned None: 'NoneType' object has no attribute 'astype')",
        "check the depth paths of the annotation file (`depthnet validate` checks every line's files)",
    )


def _file_not_found(ctx: _Ctx, i: int, m: re.Match[str] | None) -> tuple[str, str] | None:
    if m is None:
        return None
    path = m.group("path")
    run = ctx.spec
    keys: dict[str, str | None] = {}
    if run is not None:
        s = run.spec
        keys = {
            "model.mono_backbone.pretrained_path": s.model.mono_backbone.pretrained_path,
            "train.pretrained_model_path": s.train.pretrained_model_path,
            "train.resume_training_checkpoint_path": s.train.resume_training_checkpoint_path,
            f"{run.action}.checkpoint": getattr(getattr(s, run.action, None), "checkpoint", None),
            **run.data_files,
        }
    key = next((k for k, v in keys.items() if v and v == path), None)
    if key is None and path.endswith(".txt"):
        key = "an annotation file (data_sources[].data_file)"
    found = _where_in_annotations(ctx, path) if key is None else ""
    where = f"{key} names " if key else ""
    return (
        f"file not found: {where}{short_path(path)}{found}",
        "fix the path, or mount its folder into the container (paths are the container's)",
    )


def _permission(ctx: _Ctx, i: int, m: re.Match[str] | None) -> tuple[str, str]:
    path = m.group("path") if m else ""
    results = ctx.spec.results_dir if ctx.spec else ""
    in_results = bool(path) and bool(results) and path.startswith(results.rsplit("/", 1)[0])
    if in_results or "/results" in path:
        return (
            f"permission denied writing the results folder: {short_path(path)}",
            "make it writable by the user the container runs as (chown, or `--user $(id -u):$(id -g)`), or "
            "choose another results_dir",
        )
    return (
        f"permission denied: {short_path(path) or 'a file TAO opened'}",
        "make the file readable (and its folder writable) by the user the container runs as",
    )


def _zero_steps(ctx: _Ctx, i: int, m: re.Match[str] | None) -> tuple[str, str] | None:
    """ZeroDivisionError raised in TAO's LambdaLR: ``1 - step / (epochs × steps per epoch)`` with 0 steps per epoch,
    as a batch larger than the training set gives (measured on an H200: batch 512 over 6 pairs, after ~57 s)."""
    if not any("lr_scheduler" in line for line in ctx.all[max(0, i - 60) : i + 1]):
        return None
    batch = ctx.spec.spec.dataset.train_dataset.batch_size if ctx.spec is not None else None
    return (
        f"an epoch has 0 steps: dataset.train_dataset.batch_size{f' {batch}' if batch else ''} is more than the "
        "training pairs, and TAO's LambdaLR divides by the steps per epoch",
        "set dataset.train_dataset.batch_size to at most the number of training pairs (depthnet validate checks it)",
    )


def _fallback(ctx: _Ctx) -> Diagnosis | None:
    exc = ctx.exception()
    if exc is None:
        return None
    index, kind, message = exc
    frame = _frame_before(ctx.all, index)
    where = f"raised in {frame[0].rsplit('/', 1)[-1]}:{frame[1]} ({frame[2]}); " if frame else ""
    cause = f"{kind.rsplit('.', 1)[-1]}: {message}" if message else kind.rsplit(".", 1)[-1]
    return Diagnosis(
        cause=cause,
        fix=f"{where}`depthnet verdict --verbose` shows the log around it",
        excerpt=_excerpt(ctx.all, index),
        source="the log's last exception (no catalogue entry matched)",
        code="unknown",
    )


# ------------------------------------------------------------------------------------------------ the catalogue

_P = re.compile
#: In catalogue order: the first entry that matches gives the diagnosis.
CATALOGUE: tuple[Entry, ...] = (
    Entry(
        "spec_file_missing",
        "`ERROR: The indicated experiment spec file <path> doesn't exist!`",
        "the spec file given with -e is not visible inside the container",
        "check the mounts: the spec's folder must be mounted at the same path",
        "facts §5.1, §6.1",
        anchors=("The indicated experiment spec file",),
        detail=_P(r"spec file `?(?P<path>[^`']{1,1000})`? doesn't exist"),
        explain=lambda c, i, m: (
            f"the spec file {short_path(m.group('path')) if m else ''} does not exist inside the container",
            "mount the spec's folder (depthnet run does) or give a path the container sees",
        ),
    ),
    Entry(
        "spec_arg_missing",
        "`ERROR: The subtask … requires the following argument: -e/--experiment_spec_file`",
        "depth_net was started without a spec",
        "give `-e <spec.yaml>`",
        "facts §5.1",
        anchors=("requires the following argument: -e",),
    ),
    Entry(
        "hydra_config",
        "`Error merging '<spec>.yaml' with schema` / `Key 'x' not in 'Y'` / `full_key: a.b` (also "
        "`Missing mandatory value`)",
        "a key TAO's schema does not know, a wrong type, or an empty mandatory key",
        "fix the key named by full_key; `depthnet validate` finds these before launch",
        "spec_error/misspelt_key, spec_error/wrong_type, spec_error/empty_mandatory_checkpoint; facts §6.1",
        anchors=("full_key: ",),
        explain=_hydra,
    ),
    Entry(
        "encrypted_checkpoint",
        "`Cannot access model state dict without the encryption key` (PermissionError)",
        "an encrypted (.tlt) checkpoint and no encryption_key",
        "set encryption_key in the spec",
        "facts §6.3",
        anchors=("without the encryption key",),
        explain=lambda c, i, m: (
            "the checkpoint is encrypted and the spec has no encryption_key",
            "set encryption_key (the key it was saved with), or give an unencrypted .pth",
        ),
    ),
    Entry(
        "zero_steps",
        "`ZeroDivisionError: division by zero` raised in `lr_scheduler.py` (`<lambda>`)",
        "an epoch has no step: the train batch is larger than the training set, and LambdaLR divides by 0",
        "make dataset.train_dataset.batch_size at most the number of training pairs",
        "measured on an H200 (benchmarks/gpu_failures.sh's cuda_oom case, batch 512 over 6 pairs)",
        anchors=("ZeroDivisionError",),
        explain=_zero_steps,
    ),
    Entry(
        "interval_over_epochs",
        "`Checkpoint interval X > Number of epochs Y.` / `Validation interval X > Number of epochs Y.`",
        "train.checkpoint_interval or train.validation_interval is larger than train.num_epochs",
        "make the interval ≤ num_epochs",
        "facts §6.3 (core/initialize_experiments.py)",
        anchors=("> Number of epochs",),
        detail=_P(r"(?P<what>Checkpoint|Validation) interval (?P<x>\d+) > Number of epochs (?P<y>\d+)"),
        explain=lambda c, i, m: (
            (
                f"train.{m.group('what').lower()}_interval {m.group('x')} is more than "
                f"train.num_epochs {m.group('y')}: TAO asserts before training",
                f"set train.{m.group('what').lower()}_interval to at most {m.group('y')}",
            )
            if m
            else None
        ),
    ),
    Entry(
        "onnx_exists",
        "`Default onnx file <path> already exists`",
        "export never overwrites an ONNX file",
        "delete/rename it or choose a new export.onnx_file",
        "facts §6.3",
        anchors=("Default onnx file",),
        detail=_P(r"Default onnx file (?P<path>\S{1,1000}) already exists"),
        explain=lambda c, i, m: (
            f"export.onnx_file {short_path(m.group('path')) if m else ''} already exists: TAO never overwrites",
            "remove or rename it, or choose a new export.onnx_file",
        ),
    ),
    Entry(
        "results_dir_missing",
        "`You need to set at least one of following fields: results_dir, {mode}.results_dir`",
        "no results_dir",
        "set results_dir",
        "facts §3.2, §6.3",
        anchors=("You need to set at least one of following fields: results_dir",),
        explain=lambda c, i, m: (
            "neither results_dir nor the action's results_dir is set",
            "set results_dir",
        ),
    ),
    Entry(
        "bf16_vis",
        "`Got unsupported ScalarType BFloat16`",
        "bf16 training crashes at the first validation in TAO 7.3.0 (vis_mono calls .numpy() on a bf16 tensor)",
        "train.precision fp32, or fp16",
        "benchmarks/gpu_memory_points.json (l_b4_bf16, real TAO on an H100); validate.py",
        anchors=("unsupported ScalarType BFloat16",),
        explain=lambda c, i, m: (
            "bf16 training crashes in TAO 7.3.0 at the first validation (vis_mono calls .numpy() on a bf16 tensor)",
            "set train.precision: fp32 (or fp16, which halves activation memory)",
        ),
    ),
    Entry(
        "size_mismatch",
        "`Error(s) in loading state_dict for …: size mismatch for model.pretrained.cls_token: … [1, 1, 768] "
        "from checkpoint, … [1, 1, 384] in current model`",
        "the checkpoint's encoder (width 384/768/1024/1536 = vits/vitb/vitl/vitg) is not the spec's "
        "model.encoder (or use_bn/use_clstoken differ)",
        "set model.encoder to the checkpoint's, or give a checkpoint of the spec's encoder",
        "c_eval_wrong_encoder (tao-7.3.0-h200); facts §6.3",
        anchors=("size mismatch for ",),
        explain=_size_mismatch,
    ),
    Entry(
        "state_dict_keys",
        "`Error(s) in loading state_dict for …: Missing key(s) … Unexpected key(s) …`",
        "a checkpoint of another layout or head in this key: public DA-V2 (pretrained.* + depth_head.*), bare "
        "DINOv2 (cls_token, blocks.*), a TAO Relative (model.depth_head.*) or Metric (model.metric_depth_head.*) "
        "checkpoint",
        "put the file in the key that takes its layout (model.mono_backbone.pretrained_path: bare DINOv2 for "
        "Relative, DA-V2/TAO for Metric; train.pretrained_model_path: a whole model of the same model_type)",
        "the use-case matrix of tao-7.3.0-h200/README.md (real TAO on an H200); facts §6.3, §7",
        anchors=("Error(s) in loading state_dict for",),
        explain=lambda c, i, m: (
            _missing_unexpected(c, i, m)
            if any("key(s) in state_dict" in x for x in c.all[i : i + 12])
            else None
        ),
    ),
    Entry(
        "cuda_oom",
        "`torch.OutOfMemoryError: CUDA out of memory. Tried to allocate X GiB. GPU 0 has a total capacity of …` "
        "(older: `RuntimeError: CUDA out of memory`)",
        "batch × crop × encoder needs more GPU memory than the GPU has (no FAILURE line in status.json)",
        "the largest batch that fits (memory_fit's estimate), fp16, a smaller crop or encoder",
        "tao-7.3.0-h200/README.md (measured: ViT-L crop 518 fp32, batch 18 fits, 25 does not); facts §6.3",
        anchors=("CUDA out of memory", "CUDA error: out of memory"),
        explain=_oom,
    ),
    Entry(
        "relative_min_max",
        "`__init__() got an unexpected keyword argument 'min_depth'`",
        "a relative dataset class with dataset.min_depth and max_depth set",
        "remove dataset.min_depth/max_depth for RelativeDepthAnything",
        "facts §2 (relative vs metric kwarg trap), §6.2",
        anchors=("unexpected keyword argument 'min_depth'", "unexpected keyword argument 'max_depth'"),
        explain=lambda c, i, m: (
            "a relative dataset class got dataset.min_depth/max_depth (TAO passes both when both are set)",
            "remove dataset.min_depth and dataset.max_depth (only MetricDepthAnything uses them)",
        ),
    ),
    Entry(
        "metric_no_bounds",
        "`At least one of 'min' or 'max' must not be None`",
        "MetricDepthAnything with dataset.min_depth/max_depth null: the evaluator clips with None",
        "set dataset.min_depth and dataset.max_depth",
        "facts §3.3, §6.2",
        anchors=("At least one of 'min' or 'max' must not be None",),
        explain=lambda c, i, m: (
            "a metric run without dataset.min_depth/max_depth: the first validation clips with None",
            "set dataset.min_depth and dataset.max_depth (e.g. 0.001 and 10 for indoor metres)",
        ),
    ),
    Entry(
        "rgb_unreadable",
        "`RGB image is None for file: <path>` (a DataLoader worker's ValueError; OpenCV's "
        "`can't open/read file` warning before it)",
        "an annotation line names an RGB image that is missing or unreadable",
        "fix that line or the file; `depthnet validate` checks every line before launch",
        "c_missing_file (tao-7.3.0-h200, ~95 s in); facts §2.3, §6.2",
        anchors=("RGB image is None for file:",),
        detail=_P(r"RGB image is None for file: (?P<path>.{1,4000})$"),
        explain=_rgb_missing,
    ),
    Entry(
        "depth_unreadable",
        "`AttributeError: 'NoneType' object has no attribute 'astype'`",
        "a depth PNG that is missing or unreadable (OpenCV returned None)",
        "fix the depth path (often a convert rewrite error)",
        "facts §2.4, §6.2",
        anchors=("'NoneType' object has no attribute 'astype'",),
        explain=_depth_none,
    ),
    Entry(
        "pfm_bad",
        "`Not a PFM file.` / `Malformed PFM header.`",
        "a depth .pfm that is not a PFM",
        "re-write the PFM files (header PF or Pf)",
        "facts §6.2",
        anchors=("Not a PFM file", "Malformed PFM header"),
        explain=lambda c, i, m: (
            "a depth .pfm file is not a valid PFM (header must be PF or Pf)",
            "re-write the depth files; `depthnet doctor` reads them as TAO does",
        ),
    ),
    Entry(
        "unsupported_extension",
        "`Unsupported file extension: <path>` (status line), then a bare `NotImplementedError`",
        "an RGB image not .png/.jpg/.jpeg (case-sensitive), a GT path neither .pfm nor .png, or a blank line",
        "rename/convert the files, lower-case the extension, strip blank lines",
        "facts §2.3, §6.2",
        anchors=("Unsupported file extension",),
        detail=_P(r"Unsupported file extension:? ?(?P<path>.{0,4000})$"),
        explain=lambda c, i, m: (
            (
                f"TAO cannot read {short_path(m.group('path').strip())}: unsupported extension "
                "(RGB: .png/.jpg/.jpeg, case-sensitive; depth: .png/.pfm)"
                f"{_where_in_annotations(c, m.group('path').strip())}",
                "rename or convert the files (lower-case extensions), then re-run convert",
            )
            if m and m.group("path").strip()
            else (
                "an annotation line with no file extension: a blank line (TAO does not skip them)",
                "remove blank lines from the annotation file",
            )
        ),
    ),
    Entry(
        "dataset_type",
        "`Dataset type <x> not supported. Supported list [...]`",
        "data_sources[].dataset_name is not one of TAO's classes",
        "pick a listed name (`depthnet pairs`)",
        "facts §2.1, §6.2",
        anchors=("not supported. Supported list",),
        detail=_P(r"Dataset type (?P<name>\S{0,200}) not supported"),
        explain=lambda c, i, m: (
            f"dataset class {m.group('name') if m else '?'!r} (data_sources[].dataset_name) is not one TAO knows",
            "use a listed name, e.g. NYUDV2, NYUDV2Relative, MetricMonoDataset (`depthnet pairs`)",
        ),
    ),
    Entry(
        "no_dataset",
        "`No dataset found` / `'NoneType' object is not iterable` at dataset build",
        "the split the action reads has no data_sources",
        "add data_sources to that split",
        "facts §2.1, §6.2",
        anchors=("No dataset found", "'NoneType' object is not iterable"),
        explain=lambda c, i, m: (
            "the split this action reads has no data_sources",
            "add an entry (data_file, dataset_name) to that split's data_sources",
        ),
    ),
    Entry(
        "dataset_too_small",
        "`Dataset size (N) is smaller than the total batch size (M)`",
        "fewer samples than batch_size × GPUs",
        "lower the batch size or add data",
        "facts §2.7",
        anchors=("is smaller than the total batch size",),
        detail=_P(r"Dataset size \((?P<n>\d+)\) is smaller than the total batch size \((?P<m>\d+)\)"),
        explain=lambda c, i, m: (
            f"the dataset has {m.group('n') if m else 'fewer'} samples, fewer than the total batch "
            f"{m.group('m') if m else ''}".rstrip(),
            "lower the batch size (or the GPU count), or add data",
        ),
    ),
    Entry(
        "val_batch",
        "`AssertionError: batch_size must be 1 for validation`",
        "dataset.val_dataset.batch_size > 1",
        "set it to 1",
        "facts §2.7, §6.2",
        anchors=("batch_size must be 1 for validation",),
        explain=lambda c, i, m: (
            "dataset.val_dataset.batch_size is more than 1",
            "set dataset.val_dataset.batch_size: 1",
        ),
    ),
    Entry(
        "crop_size",
        "`Crop size needs to be smaller than image size`",
        "the crop is bigger than the resized image (odd crop sizes)",
        "crop_size multiples of 14",
        "facts §2.5, §6.2",
        anchors=("Crop size needs to be smaller than image size",),
        explain=lambda c, i, m: (
            "the training crop is bigger than the resized image",
            "use a crop_size that is a multiple of 14 (e.g. 518)",
        ),
    ),
    Entry(
        "relative_empty_batch",
        "`AttributeError: 'int' object has no attribute 'isnan'`",
        "a relative batch without any valid pixel (the loss returns a Python 0)",
        "fix the GT encoding / dataset class",
        "facts §2.6, §6.2",
        anchors=("'int' object has no attribute 'isnan'",),
        explain=lambda c, i, m: (
            "a relative training batch had no valid depth pixel (empty mask)",
            "check the dataset class against the depth files (`depthnet doctor`)",
        ),
    ),
    Entry(
        "precision",
        "`<x> is not supported. Only fp32, fp16, and bf16 are supported`",
        "a train.precision TAO does not know",
        "fp32, fp16 or bf16",
        "facts §3.5, §6.3",
        anchors=("Only fp32, fp16, and bf16 are supported",),
        explain=lambda c, i, m: ("train.precision is not fp32, fp16 or bf16", "set train.precision: fp32"),
    ),
    Entry(
        "optimizer",
        "`Optimizer SGD is not implemented` / `LR Scheduler MultiStep is not implemented`",
        "a declared but unimplemented optimizer or scheduler",
        "AdamW; MultiStepLR or LambdaLR",
        "facts §6.3",
        anchors=("is not implemented",),
        detail=_P(r"(?P<what>Optimizer|LR Scheduler) (?P<name>\S{1,100}) is not implemented"),
        explain=lambda c, i, m: (
            (
                f"{m.group('what')} {m.group('name')} is declared by TAO's schema but not implemented",
                "use train.optim.optim: AdamW"
                if m.group("what") == "Optimizer"
                else "use train.optim.lr_scheduler: MultiStepLR or LambdaLR",
            )
            if m
            else None
        ),
    ),
    Entry(
        "monitor_metric",
        "`checkpointer.monitor='val_loss' is not logged by this model`",
        "best-k checkpointing with the default monitor name",
        "train.checkpointer.monitor: val/loss",
        "facts §6.3",
        anchors=("is not logged by this model",),
        explain=lambda c, i, m: (
            "train.checkpointer.monitor names a metric depth_net does not log",
            "set train.checkpointer.monitor: val/loss",
        ),
    ),
    Entry(
        "resume_format",
        "`Resume checkpoint has an invalid file format; it must be either a .tlt or a .pth`",
        "train.resume_training_checkpoint_path does not end .pth/.tlt",
        "give the .pth checkpoint",
        "facts §3.5, §6.3",
        anchors=("Resume checkpoint has an invalid file format",),
        explain=lambda c, i, m: (
            "train.resume_training_checkpoint_path is not a .pth or .tlt file",
            "give a checkpoint TAO wrote (model_epoch_…_step_….pth)",
        ),
    ),
    Entry(
        "no_space",
        "`OSError: [Errno 28] No space left on device`",
        "the disk (or /dev/shm) is full",
        "free space, or write results elsewhere",
        "facts §4.4 (OSError → File system error)",
        anchors=("No space left on device", "[Errno 28]"),
        detail=_P(r"No space left on device(?::? '?(?P<path>[^']{0,1000}))?"),
        explain=lambda c, i, m: (
            "no space left on the device"
            + (f" writing {short_path(m.group('path'))}" if m and m.group("path") else ""),
            "free disk space (checkpoints are 0.3–1.2 GB each) or set results_dir on a bigger disk; "
            "in a DataLoader worker it is /dev/shm: docker --shm-size",
        ),
    ),
    Entry(
        "permission_denied",
        "`PermissionError: [Errno 13] Permission denied: '<path>'`",
        "the container's user may not write the results folder (or read a file)",
        "chown the folder or run the container as your user",
        "facts §4.4 (PermissionError → File system error); troubleshooting.md",
        anchors=("[Errno 13] Permission denied", "PermissionError"),
        detail=_P(r"Permission denied: '(?P<path>[^']{0,1000})'"),
        explain=_permission,
    ),
    Entry(
        "file_not_found",
        "`FileNotFoundError: [Errno 2] No such file or directory: '<path>'`",
        "a path in the spec (annotation file, pretrained weights, checkpoint) not visible in the container",
        "fix the path or mount it",
        "facts §6.2, §6.3",
        anchors=("[Errno 2] No such file or directory",),
        detail=_P(r"No such file or directory: '(?P<path>[^']{1,1000})'"),
        explain=_file_not_found,
    ),
    Entry(
        "shm",
        "`DataLoader worker … Bus error` / `insufficient shared memory (shm)`",
        "the container's /dev/shm is too small for the DataLoader workers (Docker's default is 64 MB)",
        "docker --shm-size (depthnet's docker backend sets it), or fewer workers",
        "PyTorch DataLoader message (no capture)",
        anchors=("insufficient shared memory", "Bus error"),
        explain=lambda c, i, m: (
            "DataLoader workers ran out of shared memory (/dev/shm)",
            "give the container more (docker --shm-size 16g) or lower dataset.*.workers",
        ),
    ),
    Entry(
        "worker_killed",
        "`DataLoader worker (pid N) is killed by signal: Killed.`",
        "the kernel killed a data-loading worker: host memory ran out",
        "fewer workers, smaller batch, more host memory",
        "PyTorch DataLoader message (no capture)",
        anchors=("is killed by signal: Killed", "exited unexpectedly"),
        explain=lambda c, i, m: (
            "the system killed a DataLoader worker: the host ran out of memory",
            "lower dataset.*.workers and batch_size, or give the container/job more memory",
        ),
    ),
    Entry(
        "nccl",
        "`NCCL error` / `DistBackendError` / `ProcessGroupNCCL` / `Address already in use` at start-up",
        "the GPUs' processes could not start or keep their communication (NCCL, the rendezvous port)",
        "one run per port (MASTER_PORT), NCCL_DEBUG=INFO to see why; check the GPUs see each other",
        "facts §8 (no capture); torch.distributed messages",
        anchors=(
            "NCCL error",
            "ncclInternalError",
            "ncclSystemError",
            "ncclUnhandledCudaError",
            "ncclInvalidUsage",
            "DistBackendError",
            "DistNetworkError",
            "Address already in use",
            "The server socket has failed to listen",
        ),
        explain=lambda c, i, m: (
            (
                "the distributed start-up could not bind its port (another run uses MASTER_PORT)",
                "wait for the other run, or set another MASTER_PORT",
            )
            if "in use" in c.all[i] or "failed to listen" in c.all[i]
            else (
                "multi-GPU communication (NCCL) failed",
                "rerun with NCCL_DEBUG=INFO to see why; try one GPU; check `nvidia-smi topo -m`",
            )
        ),
    ),
    Entry(
        "cuda_init",
        "`CUDA driver version is insufficient` / `Found no NVIDIA driver` / `no kernel image is available` / "
        "`NVML: Driver/library version mismatch` / `uncorrectable ECC error` / `Xid`",
        "the GPU or its driver is not usable by this container (driver too old, mismatch, hardware error)",
        "update the driver / pick an image built for it; an ECC or Xid error is the GPU: tell the admins",
        "facts §8, §10 (no capture); CUDA runtime messages",
        anchors=(
            "CUDA driver version is insufficient",
            "Found no NVIDIA driver",
            "no kernel image is available",
            "Driver/library version mismatch",
            "No CUDA GPUs are available",
            "uncorrectable ECC error",
            "NVRM: Xid",
            "Xid (",
            "CUDA error: unspecified launch failure",
            "CUDA error: an illegal memory access",
            "cudaErrorInitializationError",
            "Failed to initialize NVML",
        ),
        warnings=True,
        explain=lambda c, i, m: _cuda_words(c.all[i]),
    ),
    Entry(
        "host_oom_kill",
        "exit 137 (or signal 9) and no Python exception",
        "killed by the system (SIGKILL): most likely host memory ran out",
        "lower workers and batch_size, or give the container/job more memory",
        "verdict.py (exit 137); facts §5.1",
        anchors=("",),
        exit_codes=frozenset({137, -9}),
        explain=_host_oom,
    ),
)


def _cuda_words(line: str) -> tuple[str, str]:
    if "ECC" in line or "Xid" in line:
        return (
            "the GPU reported a hardware error (ECC/Xid)",
            "run on another GPU and tell the cluster admins (nvidia-smi -q shows the error counts)",
        )
    if "kernel image" in line:
        return (
            "this torch build has no kernels for this GPU's architecture",
            "use a TAO image built for this GPU generation",
        )
    if "mismatch" in line:
        return (
            "the NVIDIA driver and its user-space library differ (driver updated without a reboot?)",
            "reboot the machine, or reinstall the driver so both match",
        )
    if "illegal memory access" in line or "launch failure" in line:
        return (
            "a CUDA kernel crashed (illegal memory access / launch failure)",
            "rerun once; if it repeats, try another GPU or fp32, and look at `dmesg` for Xid errors",
        )
    return (
        "CUDA cannot start in the container (driver missing, too old, or no GPU passed in)",
        "check `depthnet setup` (NVIDIA runtime, driver version) and that the run asks for GPUs",
    )


# ------------------------------------------------------------------------------------------------ the entry point


def diagnose(
    log_text: str,
    *,
    exit_code: int | None,
    status_lines: Sequence[Mapping[str, Any]] = (),
    spec: RunSpec | None = None,
    annotation_files: Sequence[str | os.PathLike[str]] = (),
    action: str | None = None,
) -> Diagnosis | None:
    """Why this run failed, or None when nothing says it did (exit 0: TAO's own success; NaN metrics and epoch
    counts are judged by :func:`judge_metrics` and :mod:`specgen.engine.resume`, not here)."""
    if exit_code == 0:
        return None
    status_lines = last_session(status_lines)
    status: list[str] = []
    for line in status_lines:
        message = line.get("message")
        if isinstance(message, str) and message:
            status += [x for x in clean_lines(message)]
    if action is None:
        action = next(
            (
                m.split()[-1].rstrip(".")
                for line in status_lines
                if isinstance(m := line.get("message"), str) and m.startswith("Starting Depth")
            ),
            None,
        )
    ctx = _Ctx(
        lines=clean_lines(log_text),
        status=status,
        exit_code=exit_code,
        spec=spec,
        action=action,
        annotation_files=[str(p) for p in annotation_files],
    )
    for entry in CATALOGUE:
        if entry.exit_codes is not None and exit_code not in entry.exit_codes:
            continue
        if entry.anchors == ("",):
            index: int | None = max(0, len(ctx.all) - 1)
        else:
            index = ctx.last(entry.anchors, warnings=entry.warnings)
        if index is None:
            continue
        text = ctx.all[index] if ctx.all else ""
        m = entry.detail.search(_body(text)) if entry.detail is not None else None
        words = (
            entry.explain(ctx, index, m)
            if entry.explain
            else (entry.cause.format(**m.groupdict()) if m else entry.cause, entry.fix)
        )
        if words is None:
            continue
        # The excerpt starts at the first of a block of matching lines (a strict load lists hundreds of "size
        # mismatch for …" lines; the first, cls_token, is the telling one, and the error line above it says what).
        start = index
        while start > 0 and entry.anchors != ("",) and any(a in ctx.all[start - 1] for a in entry.anchors):
            start -= 1
        return Diagnosis(
            cause=words[0],
            fix=words[1],
            excerpt=_excerpt(ctx.all, start) if ctx.all else "",
            source=entry.source,
            code=entry.code,
        )
    return _fallback(ctx)


# --------------------------------------------------------------------------------------- NaN and inf in metrics

#: The one rule for "finite", at every depth, is ``specgen.engine.status.finite`` (re-exported here): a number
#: (int/float, not bool) or a numeric string ("nan", "NaN", "inf", "-Infinity", "1e3"); dicts and lists are looked
#: into by ``nonfinite``. None for anything that is not a number.


def _number(value: Any) -> float | None:
    if finite(value) is not True and finite(value) is not False:
        return None
    try:
        return float(value.strip() if isinstance(value, str) else value)
    except OverflowError:  # an int past float's range is finite, and far from 0
        return math.inf


@dataclass(frozen=True)
class MetricFinding:
    """One metric key judged: ``fail`` (the run's result is not usable as it is) or ``warn`` (usable; said as a
    second reason). ``head`` says what was seen, ``fix`` what it means and what to do; ``reason`` is both, one line;
    ``said(note, hint)`` puts the verdict's "although TAO printed PASS" after the head and the data doctor's
    words in place of the generic fix."""

    key: str
    value: str
    severity: str  # "fail" | "warn"
    head: str
    fix: str = ""
    epoch: int | None = None  # where it was first non-finite (train), None for evaluate

    @property
    def reason(self) -> str:
        return f"{self.head}: {self.fix}" if self.fix else self.head

    def said(self, note: str = "", hint: str | None = None) -> str:
        fix = hint or self.fix
        return f"{self.head}{note}: {fix}" if fix else f"{self.head}{note}"


#: The status.json message whose kpi belongs to the epoch line that comes just after it (see ``judge_metrics``).
_EVAL_MESSAGE = "Eval metrics generated."
_ORDER = ("train_loss", "val/loss", "val/abs_rel", "val/d1", "val/d2", "val/d3")
#: The keys a loss finding may take the data doctor's hint for (a NaN loss is most often the data's encoding).
HINT_KEYS = ("train_loss", "val/loss")


def judge_metrics(
    status_lines: Sequence[Mapping[str, Any]], action: str, *, spec: RunSpec | None = None
) -> list[MetricFinding]:
    """NaN/inf metrics, one finding per key (most meaningful first), from every line of the last session that
    carries a kpi (TAO repeats a kpi on later lines of another kind — the epoch line, "Training loop complete." —
    always with the latest value, so reading them all changes neither the first bad value nor the last one; a line
    written by hand or by another tool counts the same). Decided per key:

    - ``train_loss`` non-finite at any epoch → fail: in fp32/bf16 a NaN gradient poisons AdamW's moments, the
      weights are NaN from there on; under fp16 the loss scaler skips such steps, so a NaN epoch followed by
      finite ones → warn.
    - ``val/loss``, ``val/abs_rel``, ``val/d1..d3`` non-finite at the **last** measurement → fail (nothing
      measured the final model, or it predicts nothing valid); non-finite earlier but finite at the end → warn
      (the final checkpoint validated fine; e.g. a random head's first validation).
    - ``val/abs_rel`` NaN with δ1 = 0: the model predicts no valid depth (the least-squares alignment of a
      constant prediction is singular: c_ft_rel_backbone_dino); with δ1..δ3 NaN too: no valid GT pixel at all.
    - any other key non-finite → warn (no known meaning; shown, not judged).
    """
    lines = last_session(status_lines)
    # The epoch each kpi line belongs to: an "Eval metrics generated." line comes just before its epoch's
    # "Training loop in progress" line (data key ``epoch``), a "Train metrics generated." just after it.
    next_epoch: list[int | None] = [None] * len(lines)
    upcoming: int | None = None
    for i in range(len(lines) - 1, -1, -1):
        if isinstance(lines[i].get("epoch"), int):
            upcoming = lines[i]["epoch"]
        next_epoch[i] = upcoming
    series: dict[str, list[tuple[int | None, Any]]] = {}
    epoch: int | None = None
    for i, line in enumerate(lines):
        if isinstance(line.get("epoch"), int):
            epoch = line["epoch"]
        kpi = line.get("kpi")
        if not isinstance(kpi, Mapping):
            continue
        at = next_epoch[i] if line.get("message") == _EVAL_MESSAGE else epoch
        for key, value in flat_kpi(dict(kpi)).items():
            # a value nested under a known key (``train_loss: {a: NaN}``, ``val/loss: [1, NaN]``) is that key's
            root = next((k for k in _ORDER if key.startswith(k + "/")), key)
            series.setdefault(root, []).append((at if action == "train" else None, value))
    precision = spec.spec.train.precision if spec is not None else "fp32"
    last = {k: v[-1][1] for k, v in series.items()}
    out: list[MetricFinding] = []
    depth_said = False  # one finding for val/abs_rel and δ1–δ3 when they say the same thing
    for key in sorted(series, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), k)):
        values = series[key]
        bad = [(e, v) for e, v in values if finite(v) is False]
        if not bad:
            continue
        first_epoch, first_value = bad[0]
        text = nonfinite({key: first_value})[key]
        now_bad = finite(values[-1][1]) is False
        where = f" at epoch {first_epoch}" if first_epoch is not None else ""
        if key == "train_loss":
            if now_bad or precision != "fp16":
                out.append(
                    MetricFinding(
                        key,
                        text,
                        "fail",
                        f"train_loss is {text}{where}",
                        "the weights are not usable from there on — check the dataset class against the depth "
                        "files (`depthnet doctor`)",
                        first_epoch,
                    )
                )
            else:
                out.append(
                    MetricFinding(
                        key,
                        text,
                        "warn",
                        f"train_loss was {text}{where}, finite since",
                        "fp16's loss scaler skipped those steps",
                        first_epoch,
                    )
                )
            continue
        if not now_bad:
            out.append(
                MetricFinding(
                    key,
                    text,
                    "warn",
                    f"{key} was {text}{where} and is finite at the end",
                    "the final checkpoint validated fine",
                    first_epoch,
                )
            )
            continue
        if key in ("val/abs_rel", "val/d1", "val/d2", "val/d3"):
            if not depth_said:
                head, fix = _depth_metric_words(key, text, last, action, spec)
                out.append(MetricFinding(key, text, "fail", head, fix, first_epoch))
                depth_said = "δ1–δ3 are NaN" in head
        elif key == "val/loss":
            out.append(
                MetricFinding(
                    key,
                    text,
                    "fail",
                    f"val/loss is {text}",
                    "the validation gave no valid depth pixel (or the model outputs NaN) — check the val data's "
                    "dataset class and min/max_depth (`depthnet doctor`)",
                    first_epoch,
                )
            )
        else:
            out.append(MetricFinding(key, text, "warn", f"{key} is {text}", "", first_epoch))
    return out


#: The fix for a dead head (val/abs_rel NaN with δ1 = 0 after a train), as measured (spec/recipes.py): a fresh
#: Relative head learned at lr 5e-6 with seeds 7 and 42, and died at 5e-5 and 1e-4 and at TAO's seed 1234 at every lr.
DEAD_HEAD_FIX = "change train.seed, keep train.optim.lr at 5e-6, or start from a whole model (train.pretrained_model_path)"


def _dead_head_fix(spec: RunSpec | None) -> str:
    """The measured cause first: an lr above the one a fresh head lived at, else TAO's default seed."""
    from specgen.job.weights import FRESH_HEAD_MAX_LR
    from specgen.spec.recipes import FRESH_RELATIVE_SEED, TAO_DEFAULT_SEED

    whole = "or start from a whole model (train.pretrained_model_path)"
    if spec is None:
        return DEAD_HEAD_FIX
    train = spec.spec.train
    if train.optim.lr > FRESH_HEAD_MAX_LR:
        return f"set train.optim.lr: {FRESH_HEAD_MAX_LR:g} (it died at {train.optim.lr:g}) {whole}"
    if train.seed == TAO_DEFAULT_SEED:
        return f"set train.seed: {FRESH_RELATIVE_SEED.value} (it died at TAO's {TAO_DEFAULT_SEED}) {whole}"
    return DEAD_HEAD_FIX


def _depth_metric_words(
    key: str, text: str, last: Mapping[str, Any], action: str, spec: RunSpec | None
) -> tuple[str, str]:
    d1 = _number(last.get("val/d1"))
    deltas_nan = all(finite(last.get(k)) is False for k in ("val/d1", "val/d2", "val/d3"))
    subject = "the model" if action == "train" else "the checkpoint"
    if deltas_nan:
        return (
            f"{key} is {text} and δ1–δ3 are NaN",
            f"the {'validation' if action == 'train' else 'evaluation'} had no valid ground-truth pixel — check "
            "the dataset class and min/max_depth (`depthnet doctor`)",
        )
    if key == "val/abs_rel" and text == "NaN" and d1 == 0:
        # Measured on an H200 (benchmarks/gpu_lr_probe.sh, gpu_finetune.sh): a fresh Relative head can be dead from
        # the first step — the same train_loss every epoch (0.4519692659 at seed 1234, crop 224) at every lr from
        # 5e-6 to 1e-4 — or die during training at a high lr (seed 7 at 1e-4, seed 42 at 5e-5 from a DINOv2
        # backbone); no gradient reaches a dead ReLU head again.
        why = f"its fresh head is dead: {_dead_head_fix(spec)}"
        if action != "train":
            why = "evaluate a checkpoint of a run whose val/abs_rel was finite"
        elif spec is not None and spec.spec.train.pretrained_model_path:
            why = "the whole model loaded yet predicts nothing: check its model_type (`depthnet weights`)"
        return "val/abs_rel is NaN and δ1 = 0", f"{subject} predicts no valid depth — {why}"
    if text != "NaN":
        return f"{key} is {text}", "a ground-truth depth of 0 counted as valid — check the dataset class"
    return f"{key} is NaN", "some predictions are not finite — check the inputs and train.precision"


# --------------------------------------------------------------------------------------------- the help topic


def catalogue_markdown() -> str:
    """``references/failures.md``: the catalogue as a table (a test keeps the file current)."""
    rows = [
        "<!-- generated from specgen/engine/failures.py (CATALOGUE) by catalogue_markdown(); do not edit by hand "
        "-->",
        "# Failures: what TAO printed → the cause → the fix",
        "",
        "depthnet reads a failed run's whole log (its last 4 MiB, not the first line after `Error executing "
        "job`), status.json and the exit code, and names the cause and the fix in one line. The catalogue, in "
        "the order it is tried (root causes before their consequences):",
        "",
        "| what TAO printed | cause | fix | known from |",
        "|---|---|---|---|",
    ]
    for e in CATALOGUE:
        cells = [e.signature, e.cause, e.fix, e.source]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    rows += [
        "",
        "Anything else: the log's last exception line (the deepest traceback's, `[rankN]:` prefixes removed), "
        "with the TAO function that raised it.",
        "",
        "## NaN and inf in the metrics",
        "",
        "TAO prints `Execution status: PASS` whatever the metrics are. `train_loss` NaN/inf at any epoch is a "
        "FAIL (fp16 runs whose loss scaler skipped the steps and recovered: a warning). `val/loss`, "
        "`val/abs_rel`, δ1–δ3 (`val/d1..d3`) NaN/inf at the last measurement are a FAIL: `val/abs_rel` NaN with "
        "δ1 = 0 means the model predicts no valid depth (a head at random init can be dead from its first step, at "
        "any lr: start from a whole pretrained model or change train.seed); "
        "with δ1–δ3 NaN too, the data had no valid ground-truth pixel. NaN at an earlier epoch only: a "
        "warning. A NaN written as a string or nested in a kpi dict counts the same.",
        "",
    ]
    return "\n".join(rows)
