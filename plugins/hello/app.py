"""The smallest Enclava plugin: ``GET /api/v1/plugins/hello/hello``."""

from enclava_sdk import BasePlugin, Request, Response, endpoint


class Hello(BasePlugin):
    name = "hello"
    version = "1.0.0"

    @endpoint("GET", "/hello")
    def hello(self, request: Request) -> Response:
        who = request.query.get("name") or request.caller.id or "world"
        return Response({"message": f"Hello, {who}!"})
