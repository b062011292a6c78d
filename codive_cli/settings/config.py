"""Settings: defaults < user file < project file < environment < flags.

Files are `codive.toml` (see `docs/configuration.md`); the environment uses `CODIVE_` with
`__` between levels (`CODIVE_PROVIDER__MODEL`), plus the vendors' own key variables.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from codive_cli.errors import ConfigError
from codive_cli.policy.modes import DEFAULT_MODE, Mode
from codive_cli.provider import ProviderConfig

FILE_NAME = "codive.toml"
VENDOR_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
VENDOR_URLS = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class _Endpoint(_Section):
    """Keys shared by `[provider]` and `[providers.<label>]`; unset means inherited."""

    model: str | None = None
    """Model id; unset means the provider's default."""
    base_url: str | None = None
    """Endpoint base URL, e.g. http://localhost:8080 for llama-server."""
    api_key: SecretStr | None = None
    """API key. Prefer the vendor's environment variable (ANTHROPIC_API_KEY, OPENAI_API_KEY)."""
    temperature: float | None = Field(None, ge=0, le=2)
    """Sampling temperature; unset sends none and lets the model decide."""
    max_tokens: int | None = Field(None, gt=0)
    """Most tokens one reply may have."""
    timeout: float | None = Field(None, gt=0)
    """Read timeout in seconds for a request."""
    connect_timeout: float | None = Field(None, gt=0)
    """Seconds to wait for a connection."""
    stream_idle_timeout: float | None = Field(None, gt=0)
    """Seconds a stream may stay silent before it is given up; unset means `timeout`."""
    max_retries: int | None = Field(None, ge=0, le=10)
    """Retries after connection errors, 408/409/429/5xx and overloaded errors."""


class ProviderSettings(_Endpoint):
    """`[provider]`: which provider answers, and how to reach it (the seed's keys)."""

    name: str | None = None
    """Provider to use: a registered name (anthropic, openai, local_llm, ...) or a label of a
    `[providers.<label>]` table. Unset: picked from the environment (see docs)."""
    timeout: float | None = Field(60.0, gt=0)
    """Read timeout in seconds for a request."""
    connect_timeout: float | None = Field(5.0, gt=0)
    """Seconds to wait for a connection."""
    max_retries: int | None = Field(2, ge=0, le=10)
    """Retries after connection errors, 408/409/429/5xx and overloaded errors."""


class EndpointSettings(_Endpoint):
    """`[providers.<label>]`: a named endpoint, chosen with `--provider <label>`."""

    kind: str | None = None
    """Registered provider that speaks to it (openai, anthropic, local_llm, ...); defaults
    to the label itself when that is a provider name."""
    api_key_env: str | None = None
    """Environment variable holding this endpoint's key, e.g. GROQ_API_KEY."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request."""
    model_path: str | None = None
    """embedded only: the GGUF model file llama-server loads (default: SmolLM2-135M)."""
    ctx_size: int | None = Field(None, gt=0)
    """embedded only: context size in tokens the server allocates (default 8192)."""
    threads: int | None = Field(None, gt=0)
    """embedded only: CPU threads for the server (default: llama.cpp's choice)."""
    server_path: str | None = None
    """embedded only: the llama-server binary to run (default: the one `codive setup local`
    built). A program: a project file may set it only once the folder is trusted."""
    tool_format: Literal["native", "text"] | None = None
    """How tools reach the model: "native" (the API's tool calling, default) or "text" (a
    documented text format, for models or servers without tool calling)."""


class AgentSettings(_Section):
    """`[agent]`: what the agent may do without asking."""

    permission_mode: Mode = DEFAULT_MODE
    """read-only, ask, accept-edits or full."""
    allow: list[str] = Field(default_factory=list)
    """Rules that run without asking, e.g. "bash(git diff:*)"."""
    deny: list[str] = Field(default_factory=list)
    """Rules that never run, e.g. "read_file(.env*)"."""
    max_steps: int = Field(50, gt=0)
    """Most model calls per request."""

    @field_validator("allow", "deny")
    @classmethod
    def _rules_parse(cls, rules: list[str]) -> list[str]:
        from codive_cli.policy.permissions import Rule

        for text in rules:
            Rule.parse(text)  # a ValueError names the rule and the expected form
        return rules


class McpServerSettings(_Section):
    """`[mcp.servers.<name>]`: an MCP server whose tools join the built-in ones."""

    command: str | None = None
    """Program to start for a stdio server, e.g. "npx" or "uvx"."""
    args: list[str] = Field(default_factory=list)
    """Its arguments."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for it."""
    url: str | None = None
    """Address of a streamable-HTTP server instead of a command."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers for a `url` server (e.g. Authorization)."""
    timeout: float = Field(30.0, gt=0)
    """Seconds to wait for it to start and for each call."""
    sandbox: bool = True
    """Run a stdio server in the sandbox, with the workspace-write rules of `ask` mode (no
    network unless [sandbox] network); false runs it as it is."""


class SandboxSettings(_Section):
    """`[sandbox]`: the OS sandbox commands run in (docs/security.md)."""

    network: bool = False
    """Let sandboxed commands use the network (off: no network at all)."""
    writable: list[str] = Field(default_factory=list)
    """More folders sandboxed commands may write, e.g. "~/.cache/pip"."""
    hidden: list[str] = Field(default_factory=list)
    """More files or folders sandboxed commands may not read (beside ~/.ssh, ~/.aws, ...)."""
    full: bool = False
    """Sandbox commands in full mode too."""


