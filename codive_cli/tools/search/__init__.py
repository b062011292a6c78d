"""The `glob` and `grep` tools, and the .gitignore-aware file walk they share with `list_dir`.

Two backends, one interface (`backend.Backend`: `files` and `search`), give the same answers:

- ripgrep (`rg.py`), when `rg.ripgrep()` finds it: fast, run as a subprocess with no stdin,
  a timeout, and `--no-config` so a person's `RIPGREP_CONFIG_PATH` cannot change results;
- a Python walker (`walk.py`: `os.scandir`, pruning folders that `ignore.py` reads out of
  .gitignore files with `pathspec`) and Python's `re`, used when rg is missing or switched
  off: set `rg.USE_RIPGREP = False`, or `CODIVE_NO_RIPGREP=1` in the environment.

Each tool (`glob.py`, `grep.py`) picks a backend once per call with `rg.pick_backend`.

Which files count is ripgrep's rule, mirrored by the walker: hidden files are included,
`.git` is always skipped, symlinks are not followed, .gitignore files apply from the folder
that holds them down (in a git repository: from its top; outside one: from `/`), and a path
named explicitly is searched even when it is itself ignored. `.ignore`, `.rgignore`,
`.git/info/exclude` and the global git excludes are not read by either backend.

Results are ordered the way `rg --sort path` orders them (depth first, names sorted), so the
first 500 matches are the same 500 whichever backend finds them.
"""

from codive_cli.tools.search.glob import GlobTool
from codive_cli.tools.search.globbing import GlobMatcher
from codive_cli.tools.search.grep import GrepTool
from codive_cli.tools.search.ignore import IgnoreRules
from codive_cli.tools.search.rg import NO_RIPGREP_ENV, ripgrep
from codive_cli.tools.search.walk import walk_files

__all__ = [
    "NO_RIPGREP_ENV",
    "GlobMatcher",
    "GlobTool",
    "GrepTool",
    "IgnoreRules",
    "ripgrep",
    "walk_files",
]
