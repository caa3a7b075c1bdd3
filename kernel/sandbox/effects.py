"""Deferred effects: ``log`` lines and ``kv-add`` additions a guest delivers with its answer.

A host call costs a Python guest about 50 µs (the crossing out of WebAssembly and back, and the
call thread taking the GIL from the event loop), more than a chat filter's own work. Both
effects are made after the call anyway (additions only once it returned ok, lines whenever), so
a guest may carry them in ``handle``'s ok value instead of making one host call each. The host
says which effects it takes this way in the guest's environment (:data:`DEFER_ENV`, e.g.
``log,kv-add``; ``kv-add`` only with ``permissions.kv``), so a guest built for an older host and
a host running an older guest both keep the host calls.

Such an ok value is a JSON text sequence (RFC 7464) of two texts: the effects, then the answer
(``RS effects LF RS answer LF``). An ok value not starting with RS is the answer alone. The
effects are ``{"kv_add": {key: delta}, "log": [[level, message], ...]}``, both optional; they
obey the same rules as the host calls (key length, :data:`MAX_ADD_KEYS` keys per call, levels,
line length) and :data:`MAX_EFFECTS_BYTES` bounds them; a guest breaking a rule fails the call.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "DEFER_ENV",
    "MAX_EFFECTS_BYTES",
    "Effects",
    "EffectsRejected",
    "advertised",
    "split_answer",
]

DEFER_ENV = "DEFERRED_EFFECTS"
MAX_EFFECTS_BYTES = 262_144
"""Bound of the effects text: 64 keys and the 20,000 characters of lines the SDK holds at most
fit, even at 6 bytes of JSON per character."""
_RS = "\x1e"


class EffectsRejected(Exception):
    """The guest's deferred effects are malformed or break a rule: the call fails."""


class Effects(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What a guest deferred: additions by key and log lines, in order."""

    kv_add: dict[str, int] = {}
    log: list[tuple[str, str]] = []


_DECODER = msgspec.json.Decoder(Effects)


def advertised(kv: bool) -> str:
    """The value of :data:`DEFER_ENV` for a plugin (``kv`` is its ``permissions.kv``)."""
    return "log,kv-add" if kv else "log"


def split_answer(payload: str) -> tuple[str, Effects | None]:
    """``(answer, effects)`` of an ok value; effects is None for an answer alone."""
    if not payload.startswith(_RS):
        return payload, None
    texts = payload.split(_RS)
    if len(texts) != 3 or not all(text.endswith("\n") for text in texts[1:]):
        raise EffectsRejected("the answer is not a sequence of effects and answer")
    if len(texts[1]) > MAX_EFFECTS_BYTES:
        raise EffectsRejected(f"deferred effects exceed {MAX_EFFECTS_BYTES} bytes")
    try:
        effects = _DECODER.decode(texts[1])
    except msgspec.DecodeError as exc:
        raise EffectsRejected(f"malformed deferred effects: {exc}") from None
    return texts[2][:-1], effects
