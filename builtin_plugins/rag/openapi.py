"""OpenAPI descriptions of the routes Litestar cannot infer: multipart uploads, the raw
download and the server-sent progress events."""

from __future__ import annotations

from builtin_plugins.rag.payloads import UploadResult
from kernel.openapi.operation import Body, OperationDoc

__all__ = ["DOWNLOAD_DOC", "EVENTS_DOC", "UPLOAD_DOC"]

_FILES = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "The files; every part with a file name is taken, whatever its field.",
        }
    },
}

UPLOAD_DOC = OperationDoc(
    request=Body(content={"multipart/form-data": _FILES}, description="One or more files."),
    responses={
        202: Body(
            content={"application/json": UploadResult},
            description="One document and queued job per file taken; an error per file refused.",
        )
    },
)

DOWNLOAD_DOC = OperationDoc(
    responses={
        200: Body(
            content={"application/octet-stream": {"type": "string", "format": "binary"}},
            description="The original file (its sniffed media type in Content-Type).",
        )
    }
)

EVENTS_DOC = OperationDoc(
    responses={
        200: Body(
            content={"text/event-stream": {"type": "string"}},
            description=(
                "`progress` events whose data is the job (`id`, `state`, `progress`, `error`), "
                "until the job is indexed, failed or cancelled; `deleted` if the document goes."
            ),
        )
    }
)
