"""Field checks over GraphQL and HTTP: town staff record a visit from a phone; staff read a town's checks.

GraphQL: ``recordFieldCheck`` (steward and above), ``Enterprise.fieldChecks`` (latest first) and
``fieldChecks(town, month)`` (analyst and above). HTTP, for the photo, which GraphQL over JSON cannot
carry: ``POST /field-checks`` (multipart: the same fields and a ``photo`` part) and
``GET /field-checks/{id}/photo``. The rules are ``resolution/field_checks.py``'s.

Who does what: **stewards record checks** — the role town staff carry (they resolve their town's
matches and warnings too); admins may. Analysts read checks; the public and the collection channels'
roles see none (a visit is the city's internal work). What each reader sees:

========= =================================================================================
role      sees of a check
========= =================================================================================
analyst   what was seen (status, employees, note), when, the town, whether there is a photo;
          the checker's name masked (王*), no photo, no device, no location
steward   everything: the checker, the role, the device, the channel, the location, the photo
========= =================================================================================

As everywhere (``api/visibility.py``), a check of an enterprise only datasets hidden from the caller
know is not there for it, and such an enterprise cannot be checked (it answers as one that does not exist).
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

import strawberry
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from strawberry.types import Info

from entgraph.api.auth import Principal, Role, requires
from entgraph.api.channel_routes import ChannelRoutes
from entgraph.api.client_errors import BadInput, Forbidden, NotFound
from entgraph.api.context import Context
from entgraph.api.masking import MaskKind, mask_value
from entgraph.api.pagination import MAX_PAGE, PageInfo, decode_cursor, encode_cursor
from entgraph.api.visibility import visibility, visibility_of
from entgraph.graph import field_check_queries
from entgraph.graph.visibility import Visibility
from entgraph.resolution.field_checks import (
    MAX_PHOTO_BYTES,
    FieldCheckRefused,
    FieldChecks,
    UnknownEnterprise,
    check_month,
    photo_of,
    this_month,
)
from entgraph.settings import Settings

TAG = "field checks"
# The body of POST /field-checks: the photo and a few form fields (app.py's body limit for the path).
MAX_BODY_BYTES = MAX_PHOTO_BYTES + 64 * 1024
MAX_ENTERPRISE_CHECKS = 50


@strawberry.enum(description="What the checker found at the enterprise's premises.")
class FieldCheckStatus(Enum):
    OPERATING = "operating"
    STOPPED = "stopped"
    MOVED = "moved"
    CLOSED = "closed"


@strawberry.type(description="The photo taken at a check, kept with its SHA-256 (steward and above).")
class FieldCheckPhoto:
    name: str
    bytes: int
    sha256: str
    type: str = strawberry.field(description="image/jpeg, image/png, image/webp or image/heic")
    url: str = strawberry.field(description="GET it with the caller's credential.")


@strawberry.type(description="An on-site check of an enterprise by town staff: a source of its own.")
class FieldCheck:
    id: str
    enterprise_id: str = strawberry.field(description="The live enterprise the check is about.")
    recorded_on: str = strawberry.field(
        description="The enterprise id it was recorded on (a merged-away id once that enterprise merged)."
    )
    enterprise_name: str | None = strawberry.field(description="Its name, in a town's list of checks.")
    credit_code: str | None
    town: str = strawberry.field(description="The enterprise's town when checked (未定镇街 when none).")
    month: str = strawberry.field(description="YYYY-MM, China time.")
    status_seen: FieldCheckStatus
    employees_seen: int | None
    note: str
    checked_at: str = strawberry.field(description="ISO 8601, China time with its +08:00 offset.")
    checked_by: str | None = strawberry.field(description="Who checked: masked for analysts.")
    checked_role: str | None = strawberry.field(description="The checker's role (steward and above).")
    device: str | None = strawberry.field(description="The phone's or browser's User-Agent (steward and up).")
    via: str | None = strawberry.field(description="graphql or http (steward and above).")
    lng: float | None = strawberry.field(description="Where the phone was, WGS-84 (steward and above).")
    lat: float | None
    has_photo: bool
    photo: FieldCheckPhoto | None = strawberry.field(description="Null below the steward role.")


def as_seen(props: dict[str, Any], role: Role, enterprise: str | None = None) -> FieldCheck:
    """A check as ``role`` may see it (the table in the module docstring); ``enterprise``: the live id
    it is now about, when known."""
    full = role.covers(Role.STEWARD)
    photo = photo_of(props)
    employees, by = props.get("employees_seen"), props.get("checked_by")
    return FieldCheck(
        id=props["id"],
        enterprise_id=enterprise or props["enterprise_id"],
        recorded_on=props["enterprise_id"],
        enterprise_name=props.get("enterprise_name"),
        credit_code=props.get("credit_code"),
        town=props["town"],
        month=props["month"],
        status_seen=FieldCheckStatus(props["status_seen"]),
        employees_seen=None if employees is None else int(employees),
        note=props.get("note") or "",
        checked_at=props["checked_at"],
        checked_by=by if full else mask_value(MaskKind.PERSON_NAME, by),
        checked_role=props.get("checked_role") if full else None,
        device=(props.get("device") or None) if full else None,
        via=props.get("via") if full else None,
        lng=props.get("lng") if full else None,
        lat=props.get("lat") if full else None,
        has_photo=photo is not None,
        photo=(
            FieldCheckPhoto(
                name=photo["name"],
                bytes=int(photo["bytes"]),
                sha256=photo["sha256"],
                type=photo["type"],
                url=f"/field-checks/{props['id']}/photo",
            )
            if photo and full
            else None
        ),
    )


def as_json(check: FieldCheck) -> dict[str, Any]:
    """A check for the HTTP routes: the GraphQL type's fields, named as GraphQL names them."""
    data = dataclasses.asdict(check)
    data["status_seen"] = check.status_seen.value
    return {_camel(k): v for k, v in data.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _service(settings: Settings, store: Any) -> FieldChecks:
    return FieldChecks(store, settings.home / "field-checks")


def _actor(principal: Principal) -> str:
    return principal.subject or principal.role.value


def _refused(exc: FieldCheckRefused) -> Exception:
    if isinstance(exc, UnknownEnterprise):
        return NotFound(str(exc))
    return BadInput(str(exc))


# --- the panorama's field ---------------------------------------------------------------------------


async def enterprise_field_checks(
    info: Info[Context, None], enterprise_id: str, first: int
) -> list[FieldCheck] | None:
    """``Enterprise.fieldChecks``: its checks, latest first (those recorded on enterprises merged into
    it too); null below the analyst role."""
    context = info.context
    if not context.principal.role.covers(Role.ANALYST):
        return None
    if not 1 <= first <= MAX_ENTERPRISE_CHECKS:
        raise BadInput(f"first must be between 1 and {MAX_ENTERPRISE_CHECKS}", argument="first")

    async def load(keys: list[tuple[str, int]]) -> list[list[dict[str, Any]]]:
        found = await context.in_thread(
            field_check_queries.for_enterprises,
            context.store,
            sorted({k[0] for k in keys}),
            max(k[1] for k in keys),
        )
        return [found.get(eid, [])[:n] for eid, n in keys]

    rows = await context.loader("enterprise.field_checks", load).load((enterprise_id, first))
    return [as_seen(r, context.principal.role, enterprise_id) for r in rows]


# --- root fields ------------------------------------------------------------------------------------


@strawberry.type
class FieldCheckEdge:
    cursor: str
    node: FieldCheck


@strawberry.type(description="A page of field checks, latest first.")
class FieldCheckConnection:
    total_count: int
    edges: list[FieldCheckEdge]
    page_info: PageInfo


@strawberry.type
class FieldCheckQuery:
    @strawberry.field(
        description="A town's field checks in a month (YYYY-MM, China time; default: this month), latest "
        "first: relay-style pages of at most 100 (analyst and above). Town 未定镇街: enterprises no "
        "record places in a town.",
        permission_classes=[requires(Role.ANALYST)],
    )
    async def field_checks(
        self,
        info: Info[Context, None],
        town: str,
        month: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> FieldCheckConnection:
        if not 1 <= first <= MAX_PAGE:
            raise BadInput(f"first must be between 1 and {MAX_PAGE}", argument="first")
        try:
            wanted = check_month(month) if month is not None else this_month()
        except FieldCheckRefused as exc:
            raise BadInput(str(exc), argument="month") from None
        position = decode_cursor("field-check", after, json_position=True) if after else None
        if position is not None and not (
            isinstance(position, list) and len(position) == 2 and all(isinstance(p, str) for p in position)
        ):
            raise BadInput("after is not a cursor this field returned", argument="after")
        context = info.context
        page = await context.in_thread(
            field_check_queries.by_town,
            context.store,
            town[:100],
            wanted,
            first,
            tuple(position) if position else None,
            visibility(context),
        )
        role = context.principal.role
        edges = [
            FieldCheckEdge(
                cursor=encode_cursor("field-check", [c["checked_at"], c["id"]]),
                node=as_seen(c, role, c["enterprise"]),
            )
            for c in page["items"]
        ]
        return FieldCheckConnection(
            total_count=int(page["total"]),
            edges=edges,
            page_info=PageInfo(
                has_next_page=bool(page["has_next"]), end_cursor=edges[-1].cursor if edges else None
            ),
        )


@strawberry.type
class FieldCheckMutation:
    @strawberry.mutation(
        description="Record an on-site check of an enterprise (a merged-away id: its survivor) as the "
        "caller saw it (steward and above: town staff). A photo goes with POST /field-checks. ``key`` "
        "names the visit: sent again (a retry after a lost answer), the check is recorded once.",
        permission_classes=[requires(Role.STEWARD)],
    )
    async def record_field_check(
        self,
        info: Info[Context, None],
        enterprise_id: str,
        status: FieldCheckStatus,
        employees_seen: int | None = None,
        note: str = "",
        lng: float | None = None,
        lat: float | None = None,
        key: str | None = None,
    ) -> FieldCheck:
        context = info.context
        principal = context.principal
        request = context.request
        device = request.headers.get("user-agent", "") if request is not None else ""

        def record() -> dict[str, Any]:
            return _service(context.settings, context.store).record(
                enterprise_id,
                status=status.value,
                employees_seen=employees_seen,
                note=note,
                by=_actor(principal),
                role=principal.role.value,
                device=device,
                via="graphql",
                lng=lng,
                lat=lat,
                key=key,
                sight=visibility(context),
            )

        try:
            kept = await context.in_thread(record)
        except FieldCheckRefused as exc:
            raise _refused(exc) from None
        return as_seen(kept, principal.role)


# --- HTTP: the check with its photo, the photo -------------------------------------------------------


def _number(fields: dict[str, str], name: str, kind: type[int] | type[float]) -> Any:
    text = (fields.get(name) or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise BadInput(f"{name}: a number, not {text[:20]!r}") from None


def _text(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


# POST /field-checks as OpenAPI describes it (the route reads the form itself, to stream the photo).
_FORM = {
    "type": "object",
    "required": ["enterpriseId", "status"],
    "properties": {
        "enterpriseId": _text("The enterprise's id (a merged-away id: its survivor is checked)."),
        "status": {"type": "string", "enum": [s.value for s in FieldCheckStatus]},
        "employeesSeen": {"type": "integer", "minimum": 0},
        "note": _text("What was seen; where to, for a move (at most 500 characters)."),
        "lng": {"type": "number", "description": "Longitude, WGS-84 (with lat)."},
        "lat": {"type": "number", "description": "Latitude, WGS-84 (with lng)."},
        "key": _text("The visit's own key: a retry with it records nothing new."),
        "photo": {
            "type": "string",
            "format": "binary",
            "description": "JPEG, PNG, WebP or HEIC, 10 MB at most.",
        },
    },
}


def register_field_checks(app: FastAPI, routes: ChannelRoutes) -> None:
    principal_of, store = routes.principal, routes.store

    def checks() -> FieldChecks:
        return routes.once("field_checks", lambda: _service(routes.settings, routes.store()))

    def sight(principal: Principal) -> Visibility:
        return visibility_of(routes.catalog(), principal.role)

    @app.post(
        "/field-checks",
        status_code=201,
        tags=[TAG],
        summary="Record a field check with its photo (steward and above)",
        openapi_extra={
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _FORM}}}
        },
    )
    async def record(request: Request) -> JSONResponse:
        principal = principal_of(request)
        if not principal.role.covers(Role.STEWARD):
            raise Forbidden("field checks are recorded by town staff (steward)", requiredRole="steward")
        form = await request.form(max_files=2, max_fields=12)
        try:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            part = form.get("photo")
            photo = (part.filename or "", part.file) if isinstance(part, UploadFile) else None
            kept = await run_in_threadpool(
                checks().record,
                fields.get("enterpriseId", ""),
                status=fields.get("status", ""),
                employees_seen=_number(fields, "employeesSeen", int),
                note=fields.get("note", ""),
                by=_actor(principal),
                role=principal.role.value,
                device=request.headers.get("user-agent", ""),
                via="http",
                photo=photo,
                lng=_number(fields, "lng", float),
                lat=_number(fields, "lat", float),
                key=fields.get("key") or None,
                sight=sight(principal),
            )
        except FieldCheckRefused as exc:
            raise _refused(exc) from None
        finally:
            await form.close()
        return JSONResponse(as_json(as_seen(kept, principal.role)), status_code=201)

    @app.get(
        "/field-checks/{check_id}/photo", tags=[TAG], summary="A field check's photo (steward and above)"
    )
    def photo(check_id: str, request: Request) -> FileResponse:
        principal = principal_of(request)
        if not principal.role.covers(Role.STEWARD):
            raise Forbidden("a check's photo is for town staff (steward)", requiredRole="steward")
        found = field_check_queries.get(store(), check_id[:100])
        kept = photo_of(found) if found else None
        # a check of an enterprise the caller may not see answers as a missing one
        seen = kept is not None and field_check_queries.current_enterprise(
            store(), found["id"], sight(principal)
        )
        if not seen:
            raise NotFound(f"no photo of field check {check_id[:100]}")
        return FileResponse(
            kept["path"], media_type=kept["type"], headers={"Cache-Control": "private, no-store"}
        )
