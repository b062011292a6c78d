"""Which folders' codive.toml the person trusts, keyed by folder and by a hash of the file.

A repository is untrusted input: its codive.toml may tighten settings, but may not run
programs, loosen permissions or send the person's keys elsewhere until the person trusts the
folder. An edited file is a new file: it must be trusted again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from codive_cli.errors import ConfigError

# Keys an untrusted project file may not set, with why (shown in the warning).
PERMISSIVE_MODES = ("accept-edits", "full")


def store_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "trust.json"


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def restrict(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Drop what an untrusted project file may not decide; return the data and dropped keys.

    Dropped: allow rules, a permission mode above `ask`, MCP servers and a llama-server
    `server_path` (programs to start), and
    a base_url that the person's keys could be sent to ([provider], and any endpoint but a
    keyless local server).
    """
    ignored: list[str] = []
    agent = data.get("agent")
    if isinstance(agent, dict):
        if agent.get("allow"):
            agent.pop("allow")
            ignored.append("agent.allow")
        if agent.get("permission_mode") in PERMISSIVE_MODES:
            agent.pop("permission_mode")
            ignored.append("agent.permission_mode")
    if "mcp" in data:
        data.pop("mcp")
        ignored.append("mcp")
    provider = data.get("provider")
    if isinstance(provider, dict) and "base_url" in provider:
        provider.pop("base_url")
        ignored.append("provider.base_url")
    for label, table in (data.get("providers") or {}).items():
        if isinstance(table, dict) and "server_path" in table:
            table.pop("server_path")  # a program codive would start
            ignored.append(f"providers.{label}.server_path")
        if not isinstance(table, dict) or "base_url" not in table:
            continue
        kind = table.get("kind") or label
        keyless_local = kind in ("local_llm", "embedded") and not table.get("api_key_env")
        if not keyless_local:
            table.pop("base_url")
            ignored.append(f"providers.{label}.base_url")
    return data, ignored
