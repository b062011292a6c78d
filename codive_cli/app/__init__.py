"""The top layer: what each command wires together, once the CLI has parsed its flags.

Only this layer, `ui/` and `commands.py` may import Rich, Typer or prompt-toolkit; everything
below it is plain Python that a test (or another front end) can drive.
"""
