"""Unexpected errors: one short line for the person, the whole traceback in a crash report file (never on screen).

The report is the file users are told to attach to a bug report, so it must never carry a secret: the command line
is written with every ``--env`` value, every ``*KEY*``/``*TOKEN*``/``*SECRET*``/``*PASSWORD*`` value and every
token-looking string replaced by ``***``; the environment is never written; and any secret value known from the
command line or the environment is scrubbed from the traceback text too (an exception message may quote it). The
file is written through ``specgen.spec.atomicio`` (a 0600 temp file, hard-linked to its name: never an existing
name, never through a planted link — a link or FIFO at the name means no report) in a 0700 folder.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from specgen.spec.atomicio import RefusedOverwrite, write_text_atomic
from specgen.spec.locations import crash_dir

MASK = "***"
#: A name that holds a secret: ``NGC_API_KEY``, ``HF_TOKEN``, ``--password``, ``aws_secret_access_key`` …
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
#: Values that look like credentials whatever they are called (Hugging Face, NGC, GitHub, OpenAI-style, AWS).
TOKEN_VALUE = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{16,}|nvapi-[A-Za-z0-9_-]{16,}|(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{16,}"
    r"|sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16})"
)
#: A long unbroken run of base64-ish characters (no '/' or '.', so paths and file names stay readable).
LONG_RUN = re.compile(r"(?<![A-Za-z0-9+=_-])[A-Za-z0-9+=_-]{40,}(?![A-Za-z0-9+=_-])")
#: ``Authorization: Bearer abc`` (or ``Basic``), as a header given on a command line or quoted by an error.
AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)(?:(?:bearer|basic|token)\s+)?\S+")
#: ``NAME=value`` anywhere in a text, where NAME names a secret.
NAMED_ASSIGNMENT = re.compile(
    r"\b([A-Za-z_][A-Za-z0-9_.-]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)[A-Za-z0-9_.-]*\s*[=:]\s*)"
    r"(['\"]?)[^\s'\"]+\2",
    re.IGNORECASE,
)
#: Shorter known values are not scrubbed from the traceback text (a 1-character "secret" would mask every letter).
MIN_SCRUB = 4


def redact_argv(argv: Sequence[str]) -> list[str]:
    """The command line with secrets masked: ``--env K=V`` / ``--env=K=V`` (every value, whatever its name),
    ``NAME=V`` and ``--NAME=V`` / ``--NAME V`` where NAME names a secret, Authorization headers, token-looking
    values."""
    out: list[str] = []
    mask_next: str | None = None  # "env": the next word is K=V; "value": the next word is a secret
    for word in argv:
        if mask_next == "env":
            out.append(_mask_assignment(word, always=True))
        elif mask_next == "value":
            out.append(MASK)
        else:
            out.append(_redact_word(word))
        mask_next = None
        if word == "--env":
            mask_next = "env"
        elif word.startswith("-") and "=" not in word and SECRET_NAME.search(word.lstrip("-")):
            mask_next = "value"  # --api-key VALUE, --password VALUE
    return [redact_text(w) for w in out]


def _redact_word(word: str) -> str:
    if word.startswith("--env="):
        return "--env=" + _mask_assignment(word[len("--env=") :], always=True)
    return _mask_assignment(word, always=False)


def _mask_assignment(word: str, *, always: bool) -> str:
    """``K=V`` → ``K=***`` when ``always`` or K names a secret; other words pass unchanged."""
    name, sep, value = word.partition("=")
    if sep and value and (always or SECRET_NAME.search(name)):
        return f"{name}={MASK}"
    return word


def redact_text(text: str) -> str:
    """Mask secrets by their shape in free text: Authorization headers, ``SECRET_NAME=value``, token-like values."""
    text = AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = NAMED_ASSIGNMENT.sub(lambda m: m.group(1) + MASK, text)
    text = TOKEN_VALUE.sub(MASK, text)
    return LONG_RUN.sub(lambda m: MASK if _keylike(m.group(0)) else m.group(0), text)


def _keylike(run: str) -> bool:
    """A long run with letters and digits mixed is a key (NGC's legacy API keys are 84 base64 characters)."""
    return any(c.isdigit() for c in run) and sum(c.isalpha() for c in run) >= 8


def known_secrets(argv: Sequence[str], environ: Mapping[str, str]) -> set[str]:
    """The secret values this process knows of: every ``--env`` value, every value of a secret-named option or
    variable, every token-looking word (so a traceback quoting one without its name is scrubbed too)."""
    found: set[str] = set()
    words = list(argv)
    for i, word in enumerate(words):
        if word == "--env" and i + 1 < len(words):
            found.add(words[i + 1].partition("=")[2])
        elif word.startswith("--env="):
            found.add(word[len("--env=") :].partition("=")[2])
        elif word.startswith("-") and "=" not in word and SECRET_NAME.search(word) and i + 1 < len(words):
            found.add(words[i + 1])
        name, sep, value = word.partition("=")
        if sep and SECRET_NAME.search(name):
            found.add(value)
        found.update(m.group(0) for m in TOKEN_VALUE.finditer(word))
    for name, value in environ.items():
        if SECRET_NAME.search(name) or TOKEN_VALUE.fullmatch(value or ""):
            found.add(value)
    return {s for s in found if len(s) >= MIN_SCRUB}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret value and every secret-shaped string masked (longest value first, so a
    value that contains another is masked whole)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return redact_text(text)


def report_text(error: BaseException, where: str, argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """What a crash report holds: where, the redacted command, Python and platform, the scrubbed traceback."""
    secrets = known_secrets(argv, environ)
    body = (
        f"depthnet-tui crash report ({where})\ncommand: {' '.join(redact_argv(argv))}\npython: {sys.version}\n"
        f"platform: {platform.platform()}\n\n" + "".join(traceback.format_exception(error))
    )
    return scrub(body, secrets)


def save_report(error: BaseException, where: str) -> Path | None:
    """Write the traceback and what ran to a new 0600 file; None when even that fails (read-only home)."""
    try:
        folder = crash_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = report_text(error, where, sys.argv, os.environ)
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        for n in range(100):  # two crashes of one process in one second get two files
            path = folder / (f"{stamp}.txt" if n == 0 else f"{stamp}-{n}.txt")
            try:
                return write_text_atomic(path, text, overwrite=False, mode=0o600)
            except RefusedOverwrite:
                continue  # a report of this name is there already: take the next
        return None
    except (OSError, ValueError):  # UnsafeTarget (a link or FIFO at the name) is an OSError: no report
        return None


def one_line(error: BaseException, where: str) -> str:
    path = save_report(error, where)
    saved = f"; details saved in {path} (attach it to a bug report)" if path else ""
    secrets = known_secrets(sys.argv, os.environ)
    text = scrub(str(error).splitlines()[0][:300], secrets) if str(error) else ""
    return f"unexpected error: {error.__class__.__name__}" + (f": {text}" if text else "") + saved
