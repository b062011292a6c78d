"""Settings: defaults < user file < project file < environment < flags.

Files are `codive.toml` (see `docs/configuration.md`); the environment uses `CODIVE_` with
`__` between levels (`CODIVE_PROVIDER__MODEL`), plus the vendors' own key variables. A
project file the person has not trusted loses its risky keys (`trust.restrict`); a file that
does not fit the schema is a ConfigError naming the file, the key and the line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from codive_cli.errors import ConfigError, did_you_mean
from codive_cli.settings.schema import ConfigFile, EndpointSettings, Settings

FILE_NAME = "codive.toml"


def user_config_path() -> Path:
    from platformdirs import user_config_path as _user_config

    return _user_config("codive", appauthor=False) / FILE_NAME


def project_config_path(cwd: Path) -> Path | None:
    """The nearest codive.toml from `cwd` up to the repository root (or `/`)."""
    for folder in (cwd, *cwd.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None


def config_files(cwd: Path, env: Mapping[str, str]) -> list[Path]:
    """Files read, lowest precedence first. CODIVE_CONFIG replaces the project file."""
    files = [user_config_path()]
    explicit = env.get("CODIVE_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"CODIVE_CONFIG names {path}, which is not a file")
        files.append(path)
    else:
        project = project_config_path(cwd)
        if project:
            files.append(project)
    return [f for f in files if f.is_file()]


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse and check one file; errors name the file, the key and the line."""
    try:
        from codive_cli.policy.regular import open_regular

        with open_regular(path) as handle:  # a FIFO named codive.toml must not hang codive
            text = handle.read().decode("utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", hint="fix the file") from exc
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply", hint="fix the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        ConfigFile.model_validate(data)
    except RecursionError:
        raise ConfigError(f"{path}: a value is nested too deeply", hint="fix the file") from None
    except ValidationError as exc:
        raise ConfigError(_describe(path, text, exc), hint="see docs/configuration.md") from exc
    return data


def _describe(path: Path, text: str, exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    line = _line_of(text, loc)
    where = f"{path}:{line}" if line else str(path)
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}'" + did_you_mean(loc[-1], _keys_beside(loc))
    return f"{where}: '{key}': {error['msg']} (got {error.get('input')!r})"


def _keys_beside(loc: list[str]) -> list[str]:
    """The keys the table holding `loc[-1]` may have (tables of tables, like
    providers.<label>, are walked through their value type)."""
    annotation: Any = ConfigFile
    for part in loc[:-1]:
        if get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]  # `part` is a label
            continue
        fields = getattr(annotation, "model_fields", {})
        if part not in fields:
            return []
        annotation = fields[part].annotation
    if get_origin(annotation) is dict:
        return []
    return list(getattr(annotation, "model_fields", {}))


def _line_of(text: str, loc: list[str]) -> int | None:
    """Line of `loc[-1] =` inside the table `loc[:-1]`, or of that table's header."""
    table, name = ".".join(loc[:-1]), loc[-1]
    assignment = re.compile(rf"^\s*[\"']?{re.escape(name)}[\"']?\s*=")
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        found = header.match(line)
        if found:
            current = found.group(1).replace('"', "").replace("'", "").replace(" ", "")
            if current == ".".join(loc):
                return number  # an unknown or mistyped table
        elif current == table and assignment.match(line):
            return number
    return None


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    cwd: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> tuple[Settings, list[Path]]:
    """Read every layer and return the settings with the files they came from."""
    cwd = cwd or Path.cwd()
    files = config_files(cwd, os.environ)
    data, ignored = _read_files(files, cwd)
    settings = _build(data, ignored, overrides or {})
    _fold_label_case(settings, data)
    return settings, files


def _read_files(files: list[Path], cwd: Path) -> tuple[dict[str, Any], list[str]]:
    """The files merged, and the keys left out of an untrusted project file."""
    data: dict[str, Any] = {}
    ignored: list[str] = []
    for path in files:
        layer = read_config_file(path)
        if _is_untrusted_project_file(path, cwd):
            from codive_cli.settings.trust import restrict

            layer, ignored = restrict(layer, base=data, env=os.environ)
        data = _merge(data, layer)
    return data, ignored


def _build(data: dict[str, Any], ignored: list[str], overrides: Mapping[str, Any]) -> Settings:
    """The settings over the files; a bad variable or flag is a ConfigError naming it."""
    try:
        return Settings.layered(data, ignored, overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = "__".join(str(part) for part in error["loc"]).upper()
        raise ConfigError(
            f"CODIVE_{key}: {error['msg']}", hint="fix the environment variable or flag"
        ) from exc
    except RecursionError:
        raise ConfigError(
            "a CODIVE_* variable holds a value nested too deeply",
            hint="fix the environment variable",
        ) from None
    except SettingsError as exc:  # a list or table variable that is not JSON
        raise ConfigError(
            f"{_unparsable_variable(str(exc))}: not valid JSON for a list or table",
            hint="lists and tables take JSON, e.g. '[\"bash(git diff:*)\"]'",
        ) from exc


def _is_untrusted_project_file(path: Path, cwd: Path) -> bool:
    """The project file found from the working directory, unless the person trusted it.
    The user file and a CODIVE_CONFIG file are the person's own choice."""
    if os.environ.get("CODIVE_CONFIG") or path == user_config_path():
        return False
    from codive_cli.settings.trust import is_trusted

    return not is_trusted(path)


def _unparsable_variable(message: str) -> str:
    """Name the CODIVE_* variable(s) holding a list or table that is not JSON."""
    import json

    names = []
    for name, value in os.environ.items():
        if not name.upper().startswith("CODIVE_") or not _is_container(name):
            continue
        try:
            json.loads(value)
        except ValueError:
            names.append(name)
    return ", ".join(sorted(names)) or "a CODIVE_* variable"


def _is_container(variable: str) -> bool:
    """Whether CODIVE_A__B__C names a list or dict field of the settings."""
    parts = variable.upper().removeprefix("CODIVE_").lower().split("__")
    if len(parts) >= 3 and parts[0] == "providers":
        parts = ["providers", *parts[2:]]  # drop the label: the rest is an endpoint key
    model: Any = Settings
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if part == "providers" and depth < len(parts) - 1:
            model = EndpointSettings
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return getattr(annotation, "__origin__", None) in (list, dict)
    return False


def _fold_label_case(settings: Settings, file_data: dict[str, Any]) -> None:
    """Environment names are case-blind: CODIVE_PROVIDERS__MYGROQ__* lands in a `mygroq`
    entry. Merge such entries into the file's `[providers.MyGroq]`."""
    labels = {label.lower(): label for label in file_data.get("providers", {})}
    for label in list(settings.providers):
        canonical = labels.get(label.lower(), label)
        if canonical == label or canonical not in settings.providers:
            continue
        from_env = settings.providers.pop(label)
        target = settings.providers[canonical]
        for key in from_env.model_fields_set:
            setattr(target, key, getattr(from_env, key))
