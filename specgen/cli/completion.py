"""``depthnet completion bash|zsh|fish``: a shell completion script generated from the parser itself.

shtab writes a static script (no Python runs at each TAB, so completion costs the shell nothing): sub-commands,
flags and choices (the actions ``train evaluate inference export quantize gen_trt_engine convert``, model types,
encoders, recipes) come from the parser as built; dataset names from the catalog; run ids from the runs folder, which
the script lists when TAB is pressed (``spec.locations.runs_dir``'s rule: ``$XDG_DATA_HOME/depthnet-tui/runs``), so a run
started a second ago completes. argcomplete would call Python at every TAB (~0.1 s here) for the same answers.

Arguments are matched by their ``dest``, so a new command gets the same completion for the same kind of argument
without touching this module.
"""

from __future__ import annotations

import argparse
import sys

from specgen.cli.common import EXIT_OK

SHELLS = ("bash", "zsh", "fish")

_FILE = {"bash": "_shtab_compgen_files", "zsh": "_files", "fish": "(__fish_complete_path (commandline -ct))"}
_DIR = {"bash": "_shtab_compgen_dirs", "zsh": "_files -/", "fish": "(__fish_complete_directories)"}
_RUN_IDS = {"bash": "_depthnet_run_ids", "zsh": "_depthnet_run_ids", "fish": "(__depthnet_run_ids)"}
_RUN_OR_DIR = {
    "bash": "_depthnet_run_or_dir",
    "zsh": "_depthnet_run_or_dir",
    "fish": "(__depthnet_run_or_dir)",
}
_DATASETS = {"bash": "_depthnet_datasets", "zsh": "_depthnet_datasets", "fish": "(__depthnet_datasets)"}

#: What completes an argument, by its dest. ``run`` and ``runs`` also take a results folder: both are offered.
BY_DEST: dict[str, dict[str, str]] = {
    "run_id": _RUN_IDS,
    "run": _RUN_OR_DIR,
    "runs": _RUN_OR_DIR,
    "dataset_name": _DATASETS,
    **{
        d: _FILE
        for d in (
            "spec",
            "data_file",
            "val_data_file",
            "log",
            "output",
            "checkpoint",
            "onnx_file",
            "trt_engine",
        )
    },
    **{
        d: _DIR
        for d in (
            "data_root",
            "out",
            "results_dir",
            "output_dir",
            "dir",
            "folder",
            "images_dir",
            "calibration_images_dir",
        )
    },
}

_RUNS_HOME = '"${XDG_DATA_HOME:-$HOME/.local/share}/depthnet-tui/runs"'


def _preamble(shell: str) -> str:
    """The two dynamic completers, in the shell's own language."""
    from specgen.spec.catalog import DATASETS

    names = " ".join(d.name for d in DATASETS)
    if shell == "bash":
        return f"""
_depthnet_run_ids() {{
  local home={_RUNS_HOME} f ids=()
  for f in "$home"/*/; do [ -d "$f" ] && f="${{f%/}}" && ids+=("${{f##*/}}"); done
  compgen -W "${{ids[*]}}" -- "$1"
}}
_depthnet_run_or_dir() {{
  _depthnet_run_ids "$1"
  compgen -d -- "$1"
}}
_depthnet_datasets() {{
  compgen -W "{names}" -- "$1"
}}
"""
    if shell == "zsh":
        return f"""
_depthnet_run_ids() {{
  local home={_RUNS_HOME}
  local -a ids
  ids=( "$home"/*(N/:t) )
  compadd -a ids
}}
_depthnet_run_or_dir() {{
  _depthnet_run_ids
  _files -/
}}
_depthnet_datasets() {{
  compadd {names}
}}
"""
    return f"""
function __depthnet_run_ids
    set -l home (set -q XDG_DATA_HOME; and echo $XDG_DATA_HOME; or echo $HOME/.local/share)/depthnet-tui/runs
    for f in $home/*/
        basename $f
    end
end
function __depthnet_run_or_dir
    __depthnet_run_ids
    __fish_complete_directories
end
function __depthnet_datasets
    printf '%s\\n' {names}
end
"""


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish) of ``parser`` and its sub-commands."""
    import shtab

    for action in _actions(parser):
        how = BY_DEST.get(action.dest)
        if how is not None and not action.choices:
            action.complete = how  # type: ignore[attr-defined]  # shtab reads this attribute
    return str(shtab.complete(parser, shell=shell, preamble=_preamble(shell)))


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    out: list[argparse.Action] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share one parser
                out += _actions(sub)
        else:
            out.append(action)
    return out


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "completion",
        help="print the shell completion script (bash, zsh, fish)",
        description="Install once: bash: depthnet completion bash > ~/.local/share/bash-completion/completions/"
        "depthnet · zsh: depthnet completion zsh > ~/.zfunc/_depthnet (with fpath+=~/.zfunc before compinit) · "
        "fish: depthnet completion fish > ~/.config/fish/completions/depthnet.fish",
    )
    c.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    c.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.root_parser, args.shell))
    return EXIT_OK
