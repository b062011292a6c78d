"""Settings: the schema of codive.toml, loading it with the environment, choosing the
provider, and which folders' configuration the person trusts.

The schema's models are built with pydantic's plugins switched off, as Typer builds its own:
looking for plugins reads every installed distribution's entry points (10-40 ms of each start
in a large environment), for plugins that have no business in codive's configuration.
"""

import os

_DISABLE = "PYDANTIC_DISABLE_PLUGINS"
_before = os.environ.get(_DISABLE)
os.environ[_DISABLE] = "1"
try:
    from codive_cli.settings import schema as _schema  # noqa: F401  (built now, without them)
finally:
    if _before is None:
        del os.environ[_DISABLE]
    else:
        os.environ[_DISABLE] = _before
