"""The Slurm backend: a readable sbatch script in the run folder, ``sbatch --parsable``, the job's state from
``squeue`` / ``scontrol show job`` / ``sacct``, ``scancel`` to stop.

The job's console goes to ``log.txt`` in the run folder and TAO's status.json to the results folder: both must lie
on a filesystem the compute nodes share with this machine (home and project folders usually are). They are
followed by offset polling, never inotify, which does not see writes made on another node over NFS or Lustre.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from specgen.engine.backend import Backend, Ending, StateSink, StopResult, read_exit_file, tail
from specgen.engine.events import TERMINAL, JobState
from specgen.engine.home import HOME_DIRS, home_dir, home_env, make_home
from specgen.engine.records import LaunchError, LaunchRequest, Restart, RunRecord, SlurmOptions, now
from specgen.spec.docker_cmd import default_image, mounts

#: Seconds between two looks at the job (squeue is cheap, but a cluster has many users).
POLL = 2.0
#: How long a job whose script asked for a requeue may look ended before it is PENDING again. Slurm needs only a
#: moment to requeue it; a job that stays ended was not started again (slurmd refuses an attempt started within the
#: credential lifetime after the kill — "Job credential revoked" — as when someone forces StartTime=now): then the
#: verdict says so and offers `depthnet resume`.
REQUEUE_WAIT = 120.0


def pyxis_image(image: str) -> str:
    """enroot's image syntax: ``nvcr.io/nvidia/tao/x:tag`` → ``nvcr.io#nvidia/tao/x:tag`` (a registry host is the
    part before the first '/' when it holds a dot, a colon or is localhost)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return f"{first}#{rest}"
    return image


#: Slurm's task variables, cleared for TAO's entrypoint (one task per node: Lightning starts the GPUs' processes).
#: With SLURM_NTASKS set and a job name other than bash/interactive, Lightning's SLURMEnvironment takes the job for
#: "one process per GPU, started by srun" and refuses devices=G against --ntasks-per-node=1; with LOCAL_RANK set,
#: its LightningEnvironment starts no process of its own. NVIDIA's TAO SDK clears the same list
#: (tao_sdk/platforms/slurm/handler.py, ``_build_slurm_script``).
TASK_VARS = (
    "SLURM_NTASKS SLURM_NTASKS_PER_NODE SLURM_NNODES SLURM_PROCID SLURM_LOCALID RANK LOCAL_RANK GROUP_RANK"
)
#: TAO's multi-node variables (facts §8): cleared on one node so nothing inherited turns TAO's multi-node mode on.
MULTINODE_VARS = "WORLD_SIZE NODE_RANK NUM_GPU_PER_NODE MASTER_ADDR MASTER_PORT"
#: The Hydra override a restart adds: TAO's auto-resume then takes ``<results>/*_latest.pth``, whatever the spec
#: says (core/initialize_experiments.py: ``resume_training_checkpoint_path or get_latest_checkpoint(results)``).
AUTO_RESUME = "train.resume_training_checkpoint_path=null"
#: One line per start of the job, and per time-limit decision, written by the job script into the run folder.
ATTEMPTS = "attempts.txt"


def task_wrapper(nodes: int) -> str:
    """The ``bash -c`` program each task runs in front of TAO's entrypoint (inside the container). Arguments:
    ``depth_net ACTION -e SPEC [overrides…]``. On several nodes each node reads its own copy of the spec: TAO's
    entrypoint rewrites the spec in place on every node (``launch``: ``yaml.dump`` into the file), and a node that
    reads the shared file while another truncates it would fall back to a single node
    (``[Multinode] Error overriding configs``)."""
    if nodes <= 1:
        return f'unset {TASK_VARS} {MULTINODE_VARS}; export SLURM_JOB_NAME=bash; exec "$@"'
    return (
        f'unset {TASK_VARS}; export SLURM_JOB_NAME=bash NODE_RANK="${{SLURM_NODEID:?}}"; '
        'spec="${4%.yaml}-node$NODE_RANK.yaml"; cp -- "$4" "$spec" || exit 1; '
        'set -- "$1" "$2" "$3" "$spec" "${@:5}"; exec "$@"'
    )


