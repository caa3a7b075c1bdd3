"""Pages from Jinja2 templates (autoescaped), with the headers every dashboard answer carries,
and the answers to the dashboard's own exceptions (sign in again, CSRF refused, API failure)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import Request, Response
from litestar.response import Redirect
from litestar.types import ExceptionHandlersMap

from builtin_plugins.dashboard.api import ApiFailure
from builtin_plugins.dashboard.session import (
    CsrfRefused,
    PasswordChangeRequired,
    SignInRequired,
    clear_session,
)

if TYPE_CHECKING:  # Jinja2 (~4 MiB) loads when the first page is rendered
    from jinja2 import Environment

__all__ = [
    "LOGIN_URL",
    "PASSWORD_URL",
    "SECURITY_HEADERS",
    "Pages",
    "exception_handlers",
    "is_htmx",
    "redirect",
]

TEMPLATES = Path(__file__).parent / "templates"
LOGIN_URL = "/dashboard/login"
PASSWORD_URL = "/dashboard/password"  # noqa: S105 (a page address)
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def redirect(request: Request[Any, Any, Any], url: str) -> Response[Any]:
    """A 303 to ``url``; for htmx an ``HX-Redirect`` so the whole page goes there."""
    if is_htmx(request):
        return Response(b"", status_code=200, headers={**SECURITY_HEADERS, "hx-redirect": url})
    return Redirect(url, status_code=303, headers=SECURITY_HEADERS)


class Pages:
    """Renders the dashboard's templates."""

    def __init__(self) -> None:
        self._loaded: Environment | None = None

    @property
    def _env(self) -> Environment:
        if self._loaded is None:
            from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

            self._loaded = Environment(
                loader=FileSystemLoader(TEMPLATES),
                autoescape=select_autoescape(default=True, default_for_string=True),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
        return self._loaded

    def html(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context)

    def page(self, name: str, *, status: int = 200, **context: Any) -> Response[str]:
        """An HTML answer from template ``name``."""
        return Response(
            self.html(name, **context),
            status_code=status,
            media_type="text/html; charset=utf-8",
            headers=SECURITY_HEADERS,
        )


def _sign_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    response = redirect(request, LOGIN_URL)
    clear_session(response)
    return response


def _change_password(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return redirect(request, PASSWORD_URL)


def exception_handlers(pages: Pages) -> ExceptionHandlersMap:
    """The dashboard router's handlers for its own exceptions (pages render the errors)."""

    def error(status: int, message: str) -> Response[str]:
        return pages.page("error.html", status=status, message=message, viewer=None, csrf=None)

    def csrf(_: Request[Any, Any, Any], __: Exception) -> Response[str]:
        return error(403, "This form has expired or did not come from this dashboard. Reload it.")

    def api_failure(_: Request[Any, Any, Any], exc: Exception) -> Response[str]:
        answer = exc.answer if isinstance(exc, ApiFailure) else None
        return error(answer.status if answer else 500, str(exc))

    return {
        SignInRequired: _sign_in,
        PasswordChangeRequired: _change_password,
        CsrfRefused: csrf,
        ApiFailure: api_failure,
    }
