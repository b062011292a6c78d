"""Benchmark: streaming a long Markdown answer into a real pseudo-terminal.

Compares `MarkdownStream` (finished blocks printed once, only the tail live) with the naive
`Live(Markdown(text_so_far))` updated on every delta, both at 12 refreshes per second, on a
deterministic ~80,000-character answer cut into ~20,000 token-sized deltas. The terminal is
drained by a `cat` child process rather than a thread, so `time.process_time()` counts only
the rendering: the feeding thread and the redraw thread (ours, or Rich's for the naive run).

    python bench/render.py                    # both renderers, naive capped at ~60 s CPU
    python bench/render.py --pace-ms 2        # also ours with 2 ms between deltas
    python bench/render.py --naive-budget 0   # ours only
    python bench/render.py --shapes-only      # only the list and table shapes

Then the shapes that used to grow per delta: a numbered list of 1,000 and of 3,000 items and a
table of 500 rows, each beside prose of the same number of characters cut the same way. Each
prints its CPU as a multiple of the prose's and its per-delta cost at the end over the start;
the targets are at most 3x the prose, at most 2x the start, and the 3,000-item list finishing.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import random
import re
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from codive_cli.ui.stream import MarkdownStream

WIDTH, HEIGHT = 100, 40
WINDOW = 1_000  # deltas in each of the first / last cost windows

PROSE = (
    "the model streams tokens while the terminal keeps up with every block it prints and "
    "a renderer that parses only the tail stays fast on long answers because finished "
    "paragraphs lists headings and code are written once to scrollback then never again"
)
WORDS = PROSE.split(" ")
IDENTS = ["value", "items", "result", "total", "index", "cache", "parser", "block", "line"]


def paragraph(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(40, 110))]
    for _ in range(rng.randint(0, 3)):
        spot = rng.randrange(len(words))
        words[spot] = rng.choice([f"`{words[spot]}()`", f"**{words[spot]}**", f"*{words[spot]}*"])
    text = " ".join(words)
    return text[0].upper() + text[1:] + ".\n\n"


def code_block(rng: random.Random) -> str:
    lines = [f"def {rng.choice(IDENTS)}_{rng.randint(1, 99)}(data: list[int]) -> int:"]
    lines.append('    """Fold the data into one number."""')
    for _ in range(rng.randint(8, 24)):
        name, other = rng.choice(IDENTS), rng.choice(IDENTS)
        lines.append(
            rng.choice([f"    {name} = {other} + {rng.randint(1, 9)}", "", f"    # {name}"])
        )
        if rng.random() < 0.2:
            lines.append(f"    for {name} in data:\n        {other} += {name} * 2")
    lines.append(f"    return {rng.choice(IDENTS)}")
    return "```python\n" + "\n".join(lines) + "\n```\n\n"


def a_list(rng: random.Random, numbered: bool) -> str:
    items = []
    for number in range(1, rng.randint(3, 9) + 1):
        marker = f"{number}." if numbered else "-"
        items.append(f"{marker} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16))))
    return "\n".join(items) + "\n\n"


def make_answer(seed: int = 0, chars: int = 80_000) -> str:
    """A deterministic answer: headings, paragraphs, lists and Python code blocks."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < chars:
        section = [f"## Section {len(parts) + 1}: {rng.choice(WORDS)} {rng.choice(WORDS)}\n\n"]
        section += [paragraph(rng) for _ in range(rng.randint(1, 3))]
        section.append(rng.choice([code_block(rng), a_list(rng, rng.random() < 0.5)]))
        section.append(paragraph(rng))
        parts.append("".join(section))
        size += len(parts[-1])
    return "".join(parts)


def split_deltas(text: str, seed: int = 0) -> list[str]:
    """Cut `text` into token-sized deltas, the way a model streams.

    A token is a whitespace run plus up to four non-space characters, so deltas split words,
    lines and fences. Most deltas are one token; one in twenty bundles 2-6 tokens, as providers
    batching a burst do.
    """
    tokens = re.findall(r"\s*\S{1,4}|\s+", text)
    rng = random.Random(seed)
    deltas: list[str] = []
    index = 0
    while index < len(tokens):
        take = 1 if rng.random() < 0.95 else rng.randint(2, 6)
        deltas.append("".join(tokens[index : index + take]))
        index += take
    assert "".join(deltas) == text
    return deltas