class McpSettings(_Section):
    """`[mcp]`: Model Context Protocol servers."""

    servers: dict[str, McpServerSettings] = Field(default_factory=dict)


class ConfigFile(_Section):
    """The shape of one `codive.toml`."""

    provider: ProviderSettings = Field(default_factory=lambda: ProviderSettings())
    providers: dict[str, EndpointSettings] = Field(default_factory=dict)
    agent: AgentSettings = Field(default_factory=lambda: AgentSettings())
    mcp: McpSettings = Field(default_factory=lambda: McpSettings())
    sandbox: SandboxSettings = Field(default_factory=lambda: SandboxSettings())


class _FileSource(PydanticBaseSettingsSource):
    """Already-validated, merged file contents as a settings source."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.data


class Settings(BaseSettings, ConfigFile):
    """The merged configuration. Build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="CODIVE_",
        env_nested_delimiter="__",
        extra="ignore",  # unknown CODIVE_* variables are not ours to reject
        use_attribute_docstrings=True,
    )
    _file_data: dict[str, Any] = {}
    _untrusted: list[str] = PrivateAttr(default_factory=list)

    @property
    def untrusted_keys(self) -> list[str]:
        """Keys of an untrusted project file that were ignored (see codive_cli.settings.trust)."""
        return self._untrusted

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls, cls._file_data)


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
        from codive_cli.tools.base import open_regular

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
        return f"{where}: unknown key '{key}'"
    return f"{where}: '{key}': {error['msg']} (got {error.get('input')!r})"


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
    data: dict[str, Any] = {}
    ignored: list[str] = []
    for path in files:
        layer = read_config_file(path)
        if _is_untrusted_project_file(path, cwd):
            from codive_cli.settings.trust import restrict

            layer, ignored = restrict(layer, base=data, env=os.environ)
        data = _merge(data, layer)
    Settings._file_data = data
    try:
        settings = Settings(**(overrides or {}))
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
    finally:
        Settings._file_data = {}
    _fold_label_case(settings, data)
    settings._untrusted = ignored
    return settings, files


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


# --- which provider answers ---------------------------------------------------------------

_NO_PROVIDER_HINT = (
    "set ANTHROPIC_API_KEY or OPENAI_API_KEY; or point at a local server with "
    "--provider local_llm --base-url http://127.0.0.1:8080; or install the local model with "
    "`codive setup local`"
)


def choose_label(settings: Settings, flag: str | None, env: Mapping[str, str]) -> str:
    """A flag or `[provider] name` wins; then a vendor key in the environment."""
    if flag or settings.provider.name:
        return flag or settings.provider.name or ""
    for kind in ("anthropic", "openai"):
        if env.get(VENDOR_KEYS[kind]):
            return kind
    from codive_cli.providers.embedded import is_available

    if is_available():
        return "embedded"
    raise ConfigError("no provider configured", hint=_NO_PROVIDER_HINT)


def resolve_provider(
    settings: Settings,
    flag: str | None = None,
    *,
    model: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ProviderConfig:
    """The `ProviderConfig` for this run: layers merged, keys looked up, flags on top."""
    from codive_cli.providers import provider_class

    env = os.environ if env is None else env
    label = choose_label(settings, flag, env)
    endpoint = settings.providers.get(label)
    kind = (endpoint.kind if endpoint else None) or label
    provider_class(kind)  # an unknown name fails here, listing the known ones
    values = _layered_values(settings, label, endpoint)
    key_env = values.pop("api_key_env", None) or VENDOR_KEYS.get(kind)
    api_key = values.pop("api_key", None)
    if api_key is None and key_env:
        api_key = env.get(key_env) or None
    if not values.get("base_url") and kind in VENDOR_URLS:
        values["base_url"] = env.get(VENDOR_URLS[kind]) or None
    if model:
        values["model"] = model
    if base_url:
        values["base_url"] = base_url
    options = {key: values.pop(key) for key in _OPTION_KEYS if key in values}
    return ProviderConfig(
        name=kind,
        label=label,
        options=options,
        chosen_by=_chosen_by(settings, flag, label),
        api_key=api_key,
        api_key_env=key_env,
        model=values.pop("model", None) or "",
        **values,
    )


_OPTION_KEYS = ("model_path", "ctx_size", "threads", "server_path", "tool_format")


def _chosen_by(settings: Settings, flag: str | None, label: str) -> str:
    if flag:
        return "flag"
    if settings.provider.name:
        return "config"
    return "environment" if label in VENDOR_KEYS else "default"


def _layered_values(
    settings: Settings, label: str, endpoint: EndpointSettings | None
) -> dict[str, Any]:
    """`[provider]` applies to the provider it names (or any, if it names none); a
    `[providers.<label>]` table goes on top. Connection knobs apply to all."""
    general = settings.provider
    keys = ["temperature", "max_tokens", "timeout", "connect_timeout", "stream_idle_timeout"]
    keys.append("max_retries")
    # [provider]'s endpoint keys belong to the provider it names; unnamed, to whichever
    # provider is chosen unless that one has its own table (a key must not follow the
    # person to an endpoint they did not mean it for).
    if general.name == label or (general.name is None and endpoint is None):
        keys += ["model", "base_url", "api_key"]
    values = {key: getattr(general, key) for key in keys}
    if endpoint is not None:
        table = endpoint.model_dump(exclude={"kind"})
        values.update({k: v for k, v in table.items() if v is not None})
    values = {k: v for k, v in values.items() if v is not None or k == "stream_idle_timeout"}
    if isinstance(values.get("api_key"), SecretStr):
        values["api_key"] = values["api_key"].get_secret_value()
    return values
