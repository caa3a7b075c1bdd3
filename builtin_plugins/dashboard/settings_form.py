"""A form generated from a plugin's settings schema (the JSON schema ``GET /plugins/{name}/config``
answers): one control per property by its type, and the submitted text turned back into JSON
values with an error per field that cannot be. Only changed values are sent, so settings left
alone keep following the configuration file."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from builtin_plugins.dashboard.forms import Form, split_list

__all__ = ["SettingField", "changed_values", "setting_fields"]

_SCALARS = {"integer", "number", "boolean", "string"}


class SettingField(msgspec.Struct, frozen=True, kw_only=True):
    """One control: ``kind`` is boolean, integer, number, string, choice, list or json."""

    name: str
    kind: str
    text: str
    """The current value as the control shows it."""
    current: Any
    nullable: bool = False
    choices: list[str] = []
    item: str = "string"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _kind(schema: dict[str, Any], root: dict[str, Any]) -> tuple[str, bool, list[str], str]:
    """(kind, nullable, choices, list item type) of one property schema."""
    options = [_resolve(s, root) for s in schema.get("anyOf", [schema])]
    nullable = any(o.get("type") == "null" for o in options)
    real = [o for o in options if o.get("type") != "null"]
    if len(real) != 1:
        return "json", nullable, [], ""
    only = real[0]
    if "enum" in only:
        return "choice", nullable, [str(v) for v in only["enum"]], ""
    kind = only.get("type")
    if kind in _SCALARS:
        return str(kind), nullable, [], ""
    item = _resolve(only.get("items", {}), root).get("type")
    if kind == "array" and item in _SCALARS:
        return "list", nullable, [], str(item)
    return "json", nullable, [], ""


def _text(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "boolean":
        return "on" if value else ""
    if kind == "list":
        return ", ".join(str(v) for v in value)
    if kind == "json":
        return json.dumps(value, indent=1)
    return str(value)


def setting_fields(schema: dict[str, Any], values: dict[str, Any]) -> list[SettingField]:
    """A control for each property of the section's schema, showing the current values."""
    section = _resolve(schema, schema)
    fields = []
    for name, prop in section.get("properties", {}).items():
        kind, nullable, choices, item = _kind(prop, schema)
        value = values.get(name)
        fields.append(
            SettingField(
                name=name,
                kind=kind,
                text=_text(kind, value),
                current=value,
                nullable=nullable,
                choices=choices,
                item=item,
            )
        )
    return fields


def _scalar(kind: str, text: str) -> Any:
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    return text


def _value(field: SettingField, form: Form) -> Any:
    """The JSON value of one control; ValueError with a message for text that is none."""
    text = form.text(field.name)
    if field.kind == "boolean":
        return text == "on"
    if text == "" and field.nullable:
        return None
    try:
        if field.kind == "list":
            return [_scalar(field.item, item) for item in split_list(text)]
        if field.kind == "json":
            return json.loads(text)
        return _scalar(field.kind, text)
    except ValueError:
        wanted = {"integer": "a whole number", "number": "a number", "json": "valid JSON"}
        raise ValueError(f"Enter {wanted.get(field.kind, 'numbers')}.") from None


def changed_values(fields: list[SettingField], form: Form) -> tuple[dict[str, Any], dict[str, str]]:
    """(the values that differ from the current ones, an error per field that is not valid)."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        try:
            value = _value(field, form)
        except ValueError as exc:
            errors[field.name] = str(exc)
            continue
        if value != field.current:
            changes[field.name] = value
    return changes, errors
