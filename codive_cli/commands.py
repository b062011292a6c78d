"""The `codive` commands and their flags (Typer): parse them, then hand off to `codive_cli.app`.

Only Typer is imported here; everything else is imported by the command that needs it, so
`codive --help` and `codive complete --help` stay fast. `cli.main` is the entry point.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup, TyperOption

from codive_cli import __version__
from codive_cli.policy.modes import Mode

try:
    from codive_cli.params import install
except ImportError:  # a Typer without the seam params.py uses (before 0.29): its checks stay

    def install(params: list[Any]) -> None:
        pass


class _Group(TyperGroup):
    """A group whose parameters, and its commands', are checked without pydantic.

    Typer checks every value that is not a bool with pydantic (~60 ms to load), so the None of
    an absent `--help` would load it for `codive complete --help`: flags not given are False
    here. The rest get codive's own checks (params.py).
    """

    def get_params(self, ctx: Any) -> list[Any]:  # typer._click types, private
        return _without_pydantic(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, TyperGroup):
            _without_pydantic(command.get_params(ctx))  # the same objects it parses with
        return command


def _without_pydantic(params: list[Any]) -> list[Any]:
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.default is None:
            param.default = False
    install(params)
    return params


app = typer.Typer(
    name="codive",
    cls=_Group,
    help='A terminal coding agent. Run `codive complete "..."` for one answer.',
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(
    help="Show, locate or create codive.toml.\n\nExamples:\n\n  codive config init\n\n"
    "  codive config show\n\n  codive config path",
    no_args_is_help=True,
    cls=_Group,
)
app.add_typer(config_app, name="config")
setup_app = typer.Typer(
    help="Install optional parts.\n\nExamples:\n\n  codive setup local\n\n"
    "  codive setup local --native",
    no_args_is_help=True,
    cls=_Group,
)
app.add_typer(setup_app, name="setup")

_state = {"debug": False}


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    stream_json = "stream-json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"codive {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug or os.environ.get("CODIVE_DEBUG", "") not in ("", "0")


ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", "-p", help="Provider name or [providers.<label>] table."),
]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model id.")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="Endpoint base URL.")]


ModeOpt = Annotated[
    Mode | None, typer.Option("--permission-mode", help="What may run without asking.")
]
SystemOpt = Annotated[str | None, typer.Option(help="System prompt.")]
MaxTokensOpt = Annotated[int | None, typer.Option(min=1, help="Most tokens to generate.")]
TemperatureOpt = Annotated[float | None, typer.Option(min=0, max=2, help="Sampling.")]
NoStreamOpt = Annotated[bool, typer.Option("--no-stream", help="Wait for the whole reply.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--output-format", help="text, json or stream-json.")
]
NoToolsOpt = Annotated[bool, typer.Option("--no-tools", help="Answer without tools.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Short for --permission-mode full.")]
MaxStepsOpt = Annotated[
    int | None, typer.Option("--max-steps", min=1, help="Most model calls for this request.")
]
ContinueOpt = Annotated[
    bool, typer.Option("--continue", "-c", help="Continue the last session here.")
]
ResumeOpt = Annotated[
    str | None, typer.Option("--resume", help="Resume a saved session (chat: no ID to pick one).")
]
PICK = "\0pick"  # `--resume` given without an id (cli.bare_resume): no command line holds NUL
MaxCostOpt = Annotated[
    float | None, typer.Option("--max-cost", min=0, help="Stop before spending more (USD).")
]


@app.command()
def complete(
    prompt: Annotated[str | None, typer.Argument(help="The request; stdin is appended.")] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    system: SystemOpt = None,
    max_tokens: MaxTokensOpt = None,
    temperature: TemperatureOpt = None,
    no_stream: NoStreamOpt = False,
    json_: JsonOpt = False,
    output_format: FormatOpt = OutputFormat.text,
    no_tools: NoToolsOpt = False,
    permission_mode: ModeOpt = None,
    yes: YesOpt = False,
    max_steps: MaxStepsOpt = None,
    max_cost: MaxCostOpt = None,
    continue_: ContinueOpt = False,
    resume: ResumeOpt = None,
) -> None:
    """Answer one request and exit (saved as a session another run can continue).

    Examples:

      codive complete "explain this repo"

      git diff | codive complete "write a commit message" --json

      codive complete -p local_llm --base-url http://127.0.0.1:8080 "hi"

      codive complete "fix the lint errors" --yes --max-steps 20 --json > run.json

      codive complete --continue "now add a test for it"
    """
    from codive_cli.app.complete import CompleteOptions, complete_command
    from codive_cli.app.wiring import AgentOptions, Endpoint, SessionChoice

    if continue_ and resume:
        _fail("--continue and --resume exclude each other", "", 2, ValueError())
    if resume == PICK:
        hint = 'pass one: codive complete --resume ID "..." (codive chat --resume lists them)'
        _fail("--resume needs a session id here", hint, 2, ValueError())

    agent = AgentOptions(
        permission_mode="full" if yes else permission_mode,
        system=system,
        tools=not no_tools,
        max_steps=max_steps,
        max_cost=max_cost,
        max_tokens=max_tokens,
        temperature=temperature,
        stream=not no_stream,
    )
    output = OutputFormat.json if json_ else output_format
    endpoint = Endpoint(provider, model, base_url)
    session = SessionChoice(continue_, resume)
    options = CompleteOptions(prompt, endpoint, agent, output.value, session)
    _run(lambda: complete_command(options))


@app.command()
def chat(
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    permission_mode: ModeOpt = None,
    continue_: ContinueOpt = False,
    resume: ResumeOpt = None,
) -> None:
    """Chat with the agent in this folder (prompts from stdin when it is not a terminal).

    Examples:

      codive chat

      codive chat --continue

      codive chat --resume 20261127-101500-ab12

      codive chat --resume        (pick one of this folder's sessions)
    """
    from codive_cli.app.chat import ChatOptions, chat_command
    from codive_cli.app.wiring import Endpoint

    if continue_ and resume:
        _fail("--continue and --resume exclude each other", "", 2, ValueError())
    options = ChatOptions(
        Endpoint(provider, model, base_url),
        permission_mode=permission_mode,
        continue_last=continue_,
        resume=None if resume == PICK else resume,
        pick=resume == PICK,
    )
    _run(lambda: chat_command(options))


@app.command()
def models(
    provider: ProviderOpt = None,
    base_url: BaseUrlOpt = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the models a provider offers (local servers are asked).

    Examples:

      codive models --provider anthropic

      codive models -p local_llm --base-url http://127.0.0.1:8080 --json
    """
    from codive_cli.app.manage import models_command

    _run(lambda: models_command(provider, base_url, as_json=json_))


@app.command()
def serve(
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: free).")
    ] = None,
    model_path: Annotated[str | None, typer.Option(help="GGUF model file to serve.")] = None,
) -> None:
    """Serve the embedded local model for other clients (Ctrl-C stops it).

    Examples:

      codive serve --port 8080 &

      codive complete -p local_llm --base-url http://127.0.0.1:8080 "hi"
    """
    from codive_cli.app.manage import serve_command

    _run(lambda: serve_command(port, model_path))


