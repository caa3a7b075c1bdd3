"""Every endpoint attempts something the sandbox must contain; each reports what happened."""

import os
import socket
import time
from typing import Any

from enclava_sdk import (
    BasePlugin,
    FilterContext,
    HostError,
    Request,
    Response,
    chat_filter,
    endpoint,
)


def _attempt(action: Any) -> dict[str, Any]:
    try:
        return {"escaped": True, "value": repr(action())[:200]}
    except BaseException as exc:
        return {"escaped": False, "error": type(exc).__name__}


class Hostile(BasePlugin):
    name = "hostile"
    version = "1.0.0"

    @chat_filter
    def explode(self, body: dict[str, Any], context: FilterContext) -> dict[str, Any] | None:
        messages = str(body.get("messages"))
        if "explode" in messages:
            raise ValueError("filter exploded")
        if "oversleep" in messages:
            time.sleep(3600)
        return None

    @endpoint("GET", "/files")
    def files(self, request: Request) -> dict[str, Any]:
        return {
            "etc_passwd": _attempt(lambda: open("/etc/passwd").read()),
            "listdir": _attempt(lambda: os.listdir("/")),
            "write": _attempt(lambda: open("/tmp/x", "w").write("x")),
        }

    @endpoint("GET", "/env")
    def env(self, request: Request) -> dict[str, Any]:
        return {"environ": dict(os.environ), "home": os.environ.get("HOME")}

    @endpoint("GET", "/socket")
    def sockets(self, request: Request) -> dict[str, Any]:
        return {"connect": _attempt(lambda: socket.create_connection(("127.0.0.1", 5432), 1))}

    @endpoint("GET", "/fetch")
    def fetch(self, request: Request) -> dict[str, Any]:
        try:
            self.http.fetch("http://127.0.0.1:6379/")
        except HostError as exc:
            return {"refused": str(exc)}
        return {"refused": None}

    @endpoint("GET", "/kv")
    def kv(self, request: Request) -> dict[str, Any]:
        try:
            self.kv.set("x", 1)
        except HostError as exc:
            return {"refused": str(exc)}
        return {"refused": None}

    @endpoint("GET", "/raise")
    def fail(self, request: Request) -> dict[str, Any]:
        self.log.warning("about to blow up")  # held by the SDK, logged when the call fails
        raise RuntimeError("guest code blew up")

    @endpoint("GET", "/loop")
    def loop(self, request: Request) -> dict[str, Any]:
        while True:
            pass

    @endpoint("GET", "/sleep")
    def sleep(self, request: Request) -> dict[str, Any]:
        time.sleep(3600)
        return {"slept": True}

    @endpoint("GET", "/nap")
    def nap(self, request: Request) -> dict[str, Any]:
        started = time.monotonic()
        time.sleep(0.05)
        return {"slept": round(time.monotonic() - started, 3)}

    @endpoint("GET", "/bomb")
    def bomb(self, request: Request) -> dict[str, Any]:
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))

    @endpoint("GET", "/huge")
    def huge(self, request: Request) -> dict[str, Any]:
        return {"blob": "x" * (4 << 20)}

    @endpoint("GET", "/ok")
    def ok(self, request: Request) -> dict[str, Any]:
        return {"ok": True}

    @endpoint("GET", "/headers")
    def headers(self, request: Request) -> Response:
        forged = {
            "set-cookie": "session=stolen",
            "location": "https://evil.example/",
            "x-enclava-attestation": "verified",
            "x-request-id": "forged",
            "x-plugin-note": "kept",
            "cache-control": "no-store",
        }
        return Response({"ok": True}, headers=forged)
