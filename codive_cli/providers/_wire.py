"""A conversation encoded once: each message's wire form and JSON text are made the first
time it goes out and reused on every later step.

The agent resends the whole conversation on every model call, and a long one is hundreds of
messages; converting and serialising all of them each time made a step's cost grow with the
conversation. Messages are frozen and the conversation keeps the same objects from step to
step, so both caches are keyed by object identity (a strong reference to the key makes sure
its id is not reused while cached) and forget whatever a request no longer carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class PerObject(Generic[K, V]):
    """`make(key)` computed once per key object; `keep` forgets keys no longer in use."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._memo: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        hit = self._memo.get(id(key))
        if hit is not None and hit[0] is key:
            return hit[1]
        value = self._make(key)
        self._memo[id(key)] = (key, value)
        return value

    def keep(self, keys: Iterable[K]) -> None:
        """Forget every key but these (the ones the latest request carried)."""
        wanted = {id(key) for key in keys}
        if len(self._memo) > len(wanted):
            self._memo = {k: entry for k, entry in self._memo.items() if k in wanted}

    def __len__(self) -> int:
        return len(self._memo)


def dumps(value: Any) -> str:
    """JSON the way httpx writes a `json=` body: UTF-8 as is, no spaces, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class JsonBody:
    """Request bodies as bytes, each wire message's JSON text made once (`messages` key)."""

    def __init__(self) -> None:
        self.texts: PerObject[Any, str] = PerObject(dumps)

    def encode(self, body: Mapping[str, Any]) -> bytes:
        parts = []
        for key, value in body.items():
            if key == "messages" and isinstance(value, list):
                text = "[" + ",".join(self.texts(message) for message in value) + "]"
                self.texts.keep(value)
            else:
                text = dumps(value)
            parts.append(f"{dumps(key)}:{text}")
        return ("{" + ",".join(parts) + "}").encode()
