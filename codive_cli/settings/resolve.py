"""Which provider answers, and with what: flags over `[providers.<label>]` over `[provider]`
over the vendors' environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from codive_cli.errors import ConfigError
from codive_cli.provider import ProviderConfig
from codive_cli.settings.schema import EndpointSettings, Settings

VENDOR_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
VENDOR_URLS = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}
_OPTION_KEYS = ("model_path", "ctx_size", "threads", "server_path", "tool_format", "images")

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
    api_key, key_env = _api_key(values, kind, env)
    if not values.get("base_url") and kind in VENDOR_URLS:
        values["base_url"] = env.get(VENDOR_URLS[kind]) or None
    if model:
        values["model"] = model
    if base_url:
        values["base_url"] = base_url
    if values.get("base_url"):
        check_base_url(values["base_url"])
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


def check_base_url(url: str) -> None:
    """A base URL httpx can use: http(s), with a host; said as a configuration error."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        return
    if parts.scheme not in ("http", "https") and "://" not in url:
        raise ConfigError(
            f"base URL {url!r} has no scheme",
            hint=f"write it with one: http://{url} (a local server) or https://{url}",
        )
    raise ConfigError(
        f"base URL {url!r} is not an http:// or https:// URL with a host",
        hint="for example http://127.0.0.1:8080/v1",
    )


def _api_key(
    values: dict[str, Any], kind: str, env: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """(key, the variable it is read from), taking both out of `values`: a key set in a
    file wins over the variable."""
    key_env = values.pop("api_key_env", None) or VENDOR_KEYS.get(kind)
    api_key = values.pop("api_key", None)
    if api_key is None and key_env:
        api_key = env.get(key_env) or None
    return api_key, key_env


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