def _container_prefix(req: LaunchRequest, opts: SlurmOptions, folder: Path) -> tuple[list[str], list[str]]:
    """(srun options, command prefix) for the chosen runtime; each folder mounted at its own path, the run folder
    (the job's spec copy, its exit code, the container's HOME) read-write."""
    run_folder = str(folder)
    found = [
        (f, ro)
        for f, ro in mounts(req.spec_path, data_roots=req.data_roots, output_dir=req.output_dir)
        if f != run_folder
    ]
    if not any(Path(run_folder).is_relative_to(f) and not ro for f, ro in found):
        found.append((run_folder, False))
    binds = ",".join(f"{f}:{f}:ro" if ro else f"{f}:{f}" for f, ro in found)
    image = opts.image or req.image or default_image(req.action)
    if opts.container_runtime == "pyxis":
        return [
            f"--container-image={pyxis_image(image)}",
            f"--container-mounts={binds}",
            "--no-container-mount-home",
            f"--container-workdir={req.output_dir}",
        ], []
    if opts.container_runtime == "apptainer":
        source = image if image.endswith(".sif") or "://" in image else f"docker://{image}"
        home = ["--home", str(home_dir(folder))] if "HOME" not in req.env else []
        return [], ["apptainer", "exec", "--nv", "--bind", binds, *home, source]
    return [], []


def _sbatch_line(option: str) -> str:
    """``#SBATCH --key=value`` with the value quoted as sbatch reads it (single quotes, as a shell would); a line
    break would end the comment and start a command, so none passes (the options' validators refuse it first)."""
    key, sep, value = option.partition("=")
    line = f"#SBATCH {key}{sep}{shlex.quote(value) if sep else ''}"
    if "\n" in line or "\r" in line or "\0" in line:
        raise LaunchError(f"{key}: a value on one line only")
    return line


