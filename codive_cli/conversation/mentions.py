"""`@path` in a chat prompt: a workspace file attached as text, or as an image for a model
that takes images.

A mention is read the way read_file reads (deny rules, the workspace guard, secret files,
symlinks resolved and never out of the workspace), and each one says whether it was
attached and, if not, why. An image is known by its content (PNG, JPEG, GIF, WebP), not by
its name; a file named like an image that is none is refused rather than sent as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from codive_cli.agent.loop import Agent
from codive_cli.policy.credentials import redact
from codive_cli.provider import Image
from codive_cli.tools.base import ToolError

MENTION = re.compile(r"(?<![\w@])@([\w./~+-]+)")
MAX_ATTACH = 100_000  # characters of a text file
# 5 MiB once base64-encoded: the most Anthropic's API takes for one image (OpenAI's is larger).
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
_KINDS = "a PNG, JPEG, GIF or WebP image"


@dataclass
class Prompt:
    """A prompt with what its mentions attached, and a note for each mention."""

    text: str
    images: tuple[Image, ...] = ()
    notes: list[str] = field(default_factory=list)


def sniff_image(data: bytes) -> str | None:
    """The MIME type of an image the models take, told by its first bytes; else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def attach_mentions(agent: Agent, line: str) -> Prompt:
    """`line` with each mentioned file attached: text appended in `<file>` tags (redacted
    like a tool result), images apart; refusals are notes, and the prompt goes anyway."""
    files: list[str] = []
    images: list[Image] = []
    notes: list[str] = []
    for name in dict.fromkeys(MENTION.findall(line)):
        try:
            attached = _read(agent, name)
        except ToolError as error:
            notes.append(f"not attached: @{name}: {error}")
            continue
        if isinstance(attached, Image):
            images.append(attached)
            notes.append(f"attached image {name} ({attached.media_type}, {_size(attached)})")
        else:
            files.append(f'<file path="{name}">\n{attached}\n</file>')
            notes.append(f"attached {name}")
    text = "\n\n".join([line, *files]) if files else line
    return Prompt(text, tuple(images), notes)


def _read(agent: Agent, name: str) -> str | Image:
    """The file's text, or the image it is; ToolError saying why neither."""
    refused = agent.policy.denies_reading(name)
    if refused:
        raise ToolError(refused)
    context = agent.context
    data = context.guard.read_own_bytes(name, max(MAX_IMAGE_BYTES + 1, MAX_ATTACH * 4))
    media_type = sniff_image(data)
    if media_type is None:
        if PurePath(name).suffix.lower() in IMAGE_SUFFIXES:
            raise ToolError(f"not {_KINDS} (by its content)")
        text = data.decode("utf-8", errors="replace")[:MAX_ATTACH]
        return redact(text, context.secrets)
    refusal = _no_images(agent)
    if refusal:
        raise ToolError(refusal)
    if len(data) > MAX_IMAGE_BYTES:
        limit = MAX_IMAGE_BYTES / 1024 / 1024
        raise ToolError(f"larger than {limit:.2f} MB, the most an image may be (5 MB encoded)")
    return Image(media_type, data, name)


def _no_images(agent: Agent) -> str | None:
    """Why the current model gets no images, or None when it takes them."""
    provider = agent.provider
    config = provider.config
    takes = provider.supports_images()
    if takes:
        return None
    # A local server's model is known once it has been asked (HttpProvider.model).
    model = getattr(provider, "model", None) or config.model or config.display_name
    table = f"[providers.{config.display_name}]"
    if takes is False and "images" in config.options:
        return f"{model} does not take images (images = false in {table})"
    if takes is False:
        return f"{model} does not take images (/model switches to one that does)"
    return (
        f"{model} does not take images (as far as codive knows; if it does, set "
        f"images = true in {table} in codive.toml)"
    )


def _size(image: Image) -> str:
    size = len(image.data)
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(size // 1024, 1)} KB"