@contextmanager
def pseudo_terminal() -> Iterator[Console]:
    """A Console on a pty's slave end; a `cat` child drains the master end."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    drain = subprocess.Popen(
        ["cat"], stdin=master, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    out: IO[str] = os.fdopen(slave, "w", encoding="utf-8")
    try:
        yield Console(file=out, force_terminal=True, width=WIDTH, height=HEIGHT)
    finally:
        out.close()
        drain.wait(timeout=30)
        os.close(master)


@dataclass
class Run:
    """What one renderer cost: CPU seconds in total and per delta in each window."""

    name: str
    fed: int  # deltas fed; fewer than all when the run hit its CPU budget
    total: float
    first: float
    last: float
    chars: tuple[int, int]  # answer length at the middle of the first and last windows


STEP = 100  # deltas between CPU-time marks (a mark per delta would cost more than ours)


def timed(name: str, deltas: list[str], feed: Callable[[str], None], budget: float = 0.0) -> Run:
    """Feed deltas, stopping at a mark once `budget` CPU seconds are spent (0: no limit)."""
    marks = [time.process_time()]
    fed = 0
    while fed < len(deltas) and not (budget and marks[-1] - marks[0] > budget):
        for delta in deltas[fed : fed + STEP]:
            feed(delta)
        fed = min(len(deltas), fed + STEP)
        marks.append(time.process_time())
    steps = WINDOW // STEP
    first = (marks[steps] - marks[0]) / WINDOW
    last = (marks[-1] - marks[-1 - steps]) / WINDOW
    middles = (WINDOW // 2, fed - WINDOW // 2)
    chars = (len("".join(deltas[: middles[0]])), len("".join(deltas[: middles[1]])))
    return Run(name, fed, marks[-1] - marks[0], first, last, chars)


def run_ours(deltas: list[str], pace: float, budget: float = 0.0) -> Run:
    """MarkdownStream on every delta, `pace` seconds apart; finish() counts in the total."""
    with pseudo_terminal() as console:
        start = time.process_time()
        stream = MarkdownStream(console, refresh_per_second=12)

        def feed(delta: str) -> None:
            stream.feed(delta)
            if pace:
                time.sleep(pace)

        name = f"MarkdownStream, {pace * 1e3:g} ms apart" if pace else "MarkdownStream"
        run = timed(name, deltas, feed, budget)
        stream.finish()
        run.total = time.process_time() - start
        return run


def run_naive(deltas: list[str], budget: float) -> Run:
    """`live.update(Markdown(text_so_far))` on every delta, until `budget` CPU seconds."""
    with pseudo_terminal() as console:
        start = time.process_time()
        live = Live(console=console, refresh_per_second=12)
        live.start()
        text: list[str] = []

        def feed(delta: str) -> None:
            text.append(delta)
            live.update(Markdown("".join(text)))

        run = timed("naive Live(Markdown)", deltas, feed, budget)
        live.stop()
        run.total = time.process_time() - start
        return run


def extrapolate(run: Run, deltas: list[str]) -> Run:
    """Carry a capped run to the whole answer, per-delta cost linear in text length.

    The line goes through the two measured windows. It is a floor rather than a ceiling: the
    refresh thread's renders of the whole text grow too and are only partly counted per delta.
    """
    (x0, x1), y0, y1 = run.chars, run.first, run.last
    slope = (y1 - y0) / (x1 - x0) if x1 > x0 else 0.0
    lengths = list(accumulate(len(delta) for delta in deltas))
    rest = sum(y0 + slope * (n - x0) for n in lengths[run.fed :])
    last = sum(y0 + slope * (n - x0) for n in lengths[-WINDOW:]) / WINDOW
    name = f"  extrapolated to {len(deltas):,}"
    return Run(name, len(deltas), run.total + rest, run.first, last, (x0, lengths[-1]))


def report(runs: list[Run], deltas: list[str], notes: list[str]) -> None:
    answer = "".join(deltas)
    print(f"answer: {len(answer):,} characters, {len(deltas):,} deltas, pty {WIDTH}x{HEIGHT}")
    print(f"CPU = time.process_time() of this process; first/last = {WINDOW:,}-delta windows")
    head = f"{'renderer':<32} {'deltas':>7} {'CPU s':>8} {'first µs/Δ':>11} {'last µs/Δ':>10}"
    print(head + f" {'last/first':>10}")
    for run in runs:
        print(
            f"{run.name:<32} {run.fed:>7,} {run.total:>8.2f} {run.first * 1e6:>11,.0f} "
            f"{run.last * 1e6:>10,.0f} {run.last / run.first:>10.1f}"
        )
    for note in notes:
        print(note)


def numbered_list(items: int, rng: random.Random) -> str:
    lines = (
        f"{n}. " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
        for n in range(1, items + 1)
    )
    return "\n".join(lines) + "\n"


def table(rows: int, rng: random.Random) -> str:
    head = "| # | name | what it does |\n|---:|---|---|\n"
    body = (
        f"| {n} | `{rng.choice(IDENTS)}_{n}` | "
        + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))
        + " |\n"
        for n in range(1, rows + 1)
    )
    return head + "".join(body)


def prose(chars: int, rng: random.Random) -> str:
    """Paragraphs cut to exactly `chars` characters."""
    text = ""
    while len(text) < chars:
        text += paragraph(rng)
    return text[:chars]


SHAPES: list[tuple[str, Callable[[random.Random], str], bool]] = [
    ("list of 1,000 items", lambda rng: numbered_list(1_000, rng), True),
    ("table of 500 rows", lambda rng: table(500, rng), True),
    ("list of 3,000 items", lambda rng: numbered_list(3_000, rng), False),
]


def run_shapes(seed: int, budget: float) -> None:
    """Each shape and prose of its length; the verdict against the targets."""
    print(f"\nshapes, each beside prose of the same length (CPU budget {budget:g} s a run)")
    print(
        f"{'shape':<22} {'chars':>7} {'deltas':>7} {'CPU s':>7} {'prose s':>8} {'ratio':>6} "
        f"{'first µs/Δ':>11} {'last µs/Δ':>10} {'last/first':>10}  verdict"
    )
    for name, make, strict in SHAPES:
        text = make(random.Random(seed))
        deltas = split_deltas(text, seed)
        ours = run_ours(deltas, 0.0, budget)
        base = run_ours(split_deltas(prose(len(text), random.Random(seed)), seed), 0.0)
        ratio, growth = ours.total / base.total, ours.last / ours.first
        finished = ours.fed == len(deltas)
        good = finished and (not strict or (ratio <= 3 and growth <= 2))
        verdict = "ok" if good else "OVER TARGET" + ("" if finished else " (did not finish)")
        print(
            f"{name:<22} {len(text):>7,} {ours.fed:>7,} {ours.total:>7.2f} {base.total:>8.2f} "
            f"{ratio:>5.1f}x {ours.first * 1e6:>11,.0f} {ours.last * 1e6:>10,.0f} "
            f"{growth:>9.1f}x  {verdict}"
        )
    print("targets: ratio <= 3x and last/first <= 2x (list of 1,000, table of 500); the list")
    print("of 3,000 items finishing within the budget.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--naive-budget", type=float, default=60.0, help="CPU seconds; 0 skips")
    parser.add_argument("--pace-ms", type=float, default=0.0, help="also run ours, paced")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shapes-only", action="store_true", help="only lists and tables")
    parser.add_argument("--shape-budget", type=float, default=120.0, help="CPU s a shape run")
    args = parser.parse_args()
    if not args.shapes_only:
        answer_runs(args)
    run_shapes(args.seed, args.shape_budget)


def answer_runs(args: argparse.Namespace) -> None:
    """The long mixed answer: ours, paced, and the naive renderer."""
    deltas = split_deltas(make_answer(args.seed), args.seed)
    runs, notes = [run_ours(deltas, 0.0)], []
    if args.pace_ms:
        runs.append(run_ours(deltas, args.pace_ms / 1e3))
        notes.append(
            f"paced: a {args.pace_ms:g} ms sleep after each delta (not counted as CPU), so the "
            "12 Hz redraws of the tail happen all through the answer, as with a real model."
        )
    if args.naive_budget > 0:
        naive = run_naive(deltas, args.naive_budget)
        runs.append(naive)
        if naive.fed < len(deltas):
            runs.append(extrapolate(naive, deltas))
            notes.append(
                f"naive: stopped after {naive.fed:,} deltas ({naive.chars[1]:,} characters) at "
                f"the {args.naive_budget:g} s CPU budget. The extrapolated row is not measured: "
                "per-delta cost taken as linear in text length through the two measured windows."
            )
    report(runs, deltas, notes)


if __name__ == "__main__":
    main()
