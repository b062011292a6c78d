"""Errors a person can act on, each with a hint of what to do next.

CodiveError                   exit status 1 unless it says otherwise
├── ConfigError               exit 2: bad file, unknown provider, missing key
└── ProviderError             raised at the HTTP boundary, nowhere else
    ├── NetworkError          connection refused, reset, DNS, timeouts
    │   └── StreamCutOff      the stream ended before its terminal event
    ├── ApiError              any other non-success status (`status`)
    │   ├── RateLimited       429 (`retry_after` seconds when the server said)
    │   │   └── QuotaExceeded billing or quota exhausted: retrying will not help
    │   └── Overloaded        529 / overloaded_error / 503 from a loading server
    ├── AuthError             401, 403
    ├── ParseError            a body or event that is not what the protocol says
    ├── ModelNotFound         the model name is unknown to the provider
    └── ContextTooLong        the prompt does not fit (`max`, `actual` when known)

Terminated (a BaseException, like KeyboardInterrupt) is no error: SIGTERM or SIGHUP asked
codive to stop, and it exits with 128 + the signal's number once it has cleaned up.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable


class CodiveError(Exception):
    """Base of all errors codive reports as one line plus a hint."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(CodiveError):
    """A configuration or usage problem: the person must change a file, a flag or the env."""

    exit_code = 2


class ProviderError(CodiveError):
    """A failure talking to a model provider.

    `retryable` tells the retry loop whether to try again; `retry_after` is the wait the
    server asked for, in seconds, when it said.
    """

    retryable = False
    retry_after: float | None = None


class NetworkError(ProviderError):
    retryable = True


class StreamCutOff(NetworkError):
    pass


class ApiError(ProviderError):
    def __init__(self, message: str, *, status: int | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retryable = status in (408, 409, 429) or (status is not None and status >= 500)


class RateLimited(ApiError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int = 429, hint: str = ""
    ) -> None:
        super().__init__(message, status=status, hint=hint)
        self.retry_after = retry_after


class QuotaExceeded(RateLimited):
    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.retryable = False


class Overloaded(ApiError):
    pass


class AuthError(ProviderError):
    def __init__(self, message: str, *, status: int | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ParseError(ProviderError):
    pass


class ModelNotFound(ProviderError):
    def __init__(self, model: str, *, message: str = "", hint: str = "") -> None:
        super().__init__(message or f"model {model!r} not found", hint=hint)
        self.model = model


class ContextTooLong(ProviderError):
    def __init__(
        self, message: str, *, max: int | None = None, actual: int | None = None, hint: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.max = max
        self.actual = actual


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; raised once the command has stopped what it started."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"terminated ({self.name})")


class ToolError(Exception):
    """A tool's failure, reported to the model as an error result (never a traceback). The
    workspace guard and the policy raise it too. Not a CodiveError: it never ends codive."""


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for a near miss among `known` (a typo), else ""."""
    import difflib

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""
