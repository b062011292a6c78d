"""`@picture.png` in chat: an image attached for models that take images, in both wire
formats, kept in session files, refused clearly for models that do not."""

from __future__ import annotations

import base64
import importlib
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from codive_cli.agent.codec import decode_message, encode_message
from codive_cli.agent.compaction import estimate_tokens, transcript
from codive_cli.agent.loop import Agent
from codive_cli.conversation.chat import markdown_transcript
from codive_cli.conversation.mentions import MAX_IMAGE_BYTES, attach_mentions, sniff_image
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    Image,
    ModelInfo,
    Provider,
    ProviderConfig,
    ToolDefinition,
)
from codive_cli.providers import create_provider
from codive_cli.providers.scripted import ScriptedProvider
from codive_cli.providers.text_tools import TextToolsProvider
from codive_cli.tools.base import ToolContext
from codive_cli.ui.transcript import show_end
from tests.helpers import Recorder, isolated_env, make_provider, sse_response
from tests.scripted_server import ScriptedServer

CODIVE = str(Path(sys.executable).parent / "codive")
PLUGIN = Path(__file__).parent.parent / "examples" / "local_llm_plugin"


def png(width: int = 1, height: int = 1) -> bytes:
    """A real PNG: white pixels, one chunk each of IHDR, IDAT and IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png()
B64 = base64.b64encode(PNG).decode()


# --- real HTTP: `codive chat` against the scripted server ---------------------------------


def chat(
    tmp_path: Path, server: ScriptedServer, args: list[str], stdin: str, config: str = ""
) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True, exist_ok=True)
    (work / "shot.png").write_bytes(PNG)
    env = isolated_env(tmp_path, ANTHROPIC_API_KEY="k", OPENAI_API_KEY="k", NO_COLOR="1")
    if config:
        folder = tmp_path / "xdg_config_home" / "codive"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "codive.toml").write_text(config)
    return subprocess.run(
        [CODIVE, "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=60,
    )


def test_anthropic_gets_an_image_block_and_the_session_keeps_it(tmp_path: Path) -> None:
    with ScriptedServer([{"text": "a white pixel"}, {"text": "still white"}]) as server:
        args = ["-p", "anthropic", "--base-url", server.base_url, "-m", "claude-sonnet-4-5"]
        first = chat(tmp_path, server, args, "what is in @shot.png?\n")
        again = chat(tmp_path, server, [*args, "--continue"], "and now?\n")
        sent = [request["json"]["messages"] for request in server.model_requests]
    assert first.returncode == 0, first.stderr
    assert first.stdout.endswith("\na white pixel\n")  # notes, then the answer
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64}}
    prompt = {"role": "user", "content": [image, {"type": "text", "text": "what is in @shot.png?"}]}
    assert sent[0] == [prompt]
    assert "· attached image shot.png (image/png, 1 KB)\n" in first.stdout
    # --continue loads the session file: the image went to disk and came back whole
    assert again.returncode == 0, again.stderr
    assert sent[1][0] == prompt
    for output in (first.stdout, first.stderr, again.stdout, again.stderr):
        assert B64 not in output and B64[:40] not in output


def test_openai_gets_an_image_url_part(tmp_path: Path) -> None:
    with ScriptedServer([{"text": "a white pixel"}]) as server:
        args = ["-p", "openai", "--base-url", server.base_url + "/v1", "-m", "gpt-4.1"]
        result = chat(tmp_path, server, args, "describe @shot.png please\n")
        messages = server.model_requests[0]["json"]["messages"]
    assert result.returncode == 0, result.stderr
    assert result.stdout == "· attached image shot.png (image/png, 1 KB)\na white pixel\n"
    assert messages[0]["role"] == "system"
    assert messages[1:] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "describe @shot.png please"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}},
            ],
        }
    ]


def test_a_local_server_gets_no_image_unless_its_table_says_images(tmp_path: Path) -> None:
    with ScriptedServer([{"text": "no picture"}, {"text": "a picture"}]) as server:
        args = ["-p", "local_llm", "--base-url", server.base_url]
        refused = chat(tmp_path, server, args, "look at @shot.png\n")
        allowed = chat(
            tmp_path, server, args, "look at @shot.png\n", "[providers.local_llm]\nimages = true\n"
        )
        sent = [request["json"]["messages"][-1] for request in server.model_requests]
    assert refused.returncode == 0, refused.stderr
    assert refused.stdout == (
        "· not attached: @shot.png: scripted-model does not take images (as far as codive "
        "knows; if it does, set images = true in [providers.local_llm] in codive.toml)\n"
        "no picture\n"  # the prompt went anyway, without the image
    )
    assert sent[0] == {"role": "user", "content": "look at @shot.png"}
    assert allowed.returncode == 0, allowed.stderr
    url = f"data:image/png;base64,{B64}"
    assert sent[1]["content"][1] == {"type": "image_url", "image_url": {"url": url}}


def test_the_scripted_server_refuses_a_malformed_image() -> None:
    import httpx

    lying = {"type": "image_url", "image_url": {"url": f"data:image/gif;base64,{B64}"}}
    message: dict[str, Any] = {"role": "user", "content": [lying]}
    body = {"model": "m", "messages": [message]}
    with ScriptedServer([{"text": "unused"}]) as server:
        answer = httpx.post(server.base_url + "/v1/chat/completions", json=body)
        assert answer.status_code == 400
        assert "does not match the provided media type" in answer.json()["error"]["message"]
        assert server.pending == 1  # no scripted reply was used
        message["role"] = "assistant"
        answer = httpx.post(server.base_url + "/v1/chat/completions", json=body)
        assert "only allowed in user messages" in answer.json()["error"]["message"]


# --- the mentions themselves, in process ----------------------------------------------------


class Seeing(ScriptedProvider):
    def available_models(self) -> list[ModelInfo]:
        return [ModelInfo("scripted-model", "Scripted", 200_000, 8192, images=True)]


def agent_for(tmp_path: Path, provider: Provider, policy: Policy | None = None) -> Agent:
    root = tmp_path / "work"
    root.mkdir(exist_ok=True)
    root = root.resolve()
    return Agent(provider, [], ToolContext(root, WorkspaceGuard(root)), policy=policy or Policy())


def test_images_are_known_by_their_content(tmp_path: Path) -> None:
    agent = agent_for(tmp_path, Seeing())
    root = agent.context.root
    (root / "really-a-png.txt").write_bytes(PNG)
    (root / "fake.png").write_text("not a picture")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    prompt = attach_mentions(agent, "@really-a-png.txt @fake.png @photo.jpg")
    assert [(i.name, i.media_type) for i in prompt.images] == [
        ("really-a-png.txt", "image/png"),
        ("photo.jpg", "image/jpeg"),
    ]
    assert prompt.text == "@really-a-png.txt @fake.png @photo.jpg"  # nothing added as text
    assert "not attached: @fake.png: not a PNG, JPEG, GIF or WebP image (by its content)" in (
        prompt.notes
    )
    assert sniff_image(b"GIF89a....") == "image/gif"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"


def test_images_obey_the_guard_the_deny_rules_and_the_size_cap(tmp_path: Path) -> None:
    agent = agent_for(tmp_path, Seeing(), Policy("ask", deny=["read_file(private/**)"]))
    root = agent.context.root
    (tmp_path / "outside.png").write_bytes(PNG)
    (root / "link.png").symlink_to(tmp_path / "outside.png")
    (root / "private").mkdir()
    (root / "private" / "me.png").write_bytes(PNG)
    (root / "huge.png").write_bytes(PNG + b"\x00" * MAX_IMAGE_BYTES)
    prompt = attach_mentions(agent, "@link.png @private/me.png @huge.png @../outside.png")
    assert prompt.images == ()
    notes = "\n".join(prompt.notes)
    assert "not attached: @link.png: " in notes and "outside" in notes
    assert "not attached: @private/me.png: " in notes
    assert "not attached: @huge.png: larger than 3.75 MB" in notes


def test_a_model_without_images_is_named_in_the_refusal(tmp_path: Path) -> None:
    recorder = Recorder()
    provider = make_provider("openai", recorder, model="gpt-4")
    agent = agent_for(tmp_path, provider)
    (agent.context.root / "shot.png").write_bytes(PNG)
    prompt = attach_mentions(agent, "see @shot.png")
    assert prompt.images == ()
    assert prompt.notes == [
        "not attached: @shot.png: gpt-4 does not take images (/model switches to one that does)"
    ]


async def test_after_switching_to_a_model_without_images_they_are_left_out(
    tmp_path: Path,
) -> None:
    provider = ScriptedProvider()  # its model's images are unknown: none are sent
    agent = agent_for(tmp_path, provider)
    agent.messages.append(
        ChatMessage("user", "see this", images=(Image("image/png", PNG, "a.png"),))
    )
    agent.messages.append(ChatMessage("assistant", "seen"))
    provider.enqueue("ok", "ok again")
    await agent.run("and?")
    await agent.run("and?")
    first, second = provider.requests[0].messages[0], provider.requests[1].messages[0]
    assert first.images == ()
    assert first.content == (
        "see this\n\n[attached image(s) a.png left out: the current model does not take images]"
    )
    assert second is first  # made once, so the wire encodes it once
    assert agent.messages[0].images  # the conversation itself keeps them


# --- the contract, the codec and what shows an image ----------------------------------------


def test_the_codec_round_trips_images_and_loads_old_messages() -> None:
    message = ChatMessage("user", "look", images=(Image("image/png", PNG, "shot.png"),))
    encoded = encode_message(message)
    assert encoded["images"] == [{"media_type": "image/png", "name": "shot.png", "data": B64}]
    assert decode_message(json.loads(json.dumps(encoded))) == message
    assert decode_message({"role": "user", "content": "old"}).images == ()
    with pytest.raises(ValueError, match="not base64"):
        decode_message({"role": "user", "images": [{"media_type": "image/png", "data": "@@"}]})


def test_an_image_never_shows_its_bytes() -> None:
    image = Image("image/png", PNG, "shot.png")
    message = ChatMessage("user", "look", images=(image,))
    assert "PNG" not in repr(image) and B64 not in repr(message)
    assert "[attached image] shot.png" in transcript([message])
    assert B64 not in transcript([message])
    assert estimate_tokens([message]) > 1_000
    assert markdown_transcript([message]) == "**user**\n\nlook\n\n- attached image: shot.png\n"
    out = io.StringIO()
    show_end(Console(file=out, width=80, color_system=None), [message], set(), "s1")
    assert "  attached image: shot.png" in out.getvalue()


async def test_text_tools_keep_images_for_the_inner_format() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
    recorder = Recorder(sse_response(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()))
    inner = make_provider("openai", recorder, model="gpt-4.1")
    provider = TextToolsProvider(inner)
    assert provider.supports_images() is True
    message = ChatMessage("user", "what", images=(Image("image/png", PNG, "a.png"),))
    tool = ToolDefinition("read_file", "Read.", {"type": "object"})
    async for _ in provider.stream(CompletionRequest([message], [tool])):
        pass
    user = recorder.body()["messages"][-1]
    assert user["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{B64}"},
    }


def test_a_plugin_without_the_new_method_still_works(tmp_path: Path) -> None:
    sys.path.insert(0, str(PLUGIN))
    try:
        plugin = importlib.import_module("codive_local_llm")
    finally:
        sys.path.remove(str(PLUGIN))
    provider = plugin.LocalLlmProvider(ProviderConfig("my_local_llm", model="local-7b"))
    assert "supports_images" not in vars(plugin.LocalLlmProvider)
    assert provider.supports_images() is None
    told = plugin.LocalLlmProvider(
        ProviderConfig("my_local_llm", model="local-7b", options={"images": True})
    )
    assert told.supports_images() is True
    agent = agent_for(tmp_path, provider)
    (agent.context.root / "shot.png").write_bytes(PNG)
    prompt = attach_mentions(agent, "see @shot.png")
    assert prompt.images == () and prompt.text == "see @shot.png"
    assert prompt.notes[0].startswith("not attached: @shot.png: local-7b does not take images")


def test_the_catalogue_says_which_hosted_models_take_images() -> None:
    def takes(kind: str, model: str) -> bool | None:
        provider = create_provider(ProviderConfig(kind, model=model, api_key="k"))
        return provider.supports_images()

    assert takes("anthropic", "claude-sonnet-4-5") is True
    assert takes("anthropic", "claude-3-5-sonnet-20241022") is True
    assert takes("openai", "gpt-4o") is True
    assert takes("openai", "gpt-4.1-mini") is True
    assert takes("openai", "gpt-4") is False
    assert takes("openai", "some-new-model") is None
    assert takes("local_llm", "qwen") is None
