"""Who is calling, and what their role lets them do.

Roles are ordered: ``admin`` ⊇ ``steward`` ⊇ ``analyst`` ⊇ ``public``. Beside them are the collection
channels' roles, each with a **scope**: ``department`` (scope ``<city>:<department>`` as the catalog names
it, e.g. ``晋江:市税务局``) submits that department's datasets, and ``enterprise`` (scope: its unified
social credit code) reports for that one enterprise. Both read the graph as ``public`` does and see only
what they submitted and its outcome; ``admin`` may do what either may. A caller proves a role in one
of two ways, or sends no credentials and is ``public``:

- ``Authorization: Bearer <JWT>``, HS256-signed with ``ENTGRAPH_API_JWT_SECRET``, claims ``sub``,
  ``role`` and ``exp`` (all required), and ``scope`` for the channel roles. For single sign-on gateways
  and development.
- ``X-API-Key: <key>`` for services. The keys file (``ENTGRAPH_API_KEYS_FILE``) holds only the SHA-256
  of each key, so a leaked file grants nothing; keys are compared in constant time.

Credentials that are sent and do not hold (bad signature, expired, unknown key) are refused with HTTP 401
rather than downgraded to ``public``: a client with a broken token should learn it at once, not receive
silently masked data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import jwt
from pydantic import SecretStr
from strawberry.permission import BasePermission
from strawberry.types import Info

from entgraph.api.client_errors import Forbidden, Unauthenticated
from entgraph.errors import ConfigurationError

log = logging.getLogger("entgraph.api.auth")

JWT_ALGORITHM = "HS256"
KEY_PREFIX = "egk_"  # makes a leaked key recognisable to secret scanners and to people


class Role(StrEnum):
    """Access roles: the nested chain from least to most trusted, then the collection channels' roles."""

    PUBLIC = "public"  # anyone: only data open to the public
    ANALYST = "analyst"  # city departments' analysts: shared data, personal data masked
    STEWARD = "steward"  # data stewards: everything shared, unmasked; resolve matches
    ADMIN = "admin"  # operators: also data marked 不予共享
    DEPARTMENT = "department"  # a department's clerks: upload and dock its datasets (scope: city:department)
    ENTERPRISE = "enterprise"  # an enterprise's reporter: direct reports, honours (scope: its credit code)

    @property
    def rank(self) -> int:
        """Rank in reading the graph: the channel roles read as the public does."""
        return _RANKS[self]

    @property
    def is_channel(self) -> bool:
        """A collection channel's role: scoped, and beside the nested chain rather than in it."""
        return self in _CHANNELS

    def covers(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may: the nested chain by rank; a channel role's
        rights belong to that role itself and to ``admin`` only."""
        if other.is_channel:
            return self is other or self is Role.ADMIN
        return self.rank >= other.rank

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValueError(f"unknown role {value!r}; roles are {', '.join(cls)}") from None


_RANKS = {
    Role.PUBLIC: 0,
    Role.ANALYST: 1,
    Role.STEWARD: 2,
    Role.ADMIN: 3,
    Role.DEPARTMENT: 0,
    Role.ENTERPRISE: 0,
}
_CHANNELS = frozenset({Role.DEPARTMENT, Role.ENTERPRISE})


def check_scope(role: Role, scope: str | None) -> str | None:
    """The scope a principal of ``role`` carries, trimmed: required for the channel roles (what they may
    submit for), refused for the others (whose reach is the role alone). Raises ``ValueError``."""
    scope = (scope or "").strip() or None
    if role.is_channel and scope is None:
        what = "city:department" if role is Role.DEPARTMENT else "the enterprise's credit code"
        raise ValueError(f"the {role.value} role needs a scope ({what})")
    if not role.is_channel and scope is not None:
        raise ValueError(f"the {role.value} role takes no scope")
    if role is Role.DEPARTMENT and scope is not None and ":" not in scope:
        raise ValueError(f"a department scope is 'city:department' (e.g. 晋江:市税务局), not {scope!r}")
    return scope


def known_scope(role: Role, scope: str | None, departments: set[str]) -> str | None:
    """``check_scope``, and the scope names something real: a department the catalog has
    (``departments``, its datasets' owners), a valid credit code (a typo would make a credential that
    can submit nothing). Raises ``ValueError``."""
    from entgraph.identity.codes import is_valid_credit_code

    scope = check_scope(role, scope)
    if role is Role.DEPARTMENT and scope not in departments:
        raise ValueError(f"{scope!r} owns no dataset; one of: {', '.join(sorted(departments))}")
    if role is Role.ENTERPRISE and not is_valid_credit_code(scope):
        raise ValueError(f"{scope!r} is not a valid unified social credit code")
    return scope


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    role: Role
    subject: str | None = None  # the token's ``sub`` or the API key's name; None when anonymous
    method: Literal["anonymous", "token", "api_key"] = "anonymous"
    scope: str | None = None  # department (city:department) or enterprise (credit code) roles only


ANONYMOUS = Principal(Role.PUBLIC)


# -- bearer tokens ---------------------------------------------------------------------------------


def issue_token(
    secret: SecretStr, role: Role, subject: str, ttl_seconds: int, scope: str | None = None
) -> str:
    """A signed token for ``subject`` with ``role`` (and ``scope``) that expires after ``ttl_seconds``."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    if scope is not None:
        claims["scope"] = check_scope(role, scope)
    return jwt.encode(claims, secret.get_secret_value(), algorithm=JWT_ALGORITHM)


DEFAULT_MAX_TOKEN_DAYS = 31


def verify_token(token: str, secret: SecretStr | None, max_days: int = DEFAULT_MAX_TOKEN_DAYS) -> Principal:
    if secret is None:
        raise Unauthenticated(
            "bearer tokens are not accepted by this server (ENTGRAPH_API_JWT_SECRET is not set); "
            "use an X-API-Key or no credentials"
        )
    try:
        # The algorithm is pinned: never let the token's own header choose it ("alg": "none" attacks).
        claims = jwt.decode(
            token,
            secret.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the bearer token has expired; get a new one") from None
    except jwt.ImmatureSignatureError:
        raise Unauthenticated(
            "the bearer token is not valid yet (its 'nbf' or 'iat' is in the future)"
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"the bearer token has no {exc.claim!r} claim") from None
    except jwt.exceptions.InvalidSubjectError:
        raise Unauthenticated("the bearer token's 'sub' claim must be a string") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated(
            "the bearer token is not valid (malformed, or signed with another key)"
        ) from None
    try:
        role = Role.parse(str(claims["role"]))
    except ValueError as exc:
        raise Unauthenticated(f"the bearer token names an {exc}") from None
    subject = str(claims["sub"]).strip()
    if not subject:
        raise Unauthenticated("the bearer token has an empty 'sub' claim")
    raw_scope = claims.get("scope")
    try:
        scope = check_scope(role, raw_scope if isinstance(raw_scope, str) else None)
    except ValueError as exc:
        raise Unauthenticated(f"the bearer token's 'scope' claim does not hold: {exc}") from None
    # A token is a credential that cannot be revoked: one that lives for years is a standing key.
    now = datetime.now(UTC).timestamp()
    issued = claims.get("iat")
    start = issued if isinstance(issued, int | float) else now
    if claims["exp"] - min(start, now) > max_days * 86_400:
        raise Unauthenticated(
            f"the bearer token lives longer than {max_days} days (ENTGRAPH_API_MAX_TOKEN_DAYS); "
            "issue a shorter one"
        )
    return Principal(role, subject, "token", scope)


# -- API keys --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKeyEntry:
    digest: str  # SHA-256 of the key, lowercase hex
    role: Role
    name: str
    created: str = ""
    scope: str | None = None  # the channel roles' scope (see check_scope)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class ApiKeyFile:
    """The API keys file: SHA-256 of each key -> ``{role, name, created}``, TOML or JSON (by suffix).

    It is re-read when it changes on disk, so keys created or revoked with the CLI take effect in a
    running server without a restart. A file that turns unreadable while the server runs is logged and
    the keys read before stay in force; at start-up (``check``) it is an error.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._entries: list[ApiKeyEntry] = []

    def check(self) -> list[ApiKeyEntry]:
        """Read the file now; raise ``ConfigurationError`` if it is malformed."""
        with self._lock:
            self._entries, self._stamp = self._read(), self._current_stamp()
            return list(self._entries)

    def entries(self) -> list[ApiKeyEntry]:
        with self._lock:
            stamp = self._current_stamp()
            if stamp != self._stamp:
                try:
                    self._entries = self._read()
                except ConfigurationError as exc:
                    log.error("keeping the API keys read before: %s", exc)
                self._stamp = stamp
            return list(self._entries)

    def lookup(self, key: str) -> ApiKeyEntry | None:
        """The entry of ``key``, comparing its digest with every entry in constant time."""
        presented = key_digest(key).encode("ascii")
        found = None
        for entry in self.entries():
            # No early exit: the time taken does not depend on which entry (if any) matches.
            if hmac.compare_digest(presented, entry.digest.encode("ascii")):
                found = entry
        return found

    def create(self, role: Role, name: str, scope: str | None = None) -> str:
        """Make a new key for ``name``; store its digest and return the key (shown once, never kept)."""
        name = name.strip()
        if not name:
            raise ConfigurationError("an API key needs a name (who or what uses it)")
        try:
            scope = check_scope(role, scope)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        with self._lock:
            entries = self._read()
            if any(entry.name == name for entry in entries):
                raise ConfigurationError(
                    f"an API key named {name!r} exists in {self.path}; revoke it first or pick another name"
                )
            key = KEY_PREFIX + secrets.token_urlsafe(32)
            created = datetime.now(UTC).isoformat(timespec="seconds")
            self._write([*entries, ApiKeyEntry(key_digest(key), role, name, created, scope)])
            self._stamp = None  # re-read on next use
            return key

    def revoke(self, name: str) -> bool:
        with self._lock:
            entries = self._read()
            kept = [entry for entry in entries if entry.name != name]
            if len(kept) == len(entries):
                return False
            self._write(kept)
            self._stamp = None
            return True

    # -- file format ------------------------------------------------------------------------------

    @property
    def _is_json(self) -> bool:
        return self.path.suffix.lower() == ".json"

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _read(self) -> list[ApiKeyEntry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigurationError(f"cannot read the API keys file {self.path}: {exc}") from exc
        try:
            data: Any = json.loads(text) if self._is_json else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"the API keys file {self.path} is malformed: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigurationError(f"the API keys file {self.path} must map key hashes to entries")
        return [self._entry(digest, value) for digest, value in data.items()]

    def _entry(self, digest: str, value: Any) -> ApiKeyEntry:
        where = f"the API keys file {self.path}, entry {digest[:12]!r}"
        if not _DIGEST.match(digest):
            raise ConfigurationError(f"{where}: the key must be the SHA-256 of an API key (64 hex digits)")
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            raise ConfigurationError(f"{where}: needs a table with 'role' and 'name'")
        try:
            role = Role.parse(str(value.get("role", "")))
            raw_scope = value.get("scope")
            scope = check_scope(role, raw_scope if isinstance(raw_scope, str) else None)
        except ValueError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        return ApiKeyEntry(digest, role, value["name"], str(value.get("created", "")), scope)

    def _write(self, entries: list[ApiKeyEntry]) -> None:
        if self._is_json:
            payload = {
                e.digest: {"role": e.role.value, "name": e.name, "created": e.created}
                | ({"scope": e.scope} if e.scope else {})
                for e in entries
            }
            text = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
        else:
            lines = [
                "# entgraph API keys: the SHA-256 of each key and who holds it. The keys are not kept here.",
                "# Manage with `entgraph api-key create | list | revoke`.",
            ]
            for e in entries:
                # json.dumps of a str is a valid TOML basic string (same escapes).
                lines += [
                    "",
                    f"[{e.digest}]",
                    f"role = {json.dumps(e.role.value)}",
                    f"name = {json.dumps(e.name, ensure_ascii=False)}",
                    f"created = {json.dumps(e.created)}",
                ]
                if e.scope:
                    lines.append(f"scope = {json.dumps(e.scope, ensure_ascii=False)}")
            text = "\n".join(lines) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside and rename: a reader (the running server) sees the old or the new file, never half.
        fd, tmp = tempfile.mkstemp(prefix=".api-keys-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# -- the request -----------------------------------------------------------------------------------


class Authenticator:
    """Turns a request's headers into a :class:`Principal`, or raises ``Unauthenticated``."""

    def __init__(
        self, jwt_secret: SecretStr | None, keys: ApiKeyFile, max_token_days: int = DEFAULT_MAX_TOKEN_DAYS
    ) -> None:
        self.jwt_secret = jwt_secret
        self.keys = keys
        self.max_token_days = max_token_days

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        if authorization is not None and api_key is not None:
            raise Unauthenticated("send either an Authorization header or an X-API-Key, not both")
        if authorization is not None:  # sent empty is a broken client, not an anonymous one
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
            return verify_token(token.strip(), self.jwt_secret, self.max_token_days)
        if api_key is not None:
            entry = self.keys.lookup(api_key.strip())
            if entry is None:
                raise Unauthenticated("unknown API key")
            return Principal(entry.role, entry.name, "api_key", entry.scope)
        return ANONYMOUS


# -- permissions on fields -------------------------------------------------------------------------


def role_required(needed: Role) -> Forbidden:
    """The error for a caller below ``needed``, alike for GraphQL fields and plain HTTP routes."""
    return Forbidden(f"this needs the {needed.value} role or higher", requiredRole=needed.value)


def _permission(needed: Role) -> type[BasePermission]:
    message = role_required(needed).message

    def has_permission(self: BasePermission, source: Any, info: Info, **kwargs: Any) -> bool:
        principal: Principal = info.context.principal
        return principal.role.covers(needed)

    def on_unauthorized(self: BasePermission) -> None:
        raise role_required(needed)

    # Built with type() so each class has its own name from the start: Strawberry derives a schema
    # directive name from the class name when the class is created.
    return type(
        f"Requires{needed.name.title()}",
        (BasePermission,),
        {"message": message, "has_permission": has_permission, "on_unauthorized": on_unauthorized},
    )


_PERMISSIONS = {role: _permission(role) for role in Role}


def requires(role: Role | str) -> type[BasePermission]:
    """The permission class for fields and mutations that only ``role`` and above may use.

    ``@strawberry.field(permission_classes=[requires("steward")])``: a caller below ``role`` gets a
    ``FORBIDDEN`` error for that field (and null in its place).
    """
    return _PERMISSIONS[Role.parse(role)]
