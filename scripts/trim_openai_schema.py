"""Write the part of OpenAI's OpenAPI description that Enclava's ``/schema`` document reuses.

    .venv/bin/python scripts/trim_openai_schema.py SOURCE [--check]

SOURCE is OpenAI's published ``openapi.json`` (the file ``openapi.json`` of the public repository
openai/openai-openapi at ``COMMIT``, downloaded by whoever updates it). The output,
``builtin_plugins/llm/openai/components.json``, keeps only the component schemas that the chat
completion and embedding requests and responses reference, transitively; drops the vendor
``x-oai*``/``x-stainless*`` hints; rewrites OpenAPI 3.0's ``nullable: true`` the 3.1 way,
because the rest of the document is 3.1; and drops ``default: null`` where the type refuses null
(OpenAPI validators do). ``--check`` exits 1 when the committed file differs.
Run it by hand when the source changes; the server reads the output, nothing runs this script.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "builtin_plugins" / "llm" / "openai" / "components.json"
COMMIT = "f85dbe223d40e1a31cba812ab2d755c7e98a92a3"
ROOTS = (
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateEmbeddingRequest",
    "CreateEmbeddingResponse",
)
_REF = "#/components/schemas/"
_VENDOR_HINTS = ("x-oai", "x-stainless")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.removeprefix(_REF)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> list[str]:
    """Every schema name ``roots`` reach through ``$ref``, sorted."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_refs(schemas[name]))
    return sorted(seen)


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema 2020-12 says it."""
    if isinstance(node.get("type"), str):
        nullable = {**node, "type": [node["type"], "null"]}
        if "enum" in node and None not in node["enum"]:
            nullable["enum"] = [*node["enum"], None]
        return nullable
    outer = {k: node[k] for k in ("description", "title", "default") if k in node}
    inner = {k: v for k, v in node.items() if k not in outer}
    return {**outer, "anyOf": [inner, {"type": "null"}]}


def clean(node: Any) -> Any:
    """``node`` without vendor hints and with 3.0 ``nullable`` rewritten (keywords only)."""
    if isinstance(node, list):
        return [clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith(_VENDOR_HINTS) or key == "nullable":
            continue
        # Names under "properties" are field names, not keywords: keep every one.
        is_map = key in ("properties", "$defs", "patternProperties")
        cleaned[key] = {k: clean(v) for k, v in value.items()} if is_map else clean(value)
    if node.get("nullable") is True:
        return _nullable(cleaned)
    if cleaned.get("default", ...) is None and isinstance(cleaned.get("type"), str):
        del cleaned["default"]  # "default: null" where null is not allowed: a validator refuses it
    return cleaned


def trimmed(source: dict[str, Any]) -> dict[str, Any]:
    """The output document for OpenAI's parsed ``openapi.json``."""
    schemas = source["components"]["schemas"]
    return {
        "source": f"https://github.com/openai/openai-openapi/blob/{COMMIT}/openapi.json",
        "license": "MIT, Copyright (c) OpenAI (see LICENSE beside this file)",
        "generator": "scripts/trim_openai_schema.py",
        "schemas": {name: clean(schemas[name]) for name in closure(schemas, ROOTS)},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="OpenAI's openapi.json at COMMIT")
    parser.add_argument("--check", action="store_true", help="fail when the output is stale")
    args = parser.parse_args(argv)
    text = render(trimmed(json.loads(args.source.read_text(encoding="utf-8"))))
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
        if current != text:
            print(
                f"{OUTPUT.relative_to(REPO)} is stale: run {Path(__file__).name}", file=sys.stderr
            )
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