@app.command()
def doctor(
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Check the provider: reachable, key, model, context size, streaming, tool calls.

    Examples:

      codive doctor

      codive doctor -p local_llm --base-url http://127.0.0.1:11434 -m qwen2.5-coder
    """
    from codive_cli.app.manage import doctor_command

    _run(lambda: doctor_command(provider, model, base_url))


@app.command()
def trust(
    path: Annotated[str | None, typer.Argument(help="Folder (default: here).")] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Stop trusting it.")] = False,
) -> None:
    """Trust this folder's codive.toml (allow rules, modes, endpoints it names).

    Examples:

      codive trust

      codive trust --revoke
    """
    from codive_cli.app.manage import trust_command

    _run(lambda: trust_command(path, revoke=revoke))


@config_app.command("show")
def config_show() -> None:
    """Print the merged configuration (keys masked) and where it came from."""
    from codive_cli.app.manage import config_show_command

    _run(config_show_command)


@config_app.command("path")
def config_path() -> None:
    """Print the configuration files codive reads, in order of precedence."""
    from codive_cli.app.manage import config_path_command

    _run(config_path_command)


@config_app.command("init")
def config_init(
    user: Annotated[bool, typer.Option("--user", help="Write the user file instead.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter codive.toml here (or to the user config dir)."""
    from codive_cli.app.manage import config_init_command

    _run(lambda: config_init_command(user=user, force=force))


@setup_app.command("local")
def setup_local(
    native: Annotated[
        bool, typer.Option("--native", help="Build for this CPU only (faster, not portable).")
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build from source even if a build is cached.")
    ] = False,
) -> None:
    """Install the embedded local model and a llama-server built for this machine, then
    start it once to prove it works.

    The first build compiles llama.cpp (about 10-15 minutes on 2 cores); later runs reuse it.
    """
    from codive_cli.app.setup import setup_local_command

    _run(lambda: setup_local_command(native=native, rebuild=rebuild))


def _run(command: Callable[[], int | None]) -> None:
    """Run a command; errors become one line on stderr and the documented exit status."""
    from codive_cli.errors import CodiveError, Terminated

    _startup_over()
    try:
        code = command()
    except CodiveError as error:
        _fail(error.message, error.hint, error.exit_code, error)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        raise typer.Exit(130) from None
    except Terminated as stop:
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            sys.stderr.write(f"\n{stop}\n")
        raise typer.Exit(stop.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:  # a bug: say so in one line, trace only with --debug
        _fail(f"internal error: {error!r}", "run with --debug for the traceback", 1, error)
    raise typer.Exit(code or 0)


def _startup_over() -> None:
    """The cyclic garbage collector back on (cli.main turned it off for start-up), with the
    objects made so far frozen: modules, classes and the like live until exit, so neither
    later collections nor the one at exit walk them (measured: 40-50 ms of a one-shot
    `codive complete`, bench/startup.py). Nothing happens where it was on (Typer's test
    runner in a test process)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _fail(message: str, hint: str, code: int, error: BaseException) -> NoReturn:
    from codive_cli.policy.credentials import redact
    from codive_cli.ui.safe import visible

    # The last line of defence: whatever raised, no key codive knows and no control code
    # reaches the terminal (a provider's error body may hold either; the HTTP boundary
    # already redacts keys).
    secrets = _known_secrets()
    if _state["debug"]:
        import traceback

        sys.stderr.write(visible(redact("".join(traceback.format_exception(error)), secrets)))
    sys.stderr.write(f"error: {visible(redact(message, secrets))}\n")
    if hint:
        sys.stderr.write(f"  hint: {visible(redact(hint, secrets))}\n")
    raise typer.Exit(code)


def _known_secrets() -> tuple[str, ...]:
    """The environment's credentials, and the configuration's when it can be read."""
    from codive_cli.policy.credentials import known_secrets

    settings = None
    try:
        from codive_cli.settings.loading import load_settings

        settings, _ = load_settings()
    except Exception:  # a broken file is what is being reported: the environment still counts
        pass
    return known_secrets(os.environ, settings)
