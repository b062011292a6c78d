"""The shape of the code, checked: imports point one way, and modules and functions stay small.

docs/architecture.md draws the layers; this is the rule it states. Every `import` counts,
including those inside functions (codive imports lazily for start-up time, and a lazy import
is still a dependency).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "codive_cli"

# Lowest first. A module may import its own layer's modules and any lower layer's.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("codive_cli", "codive_cli.provider", "codive_cli.errors", "codive_cli.tool"),
    ("codive_cli.policy",),
    ("codive_cli.providers",),
    ("codive_cli.settings",),
    ("codive_cli.tools",),
    ("codive_cli.agent",),
    ("codive_cli.conversation",),
    ("codive_cli.ui",),
    ("codive_cli.app",),
    ("codive_cli.cli", "codive_cli.commands", "codive_cli.params", "codive_cli.__main__"),
)
FRONT_END = ("rich", "typer", "click", "prompt_toolkit")
FIRST_FRONT_END_LAYER = 7  # ui/, app/ and the CLI may draw on a terminal; nothing below may


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return rank


def imports_of(path: Path, here: str) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative ones resolved."""
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            found.append((node.lineno, base))
            if base.startswith("codive_cli"):  # `from codive_cli.x import y` may be a module
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return sorted(set(found))


def violations(path: Path, here: str) -> list[str]:
    """Imports of `path` (module `here`) that point up the layers or draw on a terminal."""
    rank = layer_of(here)
    wrong = []
    for line, target in imports_of(path, here):
        draws = target.split(".")[0] in FRONT_END and rank < FIRST_FRONT_END_LAYER
        if draws or (_is_module(target) and layer_of(target) > rank):
            wrong.append(f"{here}:{line} imports {target}")
    return wrong


def _is_module(target: str) -> bool:
    """A codive module (`from codive_cli.x import Name` also yields `codive_cli.x.Name`)."""
    return target.startswith("codive_cli.") and not target.rsplit(".", 1)[-1][:1].isupper()


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_imports_point_down_the_layers() -> None:
    wrong = [problem for path in sources() for problem in violations(path, module_name(path))]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text(
        "def f():\n    from rich.console import Console\n"
        "    from codive_cli.ui import safe\n    return Console, safe\n"
    )
    assert violations(module, "codive_cli.agent.lazy") == [
        "codive_cli.agent.lazy:2 imports rich.console",
        "codive_cli.agent.lazy:3 imports codive_cli.ui",
        "codive_cli.agent.lazy:3 imports codive_cli.ui.safe",
    ]


def nearest_rank(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def function_lengths() -> dict[str, int]:
    lengths = {}
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"
                lengths[name] = (node.end_lineno or node.lineno) - node.lineno + 1
    return lengths


def test_modules_are_small_and_few_at_the_top() -> None:
    lines = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in sources()}
    assert nearest_rank(list(lines.values()), 0.9) < 400
    assert [str(p) for p, n in lines.items() if n > 500] == []
    assert len(list(PACKAGE.glob("*.py"))) <= 8


def test_functions_are_short() -> None:
    lengths = function_lengths()
    assert nearest_rank(list(lengths.values()), 0.9) <= 24
    assert {name: n for name, n in lengths.items() if n > 60} == {}


@pytest.mark.parametrize("module", ["codive_cli.provider", "codive_cli.errors"])
def test_the_plugin_api_imports_nothing_above_it(module: str) -> None:
    path = PACKAGE / (module.split(".")[1] + ".py")
    found = imports_of(path, module)
    targets = {target for _, target in found if target.startswith("codive_cli.")}
    assert {layer_of(t) for t in targets if _is_module(t)} <= {0}
