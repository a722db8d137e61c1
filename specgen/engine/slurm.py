"""The Slurm backend: a readable sbatch script in the run folder, ``sbatch --parsable``, the job's state from
``squeue`` / ``scontrol show job`` / ``sacct``, ``scancel`` to stop.

The job's console goes to ``log.txt`` in the run folder and TAO's status.json to the results folder: both must lie
on a filesystem the compute nodes share with this machine (home and project folders usually are). They are
followed by offset polling, never inotify, which does not see writes made on another node over NFS or Lustre.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from specgen.engine.backend import Backend, Ending, StateSink, StopResult, read_exit_file, tail
from specgen.engine.events import TERMINAL, JobState
from specgen.engine.records import LaunchError, LaunchRequest, RunRecord, SlurmOptions, now
from specgen.spec.docker_cmd import default_image, mounts

#: Seconds between two looks at the job (squeue is cheap, but a cluster has many users).
POLL = 2.0


def pyxis_image(image: str) -> str:
    """enroot's image syntax: ``nvcr.io/nvidia/tao/x:tag`` → ``nvcr.io#nvidia/tao/x:tag`` (a registry host is the
    part before the first '/' when it holds a dot, a colon or is localhost)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return f"{first}#{rest}"
    return image


def _container_prefix(req: LaunchRequest, opts: SlurmOptions, folder: Path) -> tuple[list[str], list[str]]:
    """(srun options, command prefix) for the chosen runtime; each folder mounted at its own path, the run folder
    (the job's spec copy, its exit code) read-write."""
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
        return [], ["apptainer", "exec", "--nv", "--bind", binds, source]
    return [], []


def render_script(req: LaunchRequest, opts: SlurmOptions, folder: Path) -> str:
    """The sbatch script, meant to be read: every choice on its own line, paths quoted."""
    q = shlex.quote
    log = folder / "log.txt"
    exit_file = folder / "exit_code"
    lines = [
        "#!/bin/bash",
        f"# Written by depthnet-tui for run {req.run_id}: depth_net {req.action} on Slurm.",
        f"# Follow it with `depthnet attach {req.run_id}`; stop it with `depthnet stop {req.run_id}`.",
        f"#SBATCH --job-name=depthnet-{req.action}",
        f"#SBATCH --output={log}",
        "#SBATCH --open-mode=append",
        f"#SBATCH --nodes={opts.nodes}",
        "#SBATCH --ntasks-per-node=1",
    ]
    if opts.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={opts.gpus_per_node}")
    if opts.partition:
        lines.append(f"#SBATCH --partition={opts.partition}")
    if opts.account:
        lines.append(f"#SBATCH --account={opts.account}")
    if opts.time:
        lines.append(f"#SBATCH --time={opts.time}")
    lines += [f"#SBATCH {arg}" for arg in opts.sbatch_args]
    srun_opts, prefix = _container_prefix(req, opts, folder)
    lines += ["", "set -uo pipefail", "export PYTHONUNBUFFERED=1"]
    lines += [f"export {k}={q(v)}" for k, v in req.env.items()]
    if opts.nodes > 1:
        lines += [
            "# Multi-node (TAO reads these; WORLD_SIZE is the number of nodes, one task per node).",
            'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
            f"export MASTER_ADDR MASTER_PORT={opts.master_port}",
            'export WORLD_SIZE="$SLURM_JOB_NUM_NODES"',
            f"export NUM_GPU_PER_NODE={opts.gpus_per_node}",
        ]
        # NODE_RANK differs per node: set inside each task from Slurm's node id.
        inner = ["bash", "-c", 'export NODE_RANK="$SLURM_NODEID"; exec "$@"', "depthnet"]
    else:
        inner = []
    command = [*prefix, *inner, "depth_net", req.action, "-e", req.spec_path]
    srun = ["srun", f"--nodes={opts.nodes}", "--ntasks-per-node=1", *srun_opts]
    parts = [shlex.join(srun[:3]), *map(q, srun[3:])]  # one option per line: the script is meant to be read
    if prefix:
        parts += [shlex.join(prefix[:-1]), q(prefix[-1])]
    parts.append(shlex.join(command[len(prefix) :]))
    lines += [
        "",
        'echo "depthnet: Slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"',
        " \\\n    ".join(parts),
        "code=$?",
        f'echo "$code" > {q(str(exit_file))}.tmp && mv {q(str(exit_file))}.tmp {q(str(exit_file))}',
        'exit "$code"',
        "",
    ]
    return "\n".join(lines)


def _run(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
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
        # it may hold --env values (tokens): the owner's only, from the moment it exists
        return write_text_atomic(
            folder / "job.sbatch", render_script(req, self.options, folder), overwrite=True, mode=0o700
        )

    def launch(self, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None) -> RunRecord:
        """sbatch the job; the results folder is not held (the job runs elsewhere: its run record marks it)."""
        folder = run_dir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "exit_code").unlink(missing_ok=True)
        script = self.write_script(req, folder)
        done = _run(["sbatch", "--parsable", str(script)])
        if done.returncode != 0:
            raise LaunchError(
                f"sbatch refused the job: {done.stderr.strip() or done.stdout.strip()} (script: {script})"
            )
        job_id = done.stdout.strip().split(";")[0]
        if not job_id.isdigit() and not re.fullmatch(r"\d+(_\d+)?", job_id):
            raise LaunchError(
                f"sbatch answered {done.stdout.strip()!r} instead of a job id (script: {script})"
            )
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
        """Until the job has ended; then a moment more, as a shared filesystem shows the last writes late."""
        job = self.wait_job(record, on_state)
        time.sleep(0.5)
        return Ending(
            self.exit_code(job, record),
            ended_by=job.ending,
            failure=job.reason if job.ending is None and job.state == "UNKNOWN" else None,
        )

    def wait_job(
        self, record: RunRecord, on_state: Callable[[JobState], None] | None = None, poll: float = POLL
    ) -> JobState:
        """Look every ``poll`` seconds until the job has ended; ``on_state`` hears each change (PENDING with its
        reason, RUNNING, the end)."""
        last: tuple[str, str | None] | None = None
        while True:
            try:
                st = self.job_state(record)
            except LaunchError as exc:  # slurmctld busy or restarting: say so, keep looking
                st = JobState(job_id=record.job_id or "", state="UNKNOWN", reason=str(exc))
            if on_state is not None and (st.state, st.reason) != last:
                on_state(st)
            last = (st.state, st.reason)
            if st.finished or (st.state == "UNKNOWN" and st.reason and "no longer knows" in st.reason):
                return st
            time.sleep(poll)

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


__all__ = ["JobState", "SlurmBackend", "SlurmOptions", "render_script"]
