"""Settings: layers and their precedence, file discovery, error messages, provider choice,
the `codive config` commands, and the generated docs/configuration.md."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import textwrap
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from codive_cli.commands import app
from codive_cli.errors import ConfigError
from codive_cli.provider import ProviderConfig
from codive_cli.settings.loading import (
    load_settings,
    project_config_path,
    read_config_file,
    user_config_path,
)
from codive_cli.settings.resolve import choose_label, resolve_provider
from codive_cli.settings.schema import AgentSettings, ConfigFile, ProviderSettings

REPO = Path(__file__).resolve().parent.parent
VENDOR_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "GROQ_API_KEY",
    "CODIVE_CONFIG",
)
SECRET = "sk-secret-value-123456"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real user file, no vendor keys, no CODIVE_* variables; returns the user file."""
    for name in [*VENDOR_VARIABLES, *(k for k in os.environ if k.startswith("CODIVE_"))]:
        monkeypatch.delenv(name, raising=False)
    config_home = tmp_path.resolve() / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    user_file = config_home / "codive" / "codive.toml"
    assert user_config_path() == user_file
    # As on a machine without the local extra (test_embedded.py covers the other case).
    monkeypatch.setattr("codive_cli.providers.embedded.is_available", lambda: False)
    # Layering is tested here with trusted files; test_trust.py covers untrusted ones.
    monkeypatch.setattr(
        "codive_cli.settings.loading._is_untrusted_project_file", lambda path, cwd: False
    )
    return user_file


