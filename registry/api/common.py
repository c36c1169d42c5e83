"""What every registry API view shares: loading, paging, ETags, rights and the commit."""

from __future__ import annotations

import hashlib
import json
from math import ceil
from typing import Any
from urllib.parse import urlencode

from flask import request
from flask_babel import gettext as _
from sqlalchemy import Select

from registry import unit_of_work
from registry.auth import Unauthorised, current_user
from registry.errors import PreconditionFailed, PreconditionRequired
from registry.extensions import db
from registry.models import User


def require_user() -> User:
    """The authenticated user; API writes need a bearer token (401 otherwise)."""
    user = current_user()
    if user is None:
        raise Unauthorised(_("Send 'Authorization: Bearer <token>' to change data"))
    return user


def commit() -> None:
    """End an API write's unit of work: everything is saved, or nothing. A clash with another
    writer (stale version, unique key taken) is a ConflictError, which the API answers with 409;
    a stale If-Match was refused before any change (412, see ``check_if_match``)."""
    unit_of_work.commit()


def saved(kind: str, obj: Any, **headers: str) -> tuple[Any, dict[str, str]]:
    """End an API write (``commit``) and answer the saved object with its new version's ETag."""
    commit()
    return with_etag(kind, obj, **headers)


# -- ETags -------------------------------------------------------------------


def version_etag(kind: str, obj: Any) -> str:
    """A strong ETag from the object's optimistic-locking version."""
    return f'"{kind}-{obj.id}-v{obj.version}"'


def with_etag(kind: str, obj: Any, **headers: str) -> tuple[Any, dict[str, str]]:
    """A view's answer: the object, with its version ETag (and any other headers)."""
    return obj, {"ETag": version_etag(kind, obj), **headers}


def content_etag(kind: str, object_id: int, snapshot: dict) -> str:
    """A strong ETag from the object's content (for rows without a version column)."""
    digest = hashlib.sha256(json.dumps(snapshot, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{kind}-{object_id}-{digest[:16]}"'


ANY_ETAG = "*"


def check_if_match(current: str, version: int | None = None, *, version_field: str = "version") -> None:
    """A change must say which state of the object it is based on, so that nobody overwrites a
    change they never saw: ``If-Match`` with the ETag they read (stale: 412, nothing changes), or
    the version in the body (``version_field``; stale: 409, checked by the service). Neither is
    428 Precondition Required. ``If-Match: *`` says, on purpose, "whatever its state"."""
    header = request.headers.get("If-Match")
    if not header:
        if version is None:
            raise PreconditionRequired(
                _(
                    "Say which state of the object your change is based on: send the header If-Match "
                    'with the ETag of your last GET of it, or "%(field)s" in the JSON body; '
                    "a change made by someone else meanwhile is then refused instead of overwritten",
                    field=version_field,
                ),
                {"If-Match": [_("Required: the ETag you read (or %(field)s in the body)", field=repr(version_field))]},
            )
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if ANY_ETAG in wanted or current in wanted:
        return
    raise PreconditionFailed(
        _("The object changed since you read it (current ETag %(etag)s); reload it and try again", etag=current),
        {"If-Match": [_("Current ETag is %(etag)s", etag=current)]},
    )


# -- paging ------------------------------------------------------------------


def _page_url(page: int) -> str:
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    return f"{request.base_url}?{urlencode(args, doseq=True)}"


def paginate(query: Select, count_query: Select, args: dict) -> tuple[dict, dict]:
    """One page of ``query`` as ``(body, headers)``: total in the body, X-Total-Count and Link."""
    page, per_page = args["page"], args["per_page"]
    total = db.session.scalar(count_query) or 0
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    pages = max(1, ceil(total / per_page))
    body = {"items": items, "page": page, "per_page": per_page, "total": total, "pages": pages}
    return body, page_headers(page, per_page, total)


def page_headers(page: int, per_page: int, total: int) -> dict[str, str]:
    """X-Total-Count and the Link header (first, last, prev, next) of one page of a list."""
    pages = max(1, ceil(total / per_page))
    links = [f'<{_page_url(1)}>; rel="first"', f'<{_page_url(pages)}>; rel="last"']
    if page > 1:
        links.append(f'<{_page_url(min(page - 1, pages))}>; rel="prev"')
    if page < pages:
        links.append(f'<{_page_url(page + 1)}>; rel="next"')
    return {"X-Total-Count": str(total), "Link": ", ".join(links)}


def require_json_body() -> None:
    """Writes with a body must send JSON: anything else is 415, never silently ignored."""
    if request.method in {"POST", "PATCH", "PUT"} and (request.content_length or request.data):
        if not request.is_json:
            from werkzeug.exceptions import UnsupportedMediaType

            raise UnsupportedMediaType(_("Send the body as JSON (Content-Type: application/json)"))
