"""The smallest Enclava plugin: ``GET /api/v1/plugins/hello/hello``, a default action
(``POST /api/v1/plugins/hello``) and a schedule counting its own runs."""

from enclava_sdk import BasePlugin, Context, Request, Response, endpoint, schedule


class Hello(BasePlugin):
    name = "hello"
    version = "1.1.0"

    @endpoint("GET", "/hello")
    def hello(self, request: Request) -> Response:
        who = request.query.get("name") or request.caller.id or "world"
        return Response({"message": f"Hello, {who}!"})

    async def execute(self, context: Context) -> Response:
        body = context.body if isinstance(context.body, dict) else {}
        who = body.get("name") or context.caller.id or "world"
        return Response({"message": f"Hello, {who}!"})

    @schedule("*/5 * * * *")
    def tick(self, context: Context) -> None:
        self.kv.incr("ticks")

    @endpoint("GET", "/ticks")
    def ticks(self, request: Request) -> Response:
        return Response({"ticks": self.kv.get("ticks", 0)})
