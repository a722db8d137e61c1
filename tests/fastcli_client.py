"""``python -m specgen.cli ARGS`` for the tests, started warm by ``tests/fastcli_server.py`` when one is running.

Run as ``python -I -S fastcli_client.py ARGS`` (no site, no user paths: it starts in a few ms). It hands its own
stdin/stdout/stderr, argv, environment and cwd to the server, which forks the command; it forwards the signals a
test sends (SIGINT, SIGTERM, …) to the command and ends as the command ended — the same exit code, or killed by
the same signal. With no server (``DEPTHNET_TEST_ZYGOTE`` unset or not answering), or when the server declines,
it becomes the real ``python -m specgen.cli`` (exec, same pid).
"""

import marshal
import os
import signal
import socket
import sys

FORWARDED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
)


def real() -> None:
    os.execv(sys.executable, [sys.executable, "-m", "specgen.cli", *sys.argv[1:]])


def main() -> None:
    path = os.environ.get("DEPTHNET_TEST_ZYGOTE")
    if not path:
        real()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed stdio: let a real process meet it
        ignored = [int(sig) for sig in FORWARDED if signal.getsignal(sig) == signal.SIG_IGN]
        request = marshal.dumps(
            {"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd(), "ignored": ignored}
        )
        socket.send_fds(conn, [b"R"], [0, 1, 2])
        conn.sendall(b"%010d" % len(request) + request)
    except OSError:
        conn.close()
        real()
    answers = conn.makefile("rb")
    first = answers.readline()
    if not first.startswith(b"P"):  # declined, or the server broke before the command ran
        conn.close()
        real()
    pid = int(first[1:])

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        if (
            int(sig) not in ignored
        ):  # what we ignore (a script's background job: SIGINT), the command ignores too
            signal.signal(sig, forward)
    last = answers.readline()
    if not last.startswith(b"S"):
        sys.stderr.write("fastcli: the test zygote lost the command's end\n")
        os._exit(1)
    code = os.waitstatus_to_exitcode(int(last[1:]))
    if code < 0:  # ended by a signal: so do we, as a real process would have
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


main()