def render_script(req: LaunchRequest, opts: SlurmOptions, folder: Path) -> str:
    """The sbatch script, meant to be read: every choice on its own line, every value quoted. No ``--env`` value
    is in it: they reach the job through sbatch's environment (``--export=ALL``), so the script, run.json and the
    run folder hold names only."""
    opts.check()
    q = shlex.quote
    log = folder / "log.txt"
    exit_file = q(str(folder / "exit_code"))
    attempts = q(str(folder / ATTEMPTS))
    train = req.action == "train"
    requeue = opts.requeue and train
    options = [
        f"--job-name=depthnet-{req.action}",
        f"--output={log}",
        "--open-mode=append",  # a requeued or retried job adds to the same log
        f"--nodes={opts.nodes}",
        "--ntasks-per-node=1",
    ]
    if opts.gpus_per_node:
        options.append(f"--gpus-per-node={opts.gpus_per_node}")
    for key in ("partition", "account", "qos", "time"):
        value = getattr(opts, key)
        if value:
            options.append(f"--{key}={value}")
    if requeue or opts.retries:
        options.append("--requeue")  # the same job id across time-limit requeues and retries
    if requeue:
        options.append(f"--signal=B:USR1@{opts.requeue_signal_seconds}")
    lines = [
        "#!/bin/bash",
        f"# Written by depthnet-tui for run {req.run_id}: depth_net {req.action} on Slurm.",
        f"# Follow it with `depthnet attach {req.run_id}`; stop it with `depthnet stop {req.run_id}`.",
        *map(_sbatch_line, options),
        *map(_sbatch_line, opts.sbatch_args),
        "",
        "# GPUs, one model for any GPUs per node and nodes: one Slurm task per node. TAO's entrypoint in it starts",
        "# Lightning, which starts one process per GPU itself, as under Docker. The task's Slurm variables are cleared",
        "# for TAO (as NVIDIA's TAO SDK does): seeing SLURM_NTASKS, Lightning would expect one srun task per GPU and",
        "# refuse devices=G against --ntasks-per-node=1. On several nodes TAO's own variables (WORLD_SIZE = nodes,",
        "# NUM_GPU_PER_NODE, NODE_RANK, MASTER_ADDR, MASTER_PORT) say the rest.",
        "set -uo pipefail",
        "export PYTHONUNBUFFERED=1",
    ]
    if req.env:
        lines.append(
            f"# --env {', '.join(sorted(req.env))}: from sbatch's environment (--export=ALL); their values are "
            "never written here (to run this by hand: export them, then sbatch)."
        )
    if opts.container_runtime != "none":
        home = home_dir(folder)
        env = home_env(folder, req.env)
        if opts.container_runtime == "apptainer":
            env.pop("HOME", None)  # apptainer sets HOME itself: --home
        lines += [
            "# The container runs as you: its HOME and caches are in the run folder (the image's / is not yours).",
            "(umask 077 && mkdir -p "
            + " ".join(q(str(home / rel)) for rel in sorted(set(HOME_DIRS.values())) if rel)
            + ")",
        ]
        if env:
            lines.append("export " + " ".join(f"{k}={q(v)}" for k, v in env.items()))
    if opts.nodes > 1:
        lines += [
            "# Multi-node (TAO reads these; WORLD_SIZE is the number of nodes, one task per node).",
            'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
            f"export MASTER_ADDR MASTER_PORT={opts.master_port}",
            'export WORLD_SIZE="$SLURM_JOB_NUM_NODES"',
            f"export NUM_GPU_PER_NODE={opts.gpus_per_node}",
        ]
    lines += [
        "",
        f"rm -f {exit_file}  # a restarted job starts without the last attempt's exit code",
        f'echo "$(date -u +%FT%TZ) start ${{SLURM_RESTART_COUNT:-0}} $SLURM_JOB_NODELIST" >> {attempts}',
        'echo "depthnet: Slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"',
    ]
    overrides = ""
    if train:
        lines += [
            f"results={q(req.results_dir)}",
            "# A restart (time-limit requeue, retry, `depthnet resume`) resumes from TAO's newest checkpoint.",
            "resume=()",
            'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] || [ -n "${DEPTHNET_RESUME:-}" ]; then',
            f"  resume=({AUTO_RESUME})",
            '  echo "depthnet: restart ${SLURM_RESTART_COUNT:-0} of Slurm job $SLURM_JOB_ID: TAO resumes from its '
            'newest checkpoint in $results"',
            "fi",
        ]
        overrides = ' ${resume[@]+"${resume[@]}"}'
    if requeue:
        lines += [
            f"# --requeue: Slurm sends USR1 {opts.requeue_signal_seconds} s before the time limit; the job requeues "
            "itself (same job id)",
            "# when this attempt saved a checkpoint, and the next attempt resumes from it.",
            'latest() { for f in "$results"/*_latest.pth; do [ -e "$f" ] && readlink -f -- "$f"; break; done; }',
            'before="$(latest)"',
            "requeued=0",
            "signalled=0",
            "on_time_limit() {",
            "  signalled=1",
            '  if [ "$requeued" = 1 ]; then return; fi',
            '  if [ "$(latest)" = "$before" ]; then',
            '    echo "depthnet: the time limit is near and this attempt saved no new checkpoint: not requeued '
            '(it would only repeat itself)"',
            f'    echo "$(date -u +%FT%TZ) no-requeue ${{SLURM_RESTART_COUNT:-0}}" >> {attempts}',
            "    return",
            "  fi",
            "  requeued=1",
            "  # written first: the requeue ends this attempt at once",
            f'  echo "$(date -u +%FT%TZ) requeue ${{SLURM_RESTART_COUNT:-0}} time limit" >> {attempts}',
            f'  echo "depthnet: the time limit is {opts.requeue_signal_seconds} s away: requeueing Slurm job '
            '$SLURM_JOB_ID; the next attempt resumes from $(latest)"',
            '  if ! scontrol requeue "$SLURM_JOB_ID"; then',
            "    requeued=0",
            f'    echo "$(date -u +%FT%TZ) requeue-failed ${{SLURM_RESTART_COUNT:-0}}" >> {attempts}',
            '    echo "depthnet: Slurm did not requeue the job (above): this attempt runs on to its time limit"',
            "  fi",
            "}",
            "trap on_time_limit USR1",
        ]
    srun_opts, prefix = _container_prefix(req, opts, folder)
    command = [*prefix, "bash", "-c", task_wrapper(opts.nodes), "depthnet", "depth_net", req.action, "-e"]
    srun = ["srun", f"--nodes={opts.nodes}", "--ntasks-per-node=1", *srun_opts]
    parts = [shlex.join(srun[:3]), *map(q, srun[3:])]  # one option per line: the script is meant to be read
    if prefix:
        parts += [shlex.join(prefix[:-1]), q(prefix[-1])]
    parts.append(shlex.join(command[len(prefix) :]) + " " + q(req.spec_path) + overrides)
    task = " \\\n    ".join(parts)
    if requeue:
        lines += [
            task + " &",
            "task=$!",
            'wait "$task"; code=$?',
            "# USR1 interrupts `wait`: wait again for the task (or for Slurm to end this attempt after a requeue)",
            'while kill -0 "$task" 2>/dev/null; do wait "$task"; code=$?; done',
            'if [ "$requeued" = 1 ]; then exit 0; fi  # requeued: no exit code, the next attempt writes it',
        ]
    else:
        lines += [task, "code=$?"]
    lines += [
        f'echo "$code" > {exit_file}.tmp && mv {exit_file}.tmp {exit_file}',
        'exit "$code"',
        "",
    ]
    return "\n".join(lines)