@pytest.fixture
def user_file(isolated: Path) -> Path:
    return isolated


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root (it holds `.git`), made the working directory."""
    root = tmp_path.resolve() / "repo"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    assert caught.value.exit_code == 2
    return caught.value


def resolve(
    cwd: Path, flag: str | None = None, *, model: str | None = None, base_url: str | None = None
) -> ProviderConfig:
    settings, _ = load_settings(cwd)
    return resolve_provider(settings, flag, model=model, base_url=base_url)


# --- layers and precedence ------------------------------------------------------------------


def test_defaults_without_any_file(repo: Path) -> None:
    settings, files = load_settings(repo)
    assert files == []
    assert settings.provider.name is None
    assert settings.provider.model is None
    assert settings.provider.timeout == 60.0
    assert settings.provider.connect_timeout == 5.0
    assert settings.provider.max_retries == 2
    assert settings.providers == {}
    assert settings.agent.permission_mode == "ask"
    assert settings.agent.max_steps == 50
    assert settings.agent.allow == []


def test_each_layer_overrides_the_one_below(
    repo: Path, user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    write(user_file, '[provider]\nmodel = "from-user"\n')
    settings, files = load_settings(repo)
    assert files == [user_file]
    assert settings.provider.model == "from-user"

    project = write(repo / "codive.toml", '[provider]\nmodel = "from-project"\n')
    settings, files = load_settings(repo)
    assert files == [user_file, project]
    assert settings.provider.model == "from-project"

    monkeypatch.setenv("CODIVE_PROVIDER__MODEL", "from-env")
    settings, _ = load_settings(repo)
    assert settings.provider.model == "from-env"
    assert resolve_provider(settings).model == "from-env"

    assert resolve_provider(settings, model="from-flag").model == "from-flag"
    settings, _ = load_settings(repo, overrides={"provider": {"model": "from-override"}})
    assert settings.provider.model == "from-override"


def test_nested_merge_keeps_keys_upper_layers_do_not_set(
    repo: Path, user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        user_file,
        """
        [provider]
        model = "user-model"
        max_tokens = 1000
        timeout = 30

        [providers.llama]
        kind = "local_llm"
        base_url = "http://127.0.0.1:8080"

        [agent]
        deny = ["bash(rm:*)"]
        max_steps = 7
        """,
    )
    write(
        repo / "codive.toml",
        """
        [provider]
        model = "project-model"

        [providers.llama]
        model = "qwen"

        [agent]
        permission_mode = "full"
        """,
    )
    monkeypatch.setenv("CODIVE_PROVIDER__TEMPERATURE", "0.5")
    monkeypatch.setenv("CODIVE_PROVIDERS__LLAMA__TIMEOUT", "9")
    settings, _ = load_settings(repo, overrides={"agent": {"max_steps": 3}})

    assert settings.provider.model == "project-model"
    assert settings.provider.max_tokens == 1000
    assert settings.provider.timeout == 30.0
    assert settings.provider.temperature == 0.5
    assert settings.provider.connect_timeout == 5.0
    llama = settings.providers["llama"]
    assert (llama.kind, llama.base_url, llama.model, llama.timeout) == (
        "local_llm",
        "http://127.0.0.1:8080",
        "qwen",
        9.0,
    )
    assert settings.agent.deny == ["bash(rm:*)"]
    assert settings.agent.permission_mode == "full"
    assert settings.agent.max_steps == 3

    config = resolve_provider(settings, "llama", env={})
    assert config == ProviderConfig(
        name="local_llm",
        label="llama",
        model="qwen",
        base_url="http://127.0.0.1:8080",
        temperature=0.5,
        max_tokens=1000,
        timeout=9.0,
        connect_timeout=5.0,
        max_retries=2,
    )


def test_lists_are_replaced_not_appended(repo: Path, user_file: Path) -> None:
    write(user_file, '[agent]\nallow = ["bash(ls)"]\n')
    write(repo / "codive.toml", '[agent]\nallow = ["bash(pwd)"]\n')
    assert load_settings(repo)[0].agent.allow == ["bash(pwd)"]


def test_env_lists_are_json(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODIVE_AGENT__ALLOW", '["bash(git diff:*)"]')
    assert load_settings(repo)[0].agent.allow == ["bash(git diff:*)"]


def test_file_layers_do_not_leak_between_loads(repo: Path, tmp_path: Path) -> None:
    write(repo / "codive.toml", '[provider]\nmodel = "here"\n')
    assert load_settings(repo)[0].provider.model == "here"
    elsewhere = tmp_path.resolve() / "other"
    (elsewhere / ".git").mkdir(parents=True)
    assert load_settings(elsewhere)[0].provider.model is None


# --- finding the project file ---------------------------------------------------------------


def test_nearest_project_file_from_a_subfolder(repo: Path) -> None:
    root_file = write(repo / "codive.toml", '[provider]\nmodel = "root"\n')
    deep = repo / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert project_config_path(deep) == root_file
    assert load_settings(deep)[0].provider.model == "root"

    nearer = write(repo / "a" / "codive.toml", '[provider]\nmodel = "nearer"\n')
    assert project_config_path(deep) == nearer
    settings, files = load_settings(deep)
    assert files == [nearer]  # one project file, not both
    assert settings.provider.model == "nearer"


def test_no_project_file_above_the_repository_root(tmp_path: Path, repo: Path) -> None:
    write(tmp_path.resolve() / "codive.toml", '[provider]\nmodel = "outside"\n')
    sub = repo / "src"
    sub.mkdir()
    assert project_config_path(sub) is None
    assert project_config_path(repo) is None
    settings, files = load_settings(sub)
    assert files == []
    assert settings.provider.model is None


def test_a_git_file_marks_the_root_too(tmp_path: Path) -> None:
    """Worktrees and submodules have a `.git` file, not a folder."""
    write(tmp_path / "codive.toml", '[provider]\nmodel = "outside"\n')
    root = tmp_path / "worktree"
    write(root / ".git", "gitdir: /elsewhere\n")
    assert project_config_path(root) is None


def test_codive_config_names_a_file(
    repo: Path, user_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(user_file, "[provider]\nmax_tokens = 10\n")
    write(repo / "codive.toml", '[provider]\nmodel = "project"\n')
    explicit = write(tmp_path / "elsewhere" / "mine.toml", "[provider]\ntimeout = 3\n")
    monkeypatch.setenv("CODIVE_CONFIG", str(explicit))
    settings, files = load_settings(repo)
    assert files == [user_file, explicit]  # replaces the project file
    assert settings.provider.model is None
    assert settings.provider.max_tokens == 10
    assert settings.provider.timeout == 3.0


def test_codive_config_naming_a_missing_file_is_an_error(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("CODIVE_CONFIG", str(missing))
    with pytest.raises(ConfigError) as caught:
        load_settings(repo)
    assert caught.value.message == f"CODIVE_CONFIG names {missing}, which is not a file"
    assert caught.value.exit_code == 2


# --- errors name the file, the key and the line ---------------------------------------------


def test_broken_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "codive.toml", '[provider]\nmodel = "m"\nmax_tokens = \n')
    error = config_error(path)
    assert error.message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in error.message


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "codive.toml", '[provider]\nmodel = "m"\nmodle = "x"\n')
    assert (
        config_error(path).message
        == f"{path}:3: unknown key 'provider.modle'; did you mean 'model'?"
    )


def test_unknown_key_in_a_named_endpoint(tmp_path: Path) -> None:
    path = write(tmp_path / "codive.toml", '[providers.groq]\nkind = "openai"\napi_key_var = "X"\n')
    assert config_error(path).message == (
        f"{path}:3: unknown key 'providers.groq.api_key_var'; did you mean 'api_key_env'?"
    )


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "codive.toml", '[provider]\nmax_tokens = "lots"\n')
    message = config_error(path).message
    assert message.startswith(f"{path}:2: 'provider.max_tokens': ")
    assert "valid integer" in message
    assert message.endswith("(got 'lots')")


def test_value_out_of_range_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "codive.toml", "[provider]\ntemperature = 3.5\n")
    message = config_error(path).message
    assert message.startswith(f"{path}:2: 'provider.temperature': ")
    assert message.endswith("(got 3.5)")


def test_unknown_permission_mode_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "codive.toml", '[agent]\npermission_mode = "yolo"\n')
    assert config_error(path).message.startswith(f"{path}:2: 'agent.permission_mode': ")


def test_unknown_table_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "codive.toml", '[provider]\nmodel = "m"\n\n[bogus]\nx = 1\n')
    assert config_error(path).message == f"{path}:4: unknown key 'bogus'"


def test_a_bad_project_file_stops_load_settings(repo: Path) -> None:
    path = write(repo / "codive.toml", '[provider]\nmodle = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(repo)
    assert caught.value.message == f"{path}:2: unknown key 'provider.modle'; did you mean 'model'?"
    assert caught.value.exit_code == 2


def test_bad_environment_value_names_the_variable(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODIVE_PROVIDER__TIMEOUT", "abc")
    with pytest.raises(ConfigError) as caught:
        load_settings(repo)
    assert caught.value.message.startswith("CODIVE_PROVIDER__TIMEOUT: ")
    assert caught.value.exit_code == 2


def test_unknown_codive_variables_are_ignored(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODIVE_DEBUG", "1")
    monkeypatch.setenv("CODIVE_SOMETHING__ELSE", "x")
    assert load_settings(repo)[0].provider.model is None


def test_bug_line_number_of_a_key_that_also_appears_in_an_earlier_table(tmp_path: Path) -> None:
    # BUG (settings/loading.py, `_line_of`): the line is that of the first `max_tokens =` in
    # the file, whatever table it is in. Here the bad value is on line 6 (in
    # [providers.groq]) but the message says line 2 (the valid one in [provider]).
    path = write(
        tmp_path / "codive.toml",
        """
        [provider]
        max_tokens = 100

        [providers.groq]
        kind = "openai"
        max_tokens = "lots"
        """,
    )
    assert config_error(path).message.startswith(f"{path}:6: 'providers.groq.max_tokens': ")


def test_bug_non_json_list_in_the_environment_is_a_config_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BUG (settings/loading.py, `load_settings`): a list or table variable that is not JSON
    # makes pydantic-settings raise `SettingsError`, which `load_settings` does not turn into
    # a ConfigError; `codive` then reports "internal error" with exit status 1 instead of
    # naming the variable with exit status 2.
    monkeypatch.setenv("CODIVE_AGENT__ALLOW", "bash(git diff:*)")
    with pytest.raises(ConfigError) as caught:
        load_settings(repo)
    assert "CODIVE_AGENT__ALLOW" in caught.value.message
    assert caught.value.exit_code == 2


def test_bug_environment_does_not_reach_a_label_with_capitals(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BUG (settings/schema.py, `Settings`): pydantic-settings lower-cases the parts of
    # CODIVE_* names, so CODIVE_PROVIDERS__MYGROQ__MODEL lands in a new `providers.mygroq`
    # entry instead of the file's `[providers.MyGroq]`; the documented
    # CODIVE_PROVIDERS__<LABEL>__KEY variable silently does nothing for such a label.
    write(repo / "codive.toml", '[providers.MyGroq]\nkind = "openai"\nmodel = "from-file"\n')
    monkeypatch.setenv("CODIVE_PROVIDERS__MYGROQ__MODEL", "from-env")
    assert resolve(repo, "MyGroq").model == "from-env"


# --- which provider answers -----------------------------------------------------------------


def test_no_provider_configured(repo: Path) -> None:
    settings, _ = load_settings(repo)
    with pytest.raises(ConfigError) as caught:
        resolve_provider(settings)
    error = caught.value
    assert error.message == "no provider configured"
    assert error.exit_code == 2
    for way in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "--provider local_llm",
        "codive setup local",
    ):
        assert way in error.hint


def test_anthropic_key_picks_anthropic(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-oai")
    assert resolve(repo) == ProviderConfig(
        name="anthropic",
        label="anthropic",
        api_key="sk-ant",
        api_key_env="ANTHROPIC_API_KEY",
        chosen_by="environment",
    )


def test_openai_key_picks_openai(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-oai")
    assert resolve(repo) == ProviderConfig(
        name="openai",
        label="openai",
        api_key="sk-oai",
        api_key_env="OPENAI_API_KEY",
        chosen_by="environment",
    )


def test_choose_label_order(repo: Path) -> None:
    settings, _ = load_settings(repo)
    both = {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    assert choose_label(settings, None, both) == "anthropic"
    assert choose_label(settings, None, {"OPENAI_API_KEY": "o"}) == "openai"
    assert choose_label(settings, None, {"ANTHROPIC_API_KEY": "", "OPENAI_API_KEY": "o"}) == (
        "openai"
    )
    assert choose_label(settings, "local_llm", both) == "local_llm"
    named, _ = load_settings(repo, overrides={"provider": {"name": "openai"}})
    assert choose_label(named, None, both) == "openai"
    assert choose_label(named, "local_llm", both) == "local_llm"


def test_provider_name_beats_vendor_keys_and_flag_beats_name(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-oai")
    write(repo / "codive.toml", '[provider]\nname = "openai"\n')
    config = resolve(repo)
    assert (config.name, config.label, config.api_key) == ("openai", "openai", "sk-oai")
    config = resolve(repo, "anthropic")
    assert (config.name, config.label, config.api_key) == ("anthropic", "anthropic", "sk-ant")


def test_provider_name_from_the_environment(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    monkeypatch.setenv("CODIVE_PROVIDER__NAME", "local_llm")
    assert resolve(repo).name == "local_llm"


def test_unknown_provider_lists_the_known_ones(repo: Path) -> None:
    for settings_name, flag in ((None, "nope"), ("nope", None)):
        overrides = {"provider": {"name": settings_name}} if settings_name else {}
        settings, _ = load_settings(repo, overrides=overrides)
        with pytest.raises(ConfigError) as caught:
            resolve_provider(settings, flag, env={})
        assert caught.value.message == "unknown provider 'nope'"
        assert caught.value.hint.startswith("known providers: anthropic, openai, local_llm")
        assert caught.value.exit_code == 2


def test_named_endpoint_of_another_kind(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-groq")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-oai")  # must not leak into groq
    monkeypatch.setenv("OPENAI_BASE_URL", "https://openai.example")  # nor this
    write(
        repo / "codive.toml",
        """
        [providers.groq]
        kind = "openai"
        base_url = "https://api.groq.com/openai/v1"
        api_key_env = "GROQ_API_KEY"
        model = "llama-3.3-70b-versatile"
        headers = { "X-Client" = "codive" }
        """,
    )
    assert resolve(repo, "groq") == ProviderConfig(
        name="openai",
        label="groq",
        api_key="gsk-groq",
        api_key_env="GROQ_API_KEY",
        base_url="https://api.groq.com/openai/v1",
        model="llama-3.3-70b-versatile",
        headers={"X-Client": "codive"},
    )
    monkeypatch.delenv("GROQ_API_KEY")
    assert resolve(repo, "groq").api_key is None


def test_named_endpoint_selected_by_provider_name(repo: Path) -> None:
    write(
        repo / "codive.toml",
        """
        [provider]
        name = "llama"
        max_tokens = 512

        [providers.llama]
        kind = "local_llm"
        base_url = "http://127.0.0.1:8080"
        """,
    )
    config = resolve(repo)
    assert (config.name, config.label, config.base_url) == (
        "local_llm",
        "llama",
        "http://127.0.0.1:8080",
    )
    assert config.max_tokens == 512


def test_endpoint_labelled_like_a_provider_needs_no_kind(repo: Path) -> None:
    write(
        repo / "codive.toml",
        """
        [provider]
        model = "general"

        [providers.anthropic]
        model = "claude-special"
        """,
    )
    config = resolve(repo, "anthropic")
    assert (config.name, config.label, config.model) == ("anthropic", "anthropic", "claude-special")


def test_endpoint_with_an_unknown_label_and_no_kind(repo: Path) -> None:
    write(repo / "codive.toml", '[providers.mine]\nbase_url = "http://x"\n')
    with pytest.raises(ConfigError) as caught:
        resolve(repo, "mine")
    assert caught.value.message == "unknown provider 'mine'"


def test_provider_table_applies_only_to_the_provider_it_names(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-oai")
    write(
        repo / "codive.toml",
        """
        [provider]
        name = "local_llm"
        model = "local-13b"
        base_url = "http://localhost:8080"
        api_key = "local-key"
        max_tokens = 4096
        timeout = 120
        """,
    )
    local = resolve(repo)
    assert (local.name, local.model, local.base_url, local.api_key) == (
        "local_llm",
        "local-13b",
        "http://localhost:8080",
        "local-key",
    )
    other = resolve(repo, "openai")
    assert (other.name, other.model, other.base_url, other.api_key) == (
        "openai",
        "",
        None,
        "sk-oai",
    )
    # the connection keys apply to every provider
    assert (other.max_tokens, other.timeout) == (4096, 120.0)


def test_unnamed_provider_table_applies_to_the_chosen_provider(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    write(repo / "codive.toml", '[provider]\nmodel = "m"\nbase_url = "https://proxy"\n')
    config = resolve(repo)
    assert (config.name, config.model, config.base_url) == ("anthropic", "m", "https://proxy")


def test_vendor_base_url_applies_when_none_is_configured(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://anthropic.example")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://openai.example")
    assert resolve(repo).base_url == "https://anthropic.example"
    assert resolve(repo, "openai").base_url == "https://openai.example"
    assert resolve(repo, "local_llm").base_url is None
    assert resolve(repo, base_url="https://flag").base_url == "https://flag"

    write(repo / "codive.toml", '[provider]\nbase_url = "https://configured"\n')
    assert resolve(repo).base_url == "https://configured"
    assert resolve(repo, base_url="https://flag").base_url == "https://flag"


def test_configured_key_beats_the_vendor_variable(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    write(repo / "codive.toml", '[provider]\napi_key = "sk-from-file"\n')
    config = resolve(repo)
    assert (config.name, config.api_key) == ("anthropic", "sk-from-file")
    monkeypatch.setenv("CODIVE_PROVIDER__API_KEY", "sk-from-codive-env")
    assert resolve(repo).api_key == "sk-from-codive-env"


def test_api_key_is_not_in_the_repr(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    assert SECRET not in repr(resolve(repo))


# --- the config commands ---------------------------------------------------------------------

runner = CliRunner()


def test_config_show_masks_keys(repo: Path) -> None:
    project = write(repo / "codive.toml", f'[provider]\nname = "anthropic"\napi_key = "{SECRET}"\n')
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert 'api_key = "****3456"' in result.stdout
    assert f"# files read: {project}\n" in result.stdout
    assert "# provider: anthropic (kind anthropic), model (provider default)\n" in result.stdout


def test_config_show_masks_short_keys_entirely(repo: Path) -> None:
    write(repo / "codive.toml", '[provider]\napi_key = "short-123"\n')
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "short-123" not in result.output
    assert 'api_key = "****"' in result.stdout


def test_config_show_masks_keys_from_the_environment(repo: Path) -> None:
    result = runner.invoke(app, ["config", "show"], env={"CODIVE_PROVIDER__API_KEY": SECRET})
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "****3456" in result.stdout


def test_config_show_says_when_no_provider_is_configured(repo: Path) -> None:
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "# files read: none (defaults and environment)\n" in result.stdout
    assert "# provider: no provider configured\n" in result.stdout


@pytest.mark.skipif(shutil.which("codive") is None, reason="the codive script is not installed")
def test_config_show_as_a_process_masks_keys(repo: Path) -> None:
    own = write(repo / "mine.toml", f'[provider]\nname = "anthropic"\napi_key = "{SECRET}"\n')
    codive = shutil.which("codive")
    assert codive is not None
    done = subprocess.run(
        [codive, "config", "show"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CODIVE_CONFIG": str(own)},  # the person's own file
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "****3456" in done.stdout


def test_config_show_with_a_bad_file_exits_2(repo: Path) -> None:
    path = write(repo / "codive.toml", '[provider]\nmodle = "x"\n')
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: {path}:2: unknown key 'provider.modle'; did you mean 'model'?\n"
    )
    assert "hint: " in result.stderr
    assert result.stdout == ""


def test_bad_environment_value_exits_2(repo: Path) -> None:
    result = runner.invoke(app, ["config", "show"], env={"CODIVE_PROVIDER__TIMEOUT": "abc"})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: CODIVE_PROVIDER__TIMEOUT: ")


def test_config_init_writes_a_valid_file_and_will_not_overwrite(repo: Path) -> None:
    path = repo / "codive.toml"
    result = runner.invoke(app, ["config", "init"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {path}\n"
    data = read_config_file(path)
    assert data["providers"]["llama"] == {"kind": "local_llm", "base_url": "http://127.0.0.1:8080"}
    assert data["agent"] == {"permission_mode": "ask"}

    path.write_text("# mine\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "init"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path} already exists\n  hint: pass --force to overwrite it\n"
    )
    assert path.read_text(encoding="utf-8") == "# mine\n"

    result = runner.invoke(app, ["config", "init", "--force"])
    assert result.exit_code == 0, result.output
    assert read_config_file(path) == data


def test_config_init_user_writes_the_user_file(repo: Path, user_file: Path) -> None:
    result = runner.invoke(app, ["config", "init", "--user"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {user_file}\n"
    read_config_file(user_file)
    assert not (repo / "codive.toml").exists()
    assert load_settings(repo)[1] == [user_file]


def test_config_path_lists_user_and_project_files(
    repo: Path, user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["config", "path"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"user     {user_file} (absent)\nproject  {repo / 'codive.toml'} (absent)\n"
    )

    write(user_file, "[provider]\n")
    sub = repo / "src"
    sub.mkdir()
    project = write(repo / "codive.toml", "[provider]\n")
    result = runner.invoke(app, ["config", "path"])
    assert result.stdout == f"user     {user_file} (read)\nproject  {project} (read)\n"

    monkeypatch.chdir(sub)  # the project file is found from a subfolder too
    result = runner.invoke(app, ["config", "path"])
    assert result.stdout == f"user     {user_file} (read)\nproject  {project} (read)\n"


def test_config_path_shows_codive_config(repo: Path, tmp_path: Path) -> None:
    explicit = write(tmp_path / "mine.toml", "[provider]\n")
    result = runner.invoke(app, ["config", "path"], env={"CODIVE_CONFIG": str(explicit)})
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f"explicit {explicit} (CODIVE_CONFIG, replaces project)\n")


# --- the repository's example and the generated reference -----------------------------------


def test_repository_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    data = read_config_file(REPO / "codive.toml")
    assert set(data["providers"]) == {"llama", "ollama", "groq"}
    monkeypatch.setenv("GROQ_API_KEY", "gsk-groq")
    settings, files = load_settings(REPO)
    assert files == [REPO / "codive.toml"]
    config = resolve_provider(settings, "groq")
    assert (config.name, config.label, config.api_key) == ("openai", "groq", "gsk-groq")
    assert resolve_provider(settings, "llama").base_url == "http://127.0.0.1:8080"


def load_generator() -> ModuleType:
    path = REPO / "docs" / "gen_config_reference.py"
    spec = importlib.util.spec_from_file_location("gen_config_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_doc_is_current() -> None:
    generator = load_generator()
    assert generator.check(), "run `python docs/gen_config_reference.py` and commit the result"


def test_doc_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    generator = load_generator()
    stale = tmp_path / "configuration.md"
    assert not generator.check(stale)
    stale.write_text(generator.render().replace("max_steps", "max_stepz"), encoding="utf-8")
    assert not generator.check(stale)


def test_doc_mentions_every_key_and_variable() -> None:
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, model in (("PROVIDER", ProviderSettings), ("AGENT", AgentSettings)):
        for key in model.model_fields:
            assert f"`CODIVE_{section}__{key.upper()}`" in page
    assert "`CODIVE_PROVIDERS__<LABEL>__API_KEY_ENV`" in page
    for variable in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "CODIVE_CONFIG"):
        assert variable in page
    assert "~/.config/codive/codive.toml" in page


def test_doc_examples_are_valid() -> None:
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    examples = re.findall(r"```toml\n(.*?)```", page, flags=re.DOTALL)
    assert examples
    for example in examples:
        ConfigFile.model_validate(tomllib.loads(example))
