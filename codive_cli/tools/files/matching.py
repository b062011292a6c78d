"""Finding the text an edit replaces: exact first, then whitespace-tolerant when unambiguous.

Pure text functions for `edit_file`: re-indenting a replacement into the file's own style,
and when nothing matches, the closest region with line numbers so the model can retry.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from codive_cli.tools.base import ToolError, truncate

MAX_LINE_CHARS = 2000  # longer lines are cut when shown
# Where one replacement sits, in characters: old_start, old_end in the old text, new_start,
# new_end in the new one (the text before and after it is the same in both).
Span = tuple[int, int, int, int]
TAB_WIDTH = 4  # for comparing indentation written with tabs against spaces


def numbered(lines: Sequence[str], first: int) -> str:
    """Lines with their numbers, as read_file shows them."""
    return "\n".join(f"{number:>6}\t{line}" for number, line in enumerate(lines, first))


def _key(line: str) -> str:
    """A line with indentation, trailing whitespace and runs of spaces ignored."""
    return " ".join(line.split())


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _width(indent: str) -> int:
    column = 0
    for char in indent:
        column = (column // TAB_WIDTH + 1) * TAB_WIDTH if char == "\t" else column + 1
    return column


def _common_step(widths: Sequence[int], default: int) -> int:
    """The most common positive change of indentation between consecutive lines."""
    steps = Counter(b - a for a, b in itertools.pairwise(widths) if b > a)
    return steps.most_common(1)[0][0] if steps else default


def _file_unit(lines: Sequence[str]) -> str:
    tabs = sum(1 for line in lines if line.startswith("\t"))
    spaces = sum(1 for line in lines if line.startswith(" ") and line.strip())
    if tabs > spaces:
        return "\t"
    widths = [len(_indent(line)) for line in lines if line.strip()]
    return " " * _common_step(widths, 4)


class _Reindent(Exception):
    pass


def _reindent(
    old_lines: Sequence[str],
    region: Sequence[str],
    new_lines: Sequence[str],
    file_lines: Sequence[str],
) -> list[str]:
    """new_lines with their indentation moved from old_string's to the region's.

    The indentation of each non-blank line of old_string pairs with that of the file line it
    matched; the pairs must tell one consistent story (deeper in old_string is deeper in the
    file), or `_Reindent` is raised. A new line indented like some old line gets that line's
    real indentation; any other gets the first line's real indentation plus the same number
    of levels, in the file's own indent unit (tabs where the region uses tabs)."""
    pairs = [(_indent(o), _indent(r)) for o, r in zip(old_lines, region, strict=True) if o.strip()]
    if not pairs or all(o == r for o, r in pairs):
        return list(new_lines)
    mapping = _indent_mapping(pairs)
    base_width, base_real = _width(pairs[0][0]), pairs[0][1]
    model_widths = [_width(_indent(line)) for line in [*old_lines, *new_lines] if line.strip()]
    model_unit = _common_step(model_widths, 4)
    unit = _real_unit(base_real, [real for _, real in sorted(mapping.items())], file_lines)
    result: list[str] = []
    for line in new_lines:
        if not line.strip():
            result.append("")
            continue
        width = _width(_indent(line))
        body = line.lstrip(" \t")
        if width in mapping:
            result.append(mapping[width] + body)
            continue
        delta = width - base_width
        if delta >= 0:
            levels, rest = divmod(delta, model_unit)
            result.append(base_real + unit * levels + " " * rest + body)
        else:
            levels = -(delta // model_unit)  # ceil(-delta / unit)
            real_levels = _width(base_real) // max(1, _width(unit))
            result.append(unit * max(0, real_levels - levels) + body)
    return result


def _indent_mapping(pairs: Sequence[tuple[str, str]]) -> dict[int, str]:
    """old_string's indentation widths to the file's real indentation; `_Reindent` unless
    one width always maps to one indentation, and deeper to deeper."""
    mapping: dict[int, str] = {}
    for old_indent, real in pairs:
        width = _width(old_indent)
        if width in mapping and mapping[width] != real:
            raise _Reindent
        mapping[width] = real
    real_widths = [_width(real) for _, real in sorted(mapping.items())]
    if any(b <= a for a, b in itertools.pairwise(real_widths)):
        raise _Reindent
    return mapping


def _real_unit(base_real: str, reals: Sequence[str], file_lines: Sequence[str]) -> str:
    """One level of indentation in the region (`reals`, shallow to deep), else the file's."""
    if "\t" in base_real:
        unit = "\t"
    elif base_real:
        unit = " " * _common_step([_width(r) for r in reals], 0) or _file_unit(file_lines)
    else:
        unit = _file_unit(file_lines)
    if unit.strip(" ") == "" and "\t" in "".join(reals):
        unit = "\t"
    return unit


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _occurrences(text: str, needle: str) -> list[int]:
    found: list[int] = []
    start = 0
    while (index := text.find(needle, start)) != -1:
        found.append(index)
        start = index + max(1, len(needle))
    return found


def _split_old(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


_WORD = re.compile(r"\w+")


def _closest_region(file_lines: Sequence[str], old_lines: Sequence[str]) -> tuple[int, float]:
    """The start (0-based) of the window of len(old_lines) file lines most like old_lines,
    and its similarity (0..1)."""
    size = max(1, len(old_lines))
    if not file_lines:
        return 0, 0.0
    size = min(size, len(file_lines))
    old_words = set(_WORD.findall("\n".join(old_lines)))
    scores = [len(set(_WORD.findall(line)) & old_words) for line in file_lines]
    window = sum(scores[:size])
    sums = [window]
    for index in range(size, len(file_lines)):
        window += scores[index] - scores[index - size]
        sums.append(window)
    candidates = sorted(range(len(sums)), key=lambda i: -sums[i])[:25]
    target = "\n".join(line.strip() for line in old_lines)
    best, best_ratio = 0, -1.0
    for start in sorted(candidates):
        text = "\n".join(line.strip() for line in file_lines[start : start + size])
        ratio = difflib.SequenceMatcher(None, text, target, autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    return best, max(best_ratio, 0.0)


def _not_found(shown: str, text: str, old: str) -> ToolError:
    file_lines = text.split("\n")
    if text.endswith("\n"):
        file_lines.pop()
    if not file_lines:
        return ToolError(f"old_string was not found: {shown} is empty. Use write_file.")
    old_lines = _split_old(old)
    start, ratio = _closest_region(file_lines, old_lines)
    size = min(max(1, len(old_lines)), len(file_lines))
    if ratio < 0.3:
        return ToolError(
            f"old_string was not found in {shown}, and no part of the file looks like it. "
            "read_file the file and copy the exact text to replace (without line-number "
            "prefixes)."
        )
    region = file_lines[start : start + size]
    shown_region = numbered([line[:MAX_LINE_CHARS] for line in region[:60]], start + 1)
    diff = list(
        difflib.unified_diff(
            list(old_lines), list(region), "old_string", f"{shown} lines", n=1, lineterm=""
        )
    )[2:]
    message = (
        f"old_string was not found in {shown} (not even ignoring whitespace). The most similar "
        f"region is lines {start + 1}-{start + size} ({ratio:.0%} similar):\n{shown_region}\n"
    )
    if diff:
        message += "Differences (- your old_string, + the file):\n" + "\n".join(diff[:40]) + "\n"
    message += "Retry with old_string copied exactly from the file (without line numbers)."
    return ToolError(truncate(message, 8000))


@dataclass
class EditOutcome:
    text: str
    first_line: int  # 1-based, of the first replaced line in the new text
    last_line: int
    count: int
    tolerant: bool
    spans: list[Span]  # each replacement, in order


def apply_edit(shown: str, text: str, old: str, new: str, replace_all: bool) -> EditOutcome:
    positions = _occurrences(text, old)
    if len(positions) == 1 or (positions and replace_all):
        first = _line_of(text, positions[0])
        updated = text.replace(old, new) if replace_all else text.replace(old, new, 1)
        last = first + new.rstrip("\n").count("\n")
        shift = len(new) - len(old)
        spans = [
            (p, p + len(old), p + i * shift, p + i * shift + len(new))
            for i, p in enumerate(positions)
        ]
        return EditOutcome(updated, first, last, len(positions), False, spans)
    if positions:
        lines = sorted({_line_of(text, p) for p in positions})
        listed = ", ".join(str(n) for n in lines[:20]) + (", ..." if len(lines) > 20 else "")
        raise ToolError(
            f"old_string occurs {len(positions)} times in {shown} (at lines {listed}). "
            "Include more surrounding lines in old_string so it matches exactly one place, "
            "or set replace_all=true to replace every occurrence."
        )
    return _tolerant_edit(shown, text, old, new)


def _tolerant_edit(shown: str, text: str, old: str, new: str) -> EditOutcome:
    old_norm = old.replace("\r\n", "\n")
    old_lines = _split_old(old_norm)
    file_lines = text.split("\n")
    start = _tolerant_start(shown, text, old_norm, old_lines)
    size = len(old_lines)
    region = file_lines[start : start + size]
    new_lines = _split_old(new.replace("\r\n", "\n")) if new else []
    cr = [line.endswith("\r") for line in region]
    stripped_region = [
        line[:-1] if ending else line for line, ending in zip(region, cr, strict=True)
    ]
    try:
        replacement = _reindent(old_lines, stripped_region, new_lines, file_lines)
    except _Reindent:
        raise ToolError(
            f"old_string matches lines {start + 1}-{start + size} of {shown} only when "
            "whitespace is ignored, and its indentation does not line up with the file's, "
            "so new_string cannot be re-indented safely. read_file those lines and copy "
            "them exactly."
        ) from None
    if cr and all(cr):
        replacement = [line + "\r" for line in replacement]
    updated = "\n".join([*file_lines[:start], *replacement, *file_lines[start + size :]])
    last = start + max(1, len(replacement))
    begin = sum(map(len, file_lines[:start])) + start  # each line's "\n" counted
    old_end = begin + sum(map(len, region)) + size - 1
    new_end = begin + sum(map(len, replacement)) + max(0, len(replacement) - 1)
    return EditOutcome(updated, start + 1, last, 1, True, [(begin, old_end, begin, new_end)])


def _tolerant_start(shown: str, text: str, old: str, old_lines: Sequence[str]) -> int:
    """The index of the one run of file lines that matches `old_lines` ignoring whitespace."""
    old_keys = [_key(line) for line in old_lines]
    if not any(old_keys):
        raise _not_found(shown, text, old)
    keys = [_key(line) for line in text.split("\n")]
    size = len(old_keys)
    starts = [
        i
        for i in range(len(keys) - size + 1)
        if keys[i] == old_keys[0] and keys[i : i + size] == old_keys
    ]
    if not starts:
        raise _not_found(shown, text, old)
    if len(starts) > 1:
        ranges = ", ".join(f"{s + 1}-{s + size}" for s in starts[:10])
        raise ToolError(
            f"old_string was not found exactly in {shown}. Ignoring whitespace it matches "
            f"{len(starts)} places (lines {ranges}), so nothing was changed: copy the exact "
            "text from the file, with enough surrounding lines to make it unique."
        )
    return starts[0]
