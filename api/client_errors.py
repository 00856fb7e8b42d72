"""What a client is told when something goes wrong, and what the operators are told.

Every error the API returns carries ``extensions.code``, one of :class:`ErrorCode`, so clients branch on
a stable code rather than on wording. Resolvers raise the exception classes below for expected failures
(their message is meant for the caller). Anything else is a bug: the client gets ``INTERNAL`` with a
generic message and the request id, and the full traceback goes to the log under that request id —
internal text (Cypher, hostnames, file paths) never reaches the client.

Two hooks do this, because Strawberry separates logging from shaping:
- :class:`ApiSchema` overrides ``process_errors``, which sees the original errors (with tracebacks)
  before any extension touches them: it logs;
- :class:`ErrorShaping`, a schema extension, rewrites the errors of the result that is sent: it masks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, ClassVar

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from entgraph.graph.port import QueryTimedOut, StoreUnavailable

log = logging.getLogger("entgraph.api.client_errors")


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"  # the thing asked for does not exist (or the caller may not know it does)
    FORBIDDEN = "FORBIDDEN"  # authenticated, but the role is not enough
    BAD_INPUT = "BAD_INPUT"  # the query or its variables are wrong (syntax, validation, values)
    UNAUTHENTICATED = "UNAUTHENTICATED"  # credentials were sent and are not valid (HTTP 401)
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"  # depth, aliases, cost or size over the configured limit
    RATE_LIMITED = "RATE_LIMITED"  # too many requests from this caller (HTTP 429, Retry-After)
    TIMEOUT = "TIMEOUT"  # the store gave up on the query at its time limit (HTTP 503)
    UNAVAILABLE = (
        "UNAVAILABLE"  # the graph store does not answer (stopped, restarting): retry later (HTTP 503)
    )
    INTERNAL = "INTERNAL"  # a bug or an outage: details are in the log under the request id
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # a hash the server does not know: send the text
    PERSISTED_QUERY_NOT_REGISTERED = (
        "PERSISTED_QUERY_NOT_REGISTERED"  # the role runs registered documents only
    )


class ApiError(Exception):
    """An expected failure whose message is safe and useful to show to the caller."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        # graphql-core copies an original error's ``extensions`` onto the GraphQLError it builds.
        self.extensions: dict[str, Any] = {"code": self.code.value, **details}


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN


class BadInput(ApiError):
    code = ErrorCode.BAD_INPUT


class Busy(ApiError):
    """Something that must run alone is running (a resolution): retry shortly."""

    code = ErrorCode.UNAVAILABLE


class Unauthenticated(ApiError):
    code = ErrorCode.UNAUTHENTICATED


class LimitExceeded(ApiError):
    code = ErrorCode.LIMIT_EXCEEDED


class RateLimited(ApiError):
    code = ErrorCode.RATE_LIMITED


class InternalError(ApiError):
    code = ErrorCode.INTERNAL


_CODES = frozenset(code.value for code in ErrorCode)


def error_body(message: str, code: ErrorCode, **details: Any) -> dict[str, Any]:
    """A GraphQL-shaped response body for errors raised outside GraphQL execution (HTTP 401, 500)."""
    return {"errors": [{"message": message, "extensions": {"code": code.value, **details}}]}


def internal_message(request_id: str | None) -> str:
    if request_id:
        return f"internal error; quote request id {request_id} to the operators"
    return "internal error"


def unexpected_cause(error: GraphQLError) -> BaseException | None:
    """The exception behind ``error`` when it is a bug or an outage, else None.

    GraphQL-level errors (syntax, validation, variable coercion, a resolver raising ``GraphQLError``
    on purpose) have no original exception, or only another ``GraphQLError``; ``ApiError`` is expected.
    """
    cause: BaseException | None = error.original_error
    while isinstance(cause, GraphQLError) and cause.original_error is not None:
        cause = cause.original_error
    if cause is None or isinstance(cause, GraphQLError | ApiError | QueryTimedOut):
        return None
    return cause


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context = execution_context.context if execution_context else None
    return getattr(context, "request_id", None)


def _root_cause(error: GraphQLError) -> BaseException | None:
    cause: BaseException | None = error.original_error
    while isinstance(cause, GraphQLError) and cause.original_error is not None:
        cause = cause.original_error
    return cause


def timed_out(error: GraphQLError) -> QueryTimedOut | None:
    """The store's time limit behind ``error``, if that is what stopped it."""
    cause = _root_cause(error)
    return cause if isinstance(cause, QueryTimedOut) else None


STORE_DOWN = "the graph store is not available (stopped or restarting); try again later"


def shaped(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """``error`` as the client sees it: with a code, and with nothing internal if it is unexpected."""
    stopped = timed_out(error)
    if stopped is not None:  # the store gave up and is free again: the caller may narrow the query
        limit = f" ({stopped.limit_ms} ms)" if stopped.limit_ms else ""
        return GraphQLError(
            f"the store stopped this query at its time limit{limit}; ask for less (a narrower search, a "
            "smaller page)",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": ErrorCode.TIMEOUT.value, "requestId": request_id},
        )
    if isinstance(_root_cause(error), StoreUnavailable):  # an outage the operators know of, not a bug
        return GraphQLError(
            STORE_DOWN,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": ErrorCode.UNAVAILABLE.value, "requestId": request_id},
        )
    if unexpected_cause(error) is not None:
        return GraphQLError(
            internal_message(request_id),
            nodes=error.nodes,
            path=error.path,
            extensions={"code": ErrorCode.INTERNAL.value, "requestId": request_id},
        )
    if error.extensions and error.extensions.get("code") in _CODES:
        return error
    # No code yet: an error of the document itself. The parser's size guard is a limit, the rest is
    # the caller's input (syntax, unknown fields, bad variables, introspection refused).
    code = ErrorCode.BAD_INPUT
    if isinstance(error, GraphQLSyntaxError) and error.message.endswith("Parsing aborted."):
        code = ErrorCode.LIMIT_EXCEEDED
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code.value},
    )


# graphql-core's hints ("Did you mean 'enterprise'?") name arguments, enum values, input fields and
# types one guess at a time: in production, where introspection is off, they are cut.
_SUGGESTION = re.compile(r"\s*Did you mean .*\?\s*$", re.DOTALL)


def without_suggestion(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


class ErrorShaping(SchemaExtension):
    """Give every error of a result a code and mask unexpected ones (see the module docstring); in
    production, also cut "Did you mean" hints."""

    def __init__(self, production: bool = False) -> None:
        self.production = production

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            request_id = _request_id(self.execution_context)
            result.errors = [shaped(error, request_id) for error in errors]
            if self.production:
                result.errors = [without_suggestion(error) for error in result.errors]


class ApiSchema(strawberry.Schema):
    """A Strawberry schema that logs errors with the request id, tracebacks only for unexpected ones."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = _request_id(execution_context)
        for error in errors:
            cause = unexpected_cause(error)
            if cause is not None:
                log.error(
                    "request %s: unexpected error at %s: %s",
                    request_id,
                    ".".join(map(str, error.path or ())) or "(operation)",
                    cause,
                    exc_info=(type(cause), cause, cause.__traceback__),
                )
            else:
                # The caller's mistake or a refusal: worth a line when debugging, not an alarm.
                code = (error.extensions or {}).get("code", "BAD_INPUT")
                log.info("request %s: %s: %s", request_id, code, error.message)
