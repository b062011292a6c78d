"""The provider registry: built-ins by name, third-party ones by entry point.

A package adds a provider by declaring, in its pyproject.toml::

    [project.entry-points."codive.providers"]
    my_llm = "my_package.module:MyProvider"

where `MyProvider` subclasses `codive_cli.provider.Provider` and takes a `ProviderConfig`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from codive_cli.errors import ConfigError, did_you_mean
from codive_cli.provider import Provider, ProviderConfig
from codive_cli.providers.text_tools import TextToolsProvider

ENTRY_POINT_GROUP = "codive.providers"

BUILTIN: dict[str, str] = {
    "anthropic": "codive_cli.providers.anthropic:AnthropicProvider",
    "openai": "codive_cli.providers.openai:OpenAIProvider",
    "local_llm": "codive_cli.providers.local_llm:LocalLlmProvider",
    "embedded": "codive_cli.providers.embedded:EmbeddedProvider",
}


def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def provider_names() -> list[str]:
    """Every registered provider: built-ins first, then plugins."""
    return list(BUILTIN) + sorted(name for name in _plugins() if name not in BUILTIN)


def provider_class(name: str) -> type[Provider]:
    """The class registered under `name`; an unknown name is a configuration error."""
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        plugin = _plugins().get(name)
        if plugin is None:
            known = provider_names()
            raise ConfigError(
                f"unknown provider {name!r}" + did_you_mean(name, known),
                hint="known providers: " + ", ".join(known),
            )
        try:
            cls = plugin.load()
        except Exception as exc:  # a broken plugin must not take codive down with it
            raise ConfigError(f"provider plugin {name!r} failed to load: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"provider {name!r} does not subclass codive_cli.provider.Provider")
    return cls


def create_provider(config: ProviderConfig, **kwargs: Any) -> Provider:
    """Build the provider `config.name` names. Built-ins accept `client=` for tests.

    An endpoint with `tool_format = "text"` gets it wrapped in `TextToolsProvider`, which
    writes tool calls as text on the wire; above it the conversation stays native.
    """
    provider = provider_class(config.name)(config, **kwargs)
    if config.options.get("tool_format") == "text":
        return TextToolsProvider(provider)
    return provider
