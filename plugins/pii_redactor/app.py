"""pii_redactor: a chat filter that redacts personal data from prompts before they leave."""

from typing import Any

from enclava_sdk import BasePlugin, FilterContext, Request, Response, chat_filter, endpoint
from redact import PLACEHOLDERS, redact


class PiiRedactor(BasePlugin):
    name = "pii_redactor"
    version = "1.0.0"

    def _kinds(self) -> set[str]:
        return {kind for kind in PLACEHOLDERS if self.config.get(kind, True)}

    def _clean(self, content: Any, kinds: set[str], totals: dict[str, int]) -> Any:
        if isinstance(content, str):
            text, counts = redact(content, kinds)
            for kind, count in counts.items():
                totals[kind] += count
            return text
        if isinstance(content, list):  # multi-part content: only text parts carry prose
            return [
                {**part, "text": self._clean(part.get("text", ""), kinds, totals)}
                if isinstance(part, dict) and part.get("type") == "text"
                else part
                for part in content
            ]
        return content

    @chat_filter
    def redact_prompt(self, body: dict[str, Any], context: FilterContext) -> dict[str, Any] | None:
        kinds = self._kinds()
        totals = {kind: 0 for kind in PLACEHOLDERS}
        messages = [
            {**m, "content": self._clean(m.get("content"), kinds, totals)}
            if isinstance(m, dict)
            else m
            for m in body.get("messages", [])
        ]
        if not any(totals.values()):  # the common case costs no host call at all
            return None
        for kind, count in totals.items():
            if count:  # made once the filter returned: no wait for the store here
                self.kv.add(f"redacted.{kind}", count)
        self.log.info(f"redacted {sum(totals.values())} item(s) in {context.request_id}")
        return {**body, "messages": messages}

    @endpoint("GET", "/stats")
    def stats(self, request: Request) -> Response:
        redacted = {kind: self.kv.get(f"redacted.{kind}", 0) for kind in PLACEHOLDERS}
        return Response({"redacted": redacted, "total": sum(redacted.values())})
