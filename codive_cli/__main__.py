"""`python -m codive_cli`: the same as the `codive` command (the Makefile uses it)."""

from codive_cli.cli import main

main()
