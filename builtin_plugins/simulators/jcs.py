"""RFC 8785 JSON Canonicalization Scheme for the documents aci/1 hashes and signs.

aci/1 (spec/aci.md, Appendix A) restricts its documents to strings, integers, booleans, null,
arrays and objects; for those, JCS is compact JSON with members sorted by their UTF-16 code
units. Floats are refused rather than canonicalized, because aci/1 never uses them and a
half-right number serializer would silently produce a different digest.
"""

from __future__ import annotations

import json

__all__ = ["canonical_json"]


def _key(name: str) -> bytes:
    return name.encode("utf-16-be")


def _encode(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, dict):
        for name in value:
            if not isinstance(name, str):
                raise TypeError(f"JCS object keys must be strings, not {type(name).__name__}")
        members = sorted(value.items(), key=lambda item: _key(item[0]))
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_encode(v)}" for k, v in members)
            + "}"
        )
    raise TypeError(f"JCS value of type {type(value).__name__} is not supported here")


def canonical_json(value: object) -> bytes:
    """The JCS bytes of ``value`` (strings, integers, booleans, null, lists and dicts only)."""
    return _encode(value).encode("utf-8")
