"""Checking option values without pydantic: text, whole numbers, numbers in a range, choices.

Typer 0.29 checks every value that is not a bool with a pydantic TypeAdapter, built when the
command runs: importing pydantic for it and building an adapter per option cost a one-shot
`codive complete` about 30 ms, a tenth of its run. codive's options are all of the simple kinds
below, so each gets a checker of its own through Typer's `RuntimeParam` seam; an option of any
other kind, or a Typer whose internals differ, keeps Typer's own check.

The messages follow click's: "'abc' is not a valid integer.", "0 is not in the range x>=1.",
"'bad' is not one of 'read-only', 'ask'.".
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any

from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam

_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


@dataclass(frozen=True)
class LightParam(RuntimeParam):
    """One option's check; `kind` is "text", "int", "float" or "choice"."""

    kind: str = "text"
    choices: tuple[Any, ...] = ()

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return self.check(value)
        except ValueError as error:
            raise BadParameter(str(error), ctx=ctx, param=param) from None

    def check(self, value: Any) -> Any:
        if self.kind == "choice":
            return _choice(value, self.choices)
        if not isinstance(value, str):  # a default, already of its type
            return value
        if self.kind == "int":
            return self._in_range(_integer(value))
        if self.kind == "float":
            return self._in_range(_number(value))
        return value

    def _in_range(self, number: float) -> Any:
        low, high = self.parameter_info.min, self.parameter_info.max
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"{number} is not in the range {_range(low, high)}.")
        return number


def light_param(descriptor: Any) -> LightParam | None:
    """The checker for a Typer type descriptor, or None to leave it to Typer."""
    annotation, info = descriptor.annotation, descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None or info.clamp:
        return None
    if annotation is str:
        return LightParam(parameter_info=info, annotation=annotation)
    if annotation in (int, float):
        return LightParam(parameter_info=info, annotation=annotation, kind=annotation.__name__)
    choices = _choices_of(annotation)
    if choices is None or not info.case_sensitive:
        return None
    return LightParam(parameter_info=info, annotation=annotation, kind="choice", choices=choices)


def install(params: list[Any]) -> None:
    """Give each of a command's parameters its light check, where one applies (idempotent)."""
    for param in params:
        if getattr(param, "_runtime_param", True) is not None:  # set already, or not Typer's
            continue
        try:
            light = light_param(param.type_descriptor)
        except AttributeError:  # a Typer whose internals differ: its own check stays
            continue
        if light is not None:
            param._runtime_param = light


def _choices_of(annotation: Any) -> tuple[Any, ...] | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return None


def _choice(value: Any, choices: tuple[Any, ...]) -> Any:
    for choice in choices:
        if value is choice or _shown(value) == _shown(choice):
            return choice
    listed = ", ".join(repr(_shown(choice)) for choice in choices)
    raise ValueError(f"{_shown(value)!r} is not one of {listed}.")


def _shown(value: Any) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a valid integer.")
    return int(text)


def _number(text: str) -> float:
    if not _NUMBER.fullmatch(text.strip()):  # no "nan", "inf", "1_0" or non-ASCII digits
        raise ValueError(f"{text!r} is not a valid float.")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a valid float.")
    return number


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low}<=x<={high}"
    return f"x>={low}" if low is not None else f"x<={high}"