def _run(
    argv: list[str], timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env
        )
    except FileNotFoundError:
        raise LaunchError(
            f"{argv[0]} is not on PATH: run on a Slurm login node (or load the slurm module)"
        ) from None
    except subprocess.TimeoutExpired:
        raise LaunchError(
            f"{argv[0]} did not answer in {timeout:.0f} s: is slurmctld up? (`sinfo` tells)"
        ) from None


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol show job -o`` prints Key=Value pairs on one line (values may hold spaces only in known keys)."""
    out: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep:
            out[key] = value
    return out


def _exit_pair(value: str | None) -> tuple[int | None, int | None]:
    if not value or ":" not in value:
        return None, None
    code, _, sig = value.partition(":")
    try:
        return int(code), int(sig)
    except ValueError:
        return None, None


def _attempts(folder: Path) -> list[list[str]]:
    """The job script's ``attempts.txt``, a line each: time, what (start, requeue, requeue-failed, no-requeue), restart count, …
    (a damaged line is skipped)."""
    try:
        with open(folder / ATTEMPTS, encoding="utf-8", errors="replace") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return []
    return [parts for parts in (line.split(" ", 3) for line in lines) if len(parts) >= 2]


def _requeues(entries: list[list[str]]) -> list[list[str]]:
    """The "requeue" lines Slurm acted on: one the next line says ``scontrol requeue`` refused is none."""
    return [
        parts
        for i, parts in enumerate(entries)
        if parts[1] == "requeue" and (i + 1 == len(entries) or entries[i + 1][1] != "requeue-failed")
    ]


def time_limit_requeues(folder: Path, job_id: str | None = None) -> list[Restart]:
    """The requeues a job script made at its time limit, from its ``attempts.txt``."""
    return [
        Restart(kind="requeue", at=parts[0], why="time limit", job_id=job_id)
        for parts in _requeues(_attempts(folder))
    ]


def requeue_in_flight(folder: Path) -> bool:
    """The job script asked Slurm to requeue the job and no attempt has started since: while Slurm ends the old
    attempt and holds the job (PENDING, BeginTime: the credential lifetime) the job has not ended. A requeue
    ``scontrol`` refused (``requeue-failed`` after it) is none."""
    entries = _attempts(folder)
    return bool(entries) and entries[-1][1] == "requeue"


class SlurmBackend(Backend):
    """Submit, look at, wait for and cancel one Slurm job per run."""

    name = "slurm"
    label = "slurm: a batch job on this cluster (sbatch)"
    gpus_here = False  # the job's nodes have them: no NVML memory check, no telemetry from here
    remote_files = True  # written on the compute nodes: inotify would see nothing on NFS/Lustre, so poll
    copies_spec = True  # TAO rewrites the spec in place on multi-node: the job reads its own copy

    def __init__(self, options: SlurmOptions | None = None) -> None:
        super().__init__()
        self.options = options or SlurmOptions()

    @classmethod
    def observe(cls) -> SlurmBackend:
        return cls()  # asks Slurm how the job stands; a finished job answers at once

    @classmethod
    def for_launch(cls, slurm: SlurmOptions | None = None) -> SlurmBackend:
        return cls(slurm)

    @classmethod
    def offered(cls) -> bool:
        return shutil.which("sbatch") is not None

    @classmethod
    def gpu_layout(cls, ids: list[int] | str, slurm: SlurmOptions | None) -> tuple[int, int]:
        opts = slurm or SlurmOptions()
        return opts.gpus_per_node, opts.nodes

    def describe(self, record: RunRecord) -> str:
        return f"Slurm job {record.job_id}"

    def write_script(self, req: LaunchRequest, folder: Path) -> Path:
        from specgen.spec.atomicio import write_text_atomic

        self.options.check()
        # no --env value is in it, but it names the job's folders: the owner's only, from the moment it exists
        return write_text_atomic(
            folder / "job.sbatch", render_script(req, self.options, folder), overwrite=True, mode=0o700
        )

    @staticmethod
    def submit(script: Path, env: dict[str, str]) -> str:
        """``sbatch`` the script with ``env`` added to sbatch's own environment, which ``--export=ALL`` hands to
        the job (and Slurm keeps for its requeues): the values travel in memory and Slurm's state, never in a file
        of ours. Returns the job id."""
        done = _run(["sbatch", "--parsable", "--export=ALL", str(script)], env={**os.environ, **env})
        if done.returncode != 0:
            raise LaunchError(
                f"sbatch refused the job: {done.stderr.strip() or done.stdout.strip()} (script: {script})"
            )
        job_id = done.stdout.strip().split(";")[0]
        if not job_id.isdigit() and not re.fullmatch(r"\d+(_\d+)?", job_id):
            raise LaunchError(
                f"sbatch answered {done.stdout.strip()!r} instead of a job id (script: {script})"
            )
        return job_id

    def launch(self, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None) -> RunRecord:
        """sbatch the job; the results folder is not held (the job runs elsewhere: its run record marks it)."""
        folder = run_dir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "exit_code").unlink(missing_ok=True)
        if self.options.container_runtime != "none":
            make_home(folder, req.user)  # the job makes them too; made here they are the owner's, 0700
        script = self.write_script(req, folder)
        job_id = self.submit(script, req.env)
        return RunRecord(
            run_id=req.run_id,
            backend="slurm",
            action=req.action,
            spec_path=req.spec_path,
            results_dir=req.results_dir,
            started=now(),
            job_id=job_id,
            script=str(script),
            exit_file=str(folder / "exit_code"),
            log_file=str(folder / "log.txt"),
            image=None if self.options.container_runtime == "none" else (self.options.image or req.image),
        )

    # ------------------------------------------------------------------ state

    def job_state(self, record: RunRecord) -> JobState:
        """squeue while the job is queued or running; scontrol show job after (kept MinJobAge, 300 s by default);
        sacct where accounting keeps it longer; else the exit code file our script leaves."""
        job = record.job_id or ""
        q = _run(["squeue", "-h", "-j", job, "-o", "%T|%r|%l|%N"])
        if q.returncode != 0 and "Invalid job id" not in q.stderr:
            # slurmctld restarting or unreachable: say so and look again later, never judge the job on it
            why = (q.stderr.strip().splitlines() or ["no answer"])[-1]
            return JobState(
                job_id=job, state="UNKNOWN", reason=f"Slurm does not answer ({why}); looking again"
            )
        if q.returncode == 0 and q.stdout.strip():
            state, reason, limit, nodes = (q.stdout.strip().splitlines()[0].split("|") + ["", "", ""])[:4]
            if state not in TERMINAL and state not in ("COMPLETING",):
                return JobState(
                    job_id=job,
                    state=state,
                    reason=None if reason in ("None", "") else reason,
                    time_limit=limit or None,
                    nodes=nodes or None,
                )
        s = _run(["scontrol", "show", "job", "-o", job])
        if s.returncode == 0 and "JobState=" in s.stdout:
            f = parse_scontrol(s.stdout)
            code, sig = _exit_pair(f.get("ExitCode"))
            state = f.get("JobState", "UNKNOWN")
            if state == "COMPLETING":
                state = "RUNNING"
            return JobState(
                job_id=job,
                state=state,
                reason=None if f.get("Reason") in (None, "None") else f["Reason"],
                exit_code=code,
                signal=sig,
                time_limit=f.get("TimeLimit"),
                nodes=f.get("NodeList"),
            )
        a = _run(["sacct", "-n", "-P", "-X", "-j", job, "-o", "State,ExitCode,Timelimit,NodeList"])
        if a.returncode == 0 and a.stdout.strip():
            state, exit_pair, limit, nodes = (a.stdout.strip().splitlines()[0].split("|") + ["", "", ""])[:4]
            code, sig = _exit_pair(exit_pair)
            return JobState(
                job_id=job,
                state=state.split()[0],
                exit_code=code,
                signal=sig,
                time_limit=limit or None,
                nodes=nodes or None,
            )
        code = read_exit_file(record.exit_file, -1)
        if code >= 0:
            return JobState(job_id=job, state="COMPLETED" if code == 0 else "FAILED", exit_code=code)
        return JobState(
            job_id=job,
            state="UNKNOWN",
            reason="Slurm no longer knows the job and accounting is off; it left no exit code",
        )

    def output(self, record: RunRecord, log_path: Path, ended: Callable[[], bool]) -> Iterator[bytes]:
        return tail(log_path, ended)  # sbatch --output, on the shared filesystem

    def wait(self, record: RunRecord, on_state: StateSink) -> Ending:
        """Until the job has ended (a time-limit requeue is not an end: the job goes on, same id); then a moment
        more, as a shared filesystem shows the last writes late. The requeues the job made are added to the
        record's restarts (the follower saves it with the verdict)."""
        job = self.wait_job(record, on_state)
        time.sleep(0.5)
        self.sync_restarts(record)
        ended_by = job.ending
        if record.exit_file and requeue_in_flight(Path(record.exit_file).parent):
            # requeued at its time limit, and Slurm ended the job instead of starting the next attempt
            ended_by = (
                f"Slurm ended the job ({job.state}) after its time-limit requeue, before the next attempt "
                f"began: `depthnet resume {record.run_id}` goes on from the last checkpoint"
            )
        return Ending(
            self.exit_code(job, record),
            ended_by=ended_by,
            failure=job.reason if job.ending is None and job.state == "UNKNOWN" else None,
        )

    def wait_job(
        self, record: RunRecord, on_state: Callable[[JobState], None] | None = None, poll: float = POLL
    ) -> JobState:
        """Look every ``poll`` seconds until the job has ended; ``on_state`` hears each change (PENDING with its
        reason, RUNNING, the end)."""
        last: tuple[str, str | None] | None = None
        requeue_deadline: float | None = None
        while True:
            try:
                st = self.job_state(record)
            except LaunchError as exc:  # slurmctld busy or restarting: say so, keep looking
                st = JobState(job_id=record.job_id or "", state="UNKNOWN", reason=str(exc))
            ended = st.finished or (st.state == "UNKNOWN" and st.reason and "no longer knows" in st.reason)
            if ended and record.exit_file and requeue_in_flight(Path(record.exit_file).parent):
                # the old attempt's end, seen while Slurm requeues the job: it goes on (a requeue that never
                # comes back within REQUEUE_WAIT is an end after all)
                requeue_deadline = requeue_deadline or time.monotonic() + REQUEUE_WAIT
                ended = time.monotonic() > requeue_deadline
            if on_state is not None and (st.state, st.reason) != last and not (st.finished and not ended):
                on_state(st)
                last = (st.state, st.reason)
            if ended:
                return st
            time.sleep(poll)

    @staticmethod
    def sync_restarts(record: RunRecord) -> None:
        """The time-limit requeues the job script wrote into the run folder (``attempts.txt``), in run.json's
        restarts beside the retries and resumes depthnet made."""
        if not record.exit_file:
            return
        found = time_limit_requeues(Path(record.exit_file).parent, record.job_id)
        others = [r for r in record.restarts if r.kind != "requeue"]
        record.restarts = sorted([*others, *found], key=lambda r: r.at)

    def restart(
        self, record: RunRecord, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None
    ) -> RunRecord:
        """The same job again: ``scontrol requeue`` keeps its id, its script and the environment sbatch gave it
        (the ``--env`` values included); its next attempt resumes (``SLURM_RESTART_COUNT``). A job Slurm no longer
        keeps, or one that may not be requeued, is submitted again from its script (a new job id)."""
        job = record.job_id or ""
        done = _run(["scontrol", "requeue", job]) if job else None
        if done is not None and done.returncode == 0:
            # Slurm holds a requeued job for a while (BeginTime): one that has ended may start at once
            _run(["scontrol", "update", f"JobId={job}", "StartTime=now"])
            return record
        script = Path(record.script) if record.script else run_dir / "job.sbatch"
        if not script.is_file():
            raise LaunchError(f"run {record.run_id}: its job script {script} is gone; run it again")
        (run_dir / "exit_code").unlink(missing_ok=True)
        job_id = self.submit(script, {**req.env, "DEPTHNET_RESUME": "1"})
        return record.model_copy(update={"job_id": job_id})

    def exit_code(self, st: JobState, record: RunRecord) -> int:
        """The code the verdict sees: our script's record first (it is depth_net's own), then Slurm's."""
        code = read_exit_file(record.exit_file, -1)
        if code >= 0:
            return code
        if st.state == "COMPLETED":
            return st.exit_code or 0
        if st.signal:
            return 128 + st.signal
        return st.exit_code if st.exit_code is not None and st.exit_code != 0 else 1

    def stop(self, record: RunRecord, timeout: int = 10) -> StopResult:
        """scancel, then wait (up to ``timeout`` + Slurm's KillWait) for the state it ends in."""
        st = self.job_state(record)
        if st.finished:
            raise LaunchError(
                f"run {record.run_id}: Slurm job {record.job_id} has already ended ({st.state}): nothing to stop"
            )
        done = _run(["scancel", record.job_id or ""])
        if done.returncode != 0:
            raise LaunchError(f"scancel {record.job_id} failed: {done.stderr.strip() or done.stdout.strip()}")
        deadline = time.monotonic() + timeout + 35
        st = self.job_state(record)
        while not st.finished and time.monotonic() < deadline:
            time.sleep(0.5)
            st = self.job_state(record)
        return StopResult(f": {st.words}")

    def state(self, record: RunRecord) -> str:
        """For ``depthnet runs``: RUNNING, PENDING (reason), or how it ended."""
        try:
            st = self.job_state(record)
        except LaunchError:
            return "unknown"
        return (
            f"{st.state.lower()} ({st.reason})" if st.state == "PENDING" and st.reason else st.state.lower()
        )


__all__ = ["JobState", "SlurmBackend", "SlurmOptions", "render_script", "task_wrapper", "time_limit_requeues"]
