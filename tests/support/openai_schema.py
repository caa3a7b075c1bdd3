"""OpenAI's published schemas as a validator (``tests/data/openai/openapi.json``).

It is OpenAPI 3.1 but still marks some members ``nullable: true`` in the 3.0 way; those are
rewritten to ``anyOf [..., null]`` so a JSON Schema 2020-12 validator reads them as OpenAI means.
The file keeps only the schemas the suite validates against and what they reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

__all__ = ["OPENAPI", "Validate", "load_validator"]

OPENAPI = Path(__file__).resolve().parents[1] / "data" / "openai" / "openapi.json"

Validate = Callable[[str, Any], None]


def _nullable_to_any_of(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_to_any_of(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _nullable_to_any_of(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def load_validator() -> Validate:
    """``validate(schema_name, instance)`` against ``components.schemas[schema_name]``."""
    assert OPENAPI.is_file(), f"OpenAI's schema is missing: {OPENAPI}"
    components = _nullable_to_any_of(json.loads(OPENAPI.read_text())["components"])
    validators: dict[str, jsonschema.Draft202012Validator] = {}

    def validate(name: str, instance: Any) -> None:
        if name not in validators:
            root = {"components": components, "$ref": f"#/components/schemas/{name}"}
            validators[name] = jsonschema.Draft202012Validator(root)
        validators[name].validate(instance)

    return validate
