"""Hostile or broken configuration is a configuration error (exit 2, file, key, line), never
an internal error: bad permission rules, very deep TOML or JSON in a variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CODIVE = str(Path(sys.executable).parent / "codive")


def run(tmp_path: Path, toml: str | None, **variables: str) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True, exist_ok=True)
    if toml is not None:
        (work / "codive.toml").write_text(toml)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODIVE_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "c"), **variables)
    return subprocess.run(
        [CODIVE, "config", "show"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "rule", ["*", "bash((", "read_file(", "", "bash(git diff:*", "(x)", "1bash(x)"]
)
@pytest.mark.parametrize("key", ["allow", "deny"])
def test_a_bad_rule_names_the_file_key_and_line(tmp_path: Path, rule: str, key: str) -> None:
    result = run(tmp_path, f'# a comment\n[agent]\n{key} = ["bash(ls)", "{rule}"]\n')
    assert result.returncode == 2, result.stderr
    assert "codive.toml:3:" in result.stderr and f"agent.{key}" in result.stderr
    assert "bad permission rule" in result.stderr and "internal error" not in result.stderr


def test_a_bad_rule_in_a_variable_names_the_variable(tmp_path: Path) -> None:
    result = run(tmp_path, None, CODIVE_AGENT__DENY='["*"]')
    assert result.returncode == 2
    assert "CODIVE_AGENT__DENY" in result.stderr and "bad permission rule" in result.stderr


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deep_toml_is_a_configuration_error(tmp_path: Path, depth: int) -> None:
    result = run(tmp_path, "a = " + "[" * depth + "]" * depth + "\n")
    assert result.returncode == 2
    assert "nested too deeply" in result.stderr or "invalid TOML" in result.stderr
    assert "internal error" not in result.stderr


def test_deep_json_in_a_variable_is_a_configuration_error(tmp_path: Path) -> None:
    deep = "[" * 20_000 + "]" * 20_000
    result = run(tmp_path, None, CODIVE_AGENT__DENY=deep)
    assert result.returncode == 2
    assert "nested too deeply" in result.stderr
