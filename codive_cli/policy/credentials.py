"""Every credential codive knows, so that none reaches a tool, a request or the screen.

Known means: the vendor variables (ANTHROPIC_API_KEY, OPENAI_API_KEY, ...), every variable a
configured endpoint names in `api_key_env`, keys written in the configuration, the values of
MCP servers' `env` tables, and any environment variable whose name says it holds a secret
(`*KEY*`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, ... as Codex's default shell policy does).
Such variables are left out of the environment of every program codive starts for the model,
and their values are replaced with `[REDACTED]` in what codive sends or shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

VENDOR_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CODIVE_PROVIDER__API_KEY")
_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|AUTH|SESSION|COOKIE",
    re.IGNORECASE,
)
# Names that match the pattern but hold no secret, and that tools need.
_HARMLESS = frozenset({"SSH_AUTH_SOCK", "GPG_AGENT_INFO", "XDG_SESSION_TYPE", "XDG_SESSION_ID"})
MIN_SECRET = 8  # shorter values are too likely to occur by chance to be replaced


def is_credential_name(name: str) -> bool:
    return name not in _HARMLESS and (
        name in VENDOR_VARIABLES or _SECRET_NAME.search(name) is not None
    )


def credential_variables(env: Mapping[str, str], settings: Any = None) -> set[str]:
    """The names, in `env`, of variables that hold credentials."""
    names = {name for name in env if is_credential_name(name)}
    if settings is not None:
        names |= {
            table.api_key_env
            for table in settings.providers.values()
            if table.api_key_env and table.api_key_env in env
        }
    return names


def scrubbed_environment(env: Mapping[str, str], settings: Any = None) -> dict[str, str]:
    """`env` without any credential: what a tool's process gets."""
    hidden = credential_variables(env, settings)
    return {name: value for name, value in env.items() if name not in hidden}


def known_secrets(
    env: Mapping[str, str], settings: Any = None, extra: Iterable[str | None] = ()
) -> tuple[str, ...]:
    """The values to redact, longest first (so a key is replaced whole, not a prefix of it)."""
    values = {env[name] for name in credential_variables(env, settings)}
    values.update(value for value in extra if value)
    if settings is not None:
        values.update(_configured_keys(settings))
    return tuple(sorted((v for v in values if len(v) >= MIN_SECRET), key=len, reverse=True))


def _configured_keys(settings: Any) -> Iterable[str]:
    tables = [settings.provider, *settings.providers.values()]
    for table in tables:
        key = getattr(table, "api_key", None)
        if key is not None:
            yield key.get_secret_value()
        yield from _secret_values(getattr(table, "headers", {}))
    for server in settings.mcp.servers.values():
        yield from _secret_values(server.env)
        yield from _secret_values(server.headers)


def _secret_values(table: Mapping[str, str]) -> Iterable[str]:
    for name, value in table.items():
        if is_credential_name(name.replace("-", "_")):
            yield value
            yield value.split(" ", 1)[-1]  # "Bearer <token>": the token alone too


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every known secret in `text` with a marker."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET and secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text
