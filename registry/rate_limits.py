"""What is rate-limited, by which key, and how a refusal reads (Flask-Limiter).

- Login: failed attempts per client address and per account (``RATELIMIT_LOGIN_IP``,
  ``RATELIMIT_LOGIN_ACCOUNT``); a successful login does not count, so only guessing is slowed.
- API tokens: every request that sends a token, per token (``RATELIMIT_API_TOKEN``), and
  requests whose token is refused, per client address (``RATELIMIT_API_TOKEN_FAILURES``).
- Uploads (imports) and exports: per user, or per client address for anonymous exports
  (``RATELIMIT_UPLOADS``, ``RATELIMIT_EXPORTS``).

Each limit is read from the app's configuration on every request, so an operator changes
it with an environment variable and a test with ``app.config``. The counters live in
``RATELIMIT_STORAGE_URI`` (memory:// on a laptop; Redis in production, where every
process must see the same counts). A refusal is the 429 of the application's error shape,
JSON on the API and a page in the browser, with ``Retry-After`` in seconds.

This module imports nothing of the registry at load time: ``registry.extensions`` builds
the limiter from the application-wide limits below.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable

from flask import current_app, g, request
from flask.wrappers import Response
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_limiter import ApplicationLimit, RequestLimit, RouteLimit
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage


class ThreadSafeMemoryStorage(MemoryStorage):
    """memory:// counters that a threaded server can share.

    limits' MemoryStorage restarts its expiry timer after each hit without a lock: two request
    threads hitting at the same moment can start the same timer twice, which raises in one of
    them ("threads can only be started once") or breaks the timer thread. limits merged a lock
    for this (alisaifee/limits pull request 352) after its 5.8.0 release; until a release
    carries it, this subclass takes the place of the memory scheme (limits registers storages
    by scheme, the last class defined for a scheme wins) and adds that lock.
    """

    STORAGE_SCHEME = ["memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        self._timer_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        del state["_timer_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self._timer_lock = threading.Lock()
        super().__setstate__(state)

    def _MemoryStorage__schedule_expiry(self) -> None:  # the parent's private method, by its mangled name
        with self._timer_lock:
            MemoryStorage._MemoryStorage__schedule_expiry(self)  # type: ignore[attr-defined]


LOGIN_IP = "RATELIMIT_LOGIN_IP"
LOGIN_ACCOUNT = "RATELIMIT_LOGIN_ACCOUNT"
API_TOKEN = "RATELIMIT_API_TOKEN"
API_TOKEN_FAILURES = "RATELIMIT_API_TOKEN_FAILURES"
UPLOADS = "RATELIMIT_UPLOADS"
EXPORTS = "RATELIMIT_EXPORTS"


def setting(name: str) -> Callable[[], str]:
    """The limit named ``name`` in the app's configuration, read at each request."""
    return lambda: current_app.config[name]


def client_address() -> str:
    """The client's address (behind a reverse proxy, set TRUSTED_PROXIES so that it is the client's)."""
    return "ip:" + get_remote_address()


def _bearer_token() -> str | None:
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _token_key() -> str:
    # a digest, so that the store of counters never holds a usable token
    return "token:" + hashlib.sha256((_bearer_token() or "").encode()).hexdigest()


def _no_token() -> bool:
    return _bearer_token() is None


def _no_authorization() -> bool:
    return "Authorization" not in request.headers


def _refused(response: Response) -> bool:
    return response.status_code == 401


def user_or_address() -> str:
    """The logged-in user (session or token) or, for an anonymous request, its address."""
    from registry.auth import identify  # the limiter checks before the app's own hooks run

    user = identify()
    return f"user:{user.id}" if user is not None else client_address()


def _login_account() -> str:
    # the e-mail as typed, normalised as accounts.find_user does; known or not, it is counted
    return "account:" + request.form.get("email", "").strip().lower()


def _no_account() -> bool:
    return not request.form.get("email", "").strip()


def _login_failed(response: Response) -> bool:
    return not response.status_code == 302  # a successful login redirects


def _remember_wait(limit: RequestLimit) -> None:
    g.rate_limit_wait = max(1, int(limit.reset_at - time.time()))


