"""`redress run` stops cleanly: Ctrl-C or SIGTERM stops every child and the embedded Redis and frees the port;
a second `redress run` on a busy port says so and starts nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.pg import _free_port
from tests.support.work import healthy

REDRESS = str(Path(sys.executable).parent / "redress")
WAIT = 60  # seconds: every wait below is bounded


def _env(tmp_path) -> dict:
    env = dict(os.environ, REDRESS_INSTANCE_DIR=str(tmp_path / "instance"),
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for name in ("DATABASE_URL", "REDIS_URL", "PORT", "HOST"):  # SQLite and the embedded Redis
        env.pop(name, None)
    return env


def _until(check, what: str):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _running(pids) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def _embedded_redis(processes) -> int:
    """The pid of the redis-server the children talk to (it daemonizes, so it is no child of ours)."""
    url = next(p.environ()["REDIS_URL"] for p in processes if "worker" in p.cmdline())
    socket_file = url.removeprefix("unix://")
    return next(p.pid for p in psutil.process_iter(["cmdline"]) if socket_file in " ".join(p.info["cmdline"] or ()))


def _kill_leftovers(run: subprocess.Popen, ours: list[psutil.Process]) -> None:
    """Whatever a failed stop left behind, so that a failing test leaves no server running."""
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
    for p in ours:
        with contextlib.suppress(psutil.NoSuchProcess):  # psutil knows a pid taken by another process since
            p.kill()


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm", "hangup"])
def test_run_stops_every_child_and_the_embedded_redis_and_frees_the_port(tmp_path, stop):
    port = _free_port()
    run = subprocess.Popen([REDRESS, "run", "--port", str(port)], env=_env(tmp_path), start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ours: list[psutil.Process] = []
    try:
        _until(lambda: healthy(port), "/healthz")
        children = psutil.Process(run.pid).children(recursive=True)  # web (granian and its workers), worker, clock
        assert len(children) >= 4
        ours = [*children, psutil.Process(_embedded_redis(children))]
        if stop == "ctrl-c":
            os.killpg(run.pid, signal.SIGINT)  # what the terminal does: the whole foreground process group
        elif stop == "sigterm":
            run.send_signal(signal.SIGTERM)  # what a process manager does: the parent alone
        else:
            os.killpg(run.pid, signal.SIGHUP)  # the terminal window running `make run` was closed
        try:
            out, _ = run.communicate(timeout=WAIT)  # ends once every process holding its output is gone
        except subprocess.TimeoutExpired:
            out = "(some process still holds the output)"
        left = _running([p.pid for p in ours])
    finally:
        _kill_leftovers(run, ours)
    assert run.returncode == 0, out
    assert "Redress has stopped." in out
    assert left == []
    assert _port_is_free(port)


def test_a_second_run_on_a_busy_port_says_so_and_starts_nothing(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        before = {p.pid for p in psutil.process_iter() if p.name() == "redis-server"}
        second = subprocess.run([REDRESS, "run", "--port", str(port)], env=_env(tmp_path), capture_output=True,
                                text=True, timeout=WAIT)
    assert second.returncode == 1
    assert f"port {port} is already in use: is Redress already running?" in second.stderr
    after = {p.pid for p in psutil.process_iter() if p.name() == "redis-server"}
    assert after == before  # no embedded Redis was started (and none left behind)
    assert not (tmp_path / "instance" / "redress.db").exists()  # nor the database migrated
