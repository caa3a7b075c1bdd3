"""The chatbot form's fields as the internal API's ``POST``/``PATCH /chatbots`` body, and a
chatbot (or a preset's defaults) as the form's values.

Nothing is checked here beyond shaping: a number field that is not a number is sent as typed, so
the API refuses it and names the field, and the page shows its message next to that field."""

from __future__ import annotations

from typing import Any

from builtin_plugins.dashboard.forms import Form, split_list

__all__ = [
    "NUMBERS",
    "VERIFICATIONS",
    "chatbot_body",
    "chatbot_values",
    "error_field",
    "preset_values",
    "raw_param",
    "submitted_values",
]

NUMBERS = {"temperature": float, "top_p": float, "max_tokens": int, "memory_turns": int}
VERIFICATIONS = ("", "async", "strict_trailer", "strict")
_RETRIEVAL_NUMBERS = {"top_k": int, "score_threshold": float}


def _number(text: str, kind: type) -> Any:
    """``text`` as a number of ``kind``; blank is None; anything else goes as typed."""
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return text


def _retrieval(form: Form) -> dict[str, Any] | None:
    collections = form.values("collections")
    if not collections:
        return None
    retrieval: dict[str, Any] = {
        "collections": collections,
        "cite_sources": form.has("cite_sources"),
    }
    if form.text("mode"):
        retrieval["mode"] = form.text("mode")
    for name, kind in _RETRIEVAL_NUMBERS.items():
        value = _number(form.text(name), kind)
        if value is not None:
            retrieval[name] = value
    return retrieval


def chatbot_body(form: Form, *, creating: bool) -> dict[str, Any]:
    """The API body for the submitted form; on create, blanks are left for the preset to fill."""
    body: dict[str, Any] = {
        "name": form.text("name"),
        "model": form.text("model"),
        "preset": form.text("preset") or "assistant",
        "description": form.text("description"),
        "retrieval": _retrieval(form),
        "allowed_providers": split_list(form.text("allowed_providers")),
        "preferred_providers": split_list(form.text("preferred_providers")),
        "required_region": form.text("required_region") or None,
        "response_verification": form.text("response_verification") or None,
        "is_active": form.has("is_active"),
    }
    prompt = form.text("system_prompt")
    if prompt or not creating:
        body["system_prompt"] = prompt
    for name, kind in NUMBERS.items():
        value = _number(form.text(name), kind)
        if value is not None or not creating:
            body[name] = value
    if not creating and body["memory_turns"] is None:
        del body["memory_turns"]  # not nullable: a blank field keeps the stored value
    return body


def chatbot_values(chatbot: dict[str, Any]) -> dict[str, Any]:
    """A stored chatbot as the form's values."""
    retrieval = chatbot.get("retrieval") or {}
    values = {
        key: chatbot.get(key)
        for key in ("name", "model", "preset", "description", "system_prompt", *NUMBERS)
    }
    values.update(
        allowed_providers=", ".join(chatbot.get("allowed_providers") or []),
        preferred_providers=", ".join(chatbot.get("preferred_providers") or []),
        required_region=chatbot.get("required_region") or "",
        response_verification=chatbot.get("response_verification") or "",
        is_active=bool(chatbot.get("is_active", True)),
        collections=list(retrieval.get("collections") or []),
        top_k=retrieval.get("top_k", 5),
        score_threshold=retrieval.get("score_threshold"),
        mode=retrieval.get("mode", "hybrid"),
        cite_sources=bool(retrieval.get("cite_sources", True)),
    )
    return values


def preset_values(name: str, preset: dict[str, Any]) -> dict[str, Any]:
    """A new chatbot's form, filled with ``preset``'s defaults."""
    return chatbot_values({"preset": name, "name": "", "model": "", "description": "", **preset})


def submitted_values(form: Form) -> dict[str, Any]:
    """The form as it was sent (shown again with the API's error)."""
    values: dict[str, Any] = form.fields()
    values.update(
        is_active=form.has("is_active"),
        cite_sources=form.has("cite_sources"),
        collections=form.values("collections"),
    )
    return values


def raw_param(body: Any) -> str | None:
    """The ``param`` of an OpenAI-shaped error body, as sent (``$.retrieval.top_k``)."""
    error = body.get("error") if isinstance(body, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    return param if isinstance(param, str) else None


def error_field(param: str | None) -> str:
    """The form field an API error names (``retrieval.top_k`` → ``top_k``)."""
    if not param:
        return "form"
    field = param.removeprefix("$.")
    if field.startswith("retrieval."):
        field = field.removeprefix("retrieval.").split("[")[0]
        return field if field in _RETRIEVAL_NUMBERS or field == "mode" else "collections"
    return field.split(".")[0].split("[")[0]
