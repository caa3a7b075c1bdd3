"""JSON in and out of a guest call, without ``json``'s per-call set-up."""

from __future__ import annotations

import json
import json.encoder
from json.encoder import JSONEncoder, encode_basestring_ascii
from typing import Any

__all__ = ["CODEC", "Codec"]


class Codec:
    """``json.loads`` / ``json.dumps`` of one call's request and answer, without their per-call
    set-up: the C scanner and encoder are made once (in a guest, that set-up cost as much as
    the parsing). Same output as ``json.dumps``; anything but one compact JSON value is left
    to ``json.loads``, whose errors it raises."""

    def __init__(self) -> None:
        self._scan = vars(json.JSONDecoder())["scan_once"]  # the C scanner json.loads uses
        make_encoder = vars(json.encoder).get("c_make_encoder")  # None without the C module
        self._encoder = (
            None
            if make_encoder is None
            else make_encoder(
                *(None, JSONEncoder().default, encode_basestring_ascii, None),
                *(": ", ", ", False, False, True),
            )
        )

    def decode(self, text: str) -> Any:
        try:
            value, end = self._scan(text, 0)
        except StopIteration:
            return json.loads(text)
        return value if end == len(text) else json.loads(text)

    def encode(self, value: Any) -> str:
        if self._encoder is None:
            return json.dumps(value)
        return "".join(self._encoder(value, 0))


CODEC = Codec()
