"""Option values are checked by codive_cli/params.py, not by Typer's pydantic adapters.

Each check is compared with Typer's own on the same inputs: what one accepts the other accepts
as the same value, and what one refuses the other refuses, except where codive is stricter on
purpose (no "nan", "inf", "1_0", non-ASCII digits, or "2.0" for a whole number).
"""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param
from typer.testing import CliRunner

from codive_cli.commands import app
from codive_cli.params import LightParam


def _commands() -> list[tuple[str, Any, Any]]:
    """(path, command, context) for every command of `codive`, groups included."""
    root = typer.main.get_command(app)
    found = []

    def walk(path: str, command: Any, parent: Any) -> None:
        ctx = command.make_context(path, [], parent=parent, resilient_parsing=True)
        found.append((path, command, ctx))
        for name in getattr(command, "commands", {}):
            walk(f"{path} {name}", command.get_command(ctx, name), ctx)

    walk("codive", root, None)
    return found


def test_every_option_is_checked_without_pydantic() -> None:
    """A new option of a kind params.py does not know would load pydantic on every run."""
    for path, command, ctx in _commands():
        for param in command.get_params(ctx):
            if param.type_descriptor.annotation is bool:
                continue
            assert isinstance(param._runtime_param, LightParam), f"{path} {param.name}"


def _pairs() -> list[tuple[str, Any, Any]]:
    pairs = []
    for path, command, ctx in _commands():
        for param in command.get_params(ctx):
            if isinstance(param._runtime_param, LightParam):
                typer_own = build_runtime_param(param.type_descriptor)
                pairs.append((f"{path} {param.name}", param, typer_own))
    return pairs


SAMPLES = [
    "1", "0", "-1", "2", "3", " 7 ", "+5", "1.5", "0.25", ".5", "1e0", "1E-1", "-0",
    "abc", "", " ", "1,5", "0x10", "full", "read-only", "ask", "accept-edits", "FULL", "json",
    "stream-json", "text", "xml", "65535", "65536", "/tmp/x", "s p a c e",
]  # fmt: skip
# Refused by codive where Typer accepts them, for options of these kinds.
NUMBERS = ("int", "float")
STRICTER = {
    "nan": NUMBERS, "inf": NUMBERS, "-inf": NUMBERS, "1_0": NUMBERS, "٣": NUMBERS, "１": NUMBERS,
    "2.0": ("int",),
}  # fmt: skip


@pytest.mark.parametrize(
    "name,param,typer_own", _pairs(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_checks_agree_with_typers_own(name: str, param: Any, typer_own: Any) -> None:
    ctx = typer.Context(typer.main.get_command(app))
    for sample in SAMPLES:
        ours, theirs = (
            _outcome(param._runtime_param, param, ctx, sample),
            _outcome(typer_own, param, ctx, sample),
        )
        assert ours == theirs, f"{name} {sample!r}: codive {ours}, Typer {theirs}"


@pytest.mark.parametrize(
    "name,param,typer_own", _pairs(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_stricter_than_typer_only_on_numbers_python_reads_loosely(
    name: str, param: Any, typer_own: Any
) -> None:
    ctx = typer.Context(typer.main.get_command(app))
    kind = param._runtime_param.kind
    for sample, kinds in STRICTER.items():
        ours = _outcome(param._runtime_param, param, ctx, sample)
        if kind in kinds:
            assert ours == ("refused",), f"{name} {sample!r}"
        else:
            assert ours == _outcome(typer_own, param, ctx, sample), f"{name} {sample!r}"


def _outcome(runtime: Any, param: Any, ctx: Any, value: str) -> tuple[Any, ...]:
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter:
        return ("refused",)
    return ("accepted", type(result).__name__, result)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--max-steps", "0"], "Invalid value for '--max-steps': 0 is not in the range x>=1."),
        (["--max-steps", "abc"], "'abc' is not a valid integer."),
        (["--temperature", "3"], "3.0 is not in the range 0<=x<=2."),
        (["--temperature", "nan"], "'nan' is not a valid float."),
        (
            ["--permission-mode", "bad"],
            "'bad' is not one of 'read-only', 'ask', 'accept-edits', 'full'.",
        ),
        (["--output-format", "xml"], "'xml' is not one of 'text', 'json', 'stream-json'."),
        (["--max-steps", "\x1b[2J"], r"'\x1b[2J' is not a valid integer."),
    ],
)
def test_a_bad_value_is_a_usage_error_that_names_it(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["complete", *args, "hi"])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output
    assert "\x1b" not in result.output  # a control code is shown escaped, never sent
