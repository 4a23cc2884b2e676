"""HTTP to the platforms: timeouts, back-off and retry on 429, 5xx and network errors."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

log = logging.getLogger(__name__)


class PlatformError(RuntimeError):
    """The platform refused or failed; `retryable` says whether trying later may succeed."""

    def __init__(self, message: str, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class Refused(PlatformError):
    """A business refusal (nothing left to refund, an invalid code…): trying again will not help."""


@dataclass
class Retry:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 15.0  # seconds for one attempt (connect and read)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_delay * 4)
            except ValueError:
                pass
        return min(self.max_delay, self.base_delay * 2 ** attempt) * (0.5 + random.random() / 2)


def send(session: requests.Session, method: str, url: str | Callable[[], str], retry: Retry,
         replay_safe: bool = True, **kwargs) -> requests.Response:
    """One logical request: retried on 429 (honouring Retry-After), 5xx, timeouts and dropped connections.

    `url` may be a function, called for every attempt (a signed URL must not be replayed). A request that
    is not `replay_safe` (a refund without an idempotency key) is retried only on 429, which means it was
    not processed; any other failure is raised, and the caller must ask the platform what happened first.
    """
    last: str = ""
    where = ""
    for attempt in range(retry.attempts):
        target = url() if callable(url) else url
        where = target.split("?", 1)[0]  # never log query strings: they can carry signatures
        try:
            resp = session.request(method, target, timeout=retry.timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            last = type(exc).__name__
            if not replay_safe:
                raise PlatformError(f"{method} {where}: {last}; the outcome is unknown", retryable=True) from exc
            if attempt + 1 < retry.attempts:
                log.info("%s %s failed (%s); retrying", method, where, last)
                retry.sleep(retry.delay(attempt))
            continue
        if resp.status_code >= 500 and not replay_safe:
            raise PlatformError(f"{method} {where}: HTTP {resp.status_code}; the outcome is unknown",
                                retryable=True, status=resp.status_code)
        if resp.status_code == 429 or resp.status_code >= 500:
            last = f"HTTP {resp.status_code}"
            if attempt + 1 < retry.attempts:
                retry.sleep(retry.delay(attempt, resp.headers.get("Retry-After")))
            continue
        return resp
    raise PlatformError(f"{method} {where} kept failing after {retry.attempts} attempts ({last})", retryable=True)