def _wait(seconds: int) -> str:
    """How long until the limit lets the client in again, in the request's language."""
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    if not rest:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    return ngettext("%(num)d minute %(seconds)d s", "%(num)d minutes %(seconds)d s", minutes, seconds=rest)


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is said."""
    return message


# What a refusal says, a whole sentence for each limit: with the wait ("try again in 5 seconds")
# when the limiter said when the window ends, else without it. Said in the request's language
# when the refusal is made.
REFUSALS = {
    "api-token": (
        N_("Too many requests with this API token; try again in %(wait)s."),
        N_("Too many requests with this API token; try again later."),
    ),
    "api-token-refused": (
        N_("Too many refused API tokens from this address; try again in %(wait)s."),
        N_("Too many refused API tokens from this address; try again later."),
    ),
    "login-account": (
        N_("Too many failed logins for this account; try again in %(wait)s."),
        N_("Too many failed logins for this account; try again later."),
    ),
    "login-address": (
        N_("Too many failed logins from this address; try again in %(wait)s."),
        N_("Too many failed logins from this address; try again later."),
    ),
    "uploads": (
        N_("Too many uploads; try again in %(wait)s."),
        N_("Too many uploads; try again later."),
    ),
    "exports": (
        N_("Too many exports; try again in %(wait)s."),
        N_("Too many exports; try again later."),
    ),
}


def refusal(which: str) -> str:
    """The message of a refusal by the limit ``which`` (a key of REFUSALS)."""
    with_wait, without = REFUSALS[which]
    seconds = g.get("rate_limit_wait")
    if not seconds:
        return _(without)
    return _(with_wait, wait=_wait(seconds))


def _message(which: str) -> Callable[[], str]:
    return lambda: refusal(which)


# Every request that sends a token counts against that token; a refused token counts against the
# address that sent it, so that guessing tokens is slowed as guessing passwords is.
API_TOKEN_LIMITS = [
    ApplicationLimit(
        limit_provider=setting(API_TOKEN),
        key_function=_token_key,
        scope="api-token",
        exempt_when=_no_token,
        on_breach=_remember_wait,
        error_message=_message("api-token"),
    ),
    ApplicationLimit(
        limit_provider=setting(API_TOKEN_FAILURES),
        key_function=client_address,
        scope="api-token-refused",
        exempt_when=_no_authorization,
        deduct_when=_refused,
        on_breach=_remember_wait,
        error_message=_message("api-token-refused"),
    ),
]


def _limiter():
    from registry.extensions import limiter  # imported late: extensions imports this module

    return limiter


def login_limits(view: Callable) -> Callable:
    """Failed logins, counted per client address and per account (the e-mail typed)."""
    limiter = _limiter()
    per_account = limiter.limit(
        setting(LOGIN_ACCOUNT),
        key_func=_login_account,
        methods=["POST"],
        exempt_when=_no_account,
        deduct_when=_login_failed,
        on_breach=_remember_wait,
        error_message=_message("login-account"),
    )
    per_address = limiter.limit(
        setting(LOGIN_IP),
        key_func=client_address,
        methods=["POST"],
        deduct_when=_login_failed,
        on_breach=_remember_wait,
        error_message=_message("login-address"),
    )
    return per_address(per_account(view))


@functools.cache
def _shared(setting_name: str, scope: str) -> RouteLimit:
    # one limit object a scope: decorating several views with it keeps one count and one check
    return _limiter().shared_limit(
        setting(setting_name),
        scope=scope,
        key_func=user_or_address,
        on_breach=_remember_wait,
        error_message=_message(scope),
    )


def upload_limit(view: Callable) -> Callable:
    """Limit a view (or the function of a view) that takes an upload to import, per user; every
    upload view draws on the same count."""
    return _shared(UPLOADS, "uploads")(view)


def export_limit(view: Callable) -> Callable:
    """Limit a function that builds an export (CSV, workbook, XML) before it does the work, per user
    (per address when anonymous); every export draws on the same count."""
    return _shared(EXPORTS, "exports")(view)
