"""The shape of codive.toml: one pydantic model per table, each key with its docstring.

`docs/gen_config_reference.py` writes docs/configuration.md from these models and reads the
docstrings itself: pydantic's `use_attribute_docstrings` would parse this file's source at
every start of codive (~15 ms) for descriptions nothing at run time shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from codive_cli.policy.modes import DEFAULT_MODE, Mode


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    images: bool | None = None
    """Whether its model takes images (`@picture.png` in chat). Unset: codive's catalogue
    says for hosted models; a model it does not know (any local server's) gets none."""


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
    assumed_context_window: int = Field(32_768, ge=0)
    """Context window in tokens assumed for a model whose own is unknown (not in codive's
    catalogue, not reported by its server), so that a chat still compacts older turns, and a
    long `complete` run older steps, when the conversation nears it; 0 assumes none, and such
    a conversation is never compacted."""

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
    """The merged configuration. Build it with `loading.load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="CODIVE_",
        env_nested_delimiter="__",
        extra="ignore",  # unknown CODIVE_* variables are not ours to reject
    )
    _file_data: dict[str, Any] = {}
    _untrusted: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def layered(
        cls, file_data: dict[str, Any], untrusted: list[str], overrides: Mapping[str, Any]
    ) -> Settings:
        """`overrides` over the environment over the merged files' `file_data`; `untrusted`
        names the keys of an untrusted project file that were left out."""
        cls._file_data = file_data
        try:
            settings = cls(**overrides)
        finally:
            cls._file_data = {}
        settings._untrusted = untrusted
        return settings

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
