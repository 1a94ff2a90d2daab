"""The one place HTTP sessions are made: a timeout on every call, safe retries, a User-Agent.

requests has no session-wide timeout (psf/requests#3341), so :class:`Session` supplies one to every
call that does not pass its own. Retries are urllib3's, limited to methods that cannot start work
twice (GET, HEAD, PUT, DELETE, OPTIONS: ARM's PUT is create-or-replace, hence idempotent). A POST that
starts work is never retried here; callers make it idempotent first (see design notes). Connection
errors before a request was sent are retried for every method, since nothing reached the server.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__

# (connect, read) seconds. Connect is short: a service that does not accept a connection in 10 s
# is down. Read is long enough for ARM's slowest synchronous answers (listing large workspaces).
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 90.0)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = f"retrain/{__version__}"


class Session(requests.Session):
    """A :class:`requests.Session` whose calls time out unless told otherwise."""

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method if isinstance(method, str) else method.decode(),
                               url if isinstance(url, str) else url.decode(), *args, **kwargs)


def make_session(
    *,
    retries: int = 5,
    backoff_factor: float = 1.0,
    backoff_max: float = 60.0,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> Session:
    """A session with retries on 429/5xx and connection errors, honouring ``Retry-After``."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=2,
        status=retries,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=IDEMPOTENT_METHODS,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last response reaches the caller, which maps it to a message
    )
    session = Session(timeout)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
