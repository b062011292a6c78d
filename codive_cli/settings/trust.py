"""Which folders' codive.toml the person trusts, keyed by folder and by a hash of the file.

A repository is untrusted input: its codive.toml may tighten settings, but may not run
programs, loosen permissions or send the person's keys elsewhere until the person trusts the
folder. An edited file is a new file: it must be trusted again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codive_cli.errors import ConfigError
from codive_cli.policy.modes import PERMISSIVE_MODES


def store_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "trust.json"


def file_hash(path: Path) -> str:
    from codive_cli.policy.regular import open_regular

    with open_regular(path) as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _read(store: Path) -> dict[str, str]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigError(f"{store}: unreadable trust records: {error}") from error
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write(store: Path, records: dict[str, str]) -> None:
    store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = store.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(records, handle, indent=2, sort_keys=True)
    os.replace(temporary, store)


def is_trusted(config_file: Path, store: Path | None = None) -> bool:
    records = _read(store or store_path())
    folder = str(config_file.parent.resolve())
    return records.get(folder) == file_hash(config_file)


def trust(config_file: Path, store: Path | None = None) -> None:
    store = store or store_path()
    records = _read(store)
    records[str(config_file.parent.resolve())] = file_hash(config_file)
    _write(store, records)


def revoke(folder: Path, store: Path | None = None) -> bool:
    store = store or store_path()
    records = _read(store)
    removed = records.pop(str(folder.resolve()), None) is not None
    _write(store, records)
    return removed


# What an untrusted project file may not set on an endpoint it did not define itself: where
# requests go, with which key, and what runs or is loaded.
# (model_path: a file fed to llama.cpp's parser)
_ENDPOINT_KEYS = (
    "kind",
    "base_url",
    "api_key_env",
    "api_key",
    "headers",
    "server_path",
    "model_path",
)
_KEYLESS_KINDS = ("local_llm", "embedded")


def restrict(
    data: dict[str, Any],
    base: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Drop what an untrusted project file may not decide; return the data and dropped keys.

    Judged against what it would merge into (`base`: the person's own files; `env`: their
    CODIVE_* variables), not alone. Dropped: allow rules, a permission mode above `ask`, MCP
    servers; the choice of provider, and `[provider]`'s endpoint, key and headers; on an
    endpoint the person defined (or a built-in one), its kind, base_url, key, headers, server
    and model file; on an endpoint of its own, any key or headers, a server or model file, and
    a base_url unless it is a keyless local server on a loopback address.
    """
    ignored: list[str] = []
    _restrict_agent(data, ignored)
    if "mcp" in data:
        data.pop("mcp")
        ignored.append("mcp")
    sandbox = data.get("sandbox")
    if isinstance(sandbox, dict):
        for key in ("network", "writable"):  # loosening; `hidden` and `full` tighten
            if key in sandbox:
                sandbox.pop(key)
                ignored.append(f"sandbox.{key}")
    provider = data.get("provider")
    if isinstance(provider, dict):
        for key in ("name", "base_url", "api_key", "headers"):
            if key in provider:
                provider.pop(key)
                ignored.append(f"provider.{key}")
    known = _known_labels(base or {}, env or {})
    for label, table in (data.get("providers") or {}).items():
        if not isinstance(table, dict):
            continue
        for key in _locked_keys(label, table, known):
            table.pop(key)
            ignored.append(f"providers.{label}.{key}")
    return data, ignored


def _restrict_agent(data: dict[str, Any], ignored: list[str]) -> None:
    agent = data.get("agent")
    if not isinstance(agent, dict):
        return
    if agent.get("allow"):
        agent.pop("allow")
        ignored.append("agent.allow")
    if agent.get("permission_mode") in PERMISSIVE_MODES:
        agent.pop("permission_mode")
        ignored.append("agent.permission_mode")


def _known_labels(base: dict[str, Any], env: Mapping[str, str]) -> set[str]:
    """Endpoints the person defined (user file, environment) and the built-in names."""
    from codive_cli.providers import provider_names

    labels = {str(label).lower() for label in base.get("providers") or {}}
    labels |= {name.lower() for name in provider_names()}
    prefix = "CODIVE_PROVIDERS__"
    for name in env:
        if name.upper().startswith(prefix):
            labels.add(name[len(prefix) :].split("__", 1)[0].lower())
    return labels


def _locked_keys(label: str, table: dict[str, Any], known: set[str]) -> list[str]:
    if label.lower() in known:
        return [key for key in _ENDPOINT_KEYS if key in table]
    locked = [key for key in _ENDPOINT_KEYS if key in table and key not in ("kind", "base_url")]
    url = table.get("base_url")
    kind = table.get("kind") or label
    if url is not None and not (kind in _KEYLESS_KINDS and is_loopback_url(str(url))):
        locked.append("base_url")
    return locked


def is_loopback_url(url: str) -> bool:
    """Whether `url` names this machine by a loopback address (no DNS: a name could lie)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
