"""Query limits: refuse, before executing anything, a query too deep, too aliased or too costly.

One GraphQL request can ask for the whole graph; these limits bound what one request may cost the store.
They are checked as a validation rule on the parsed document, so a refused query runs no resolver and
reads nothing. Each refusal is a ``LIMIT_EXCEEDED`` error naming the limit, its maximum and the
query's figure (``extensions.limit``, ``max``, ``actual``).

The rules (also in docs/api.md):

- **depth** (``ENTGRAPH_API_MAX_DEPTH``, default 10): a root field is at depth 1, its sub-fields at 2,
  and so on; fragments count where they are spread. ``{ storeHealth { ok } }`` has depth 2.
- **aliases** (``ENTGRAPH_API_MAX_ALIASES``, default 15): every aliased field counts, once per place it
  is executed (an aliased field in a fragment spread three times counts three times). Aliases are how
  one request repeats an expensive field many times.
- **cost** (``ENTGRAPH_API_MAX_COST``, default 5000): every field costs 1. A field returning a list of
  objects costs ``1 + n × (cost of its selection)``, where ``n`` is its ``first`` or ``limit``
  argument (literal or variable), or ``DEFAULT_LIST_SIZE`` (100) when it has neither or the value is
  not a non-negative integer. Lists of scalars cost 1. The query's cost is the sum over its root
  fields and must not exceed the maximum. So ``enterprises(first: 20) { name records(first: 10)
  { id } }`` costs 1 + 20 × (1 + (1 + 10 × 1)) = 241. List resolvers must honour ``first``/``limit``
  and cap unbounded lists at ``DEFAULT_LIST_SIZE`` for the estimate to hold. A relay connection's
  ``edges`` list has as many items as the connection's own ``first`` (the page it returns), so
  ``enterprises(first: 20) { edges { node { name } } }`` costs 1 + (1 + 20 × (1 + 1)) = 42.
- **size**: a document of more than ``MAX_TOKENS`` tokens is not even parsed (Strawberry's
  ``MaxTokensLimiter``), since parsing itself costs time and memory.

Introspection fields (``__schema``, ``__type``, ``__typename``) are not counted; in production
introspection is off altogether. Fragments are measured once each, so a document of nested fragment
spreads cannot make the measurement itself expensive.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    VariableNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
    parse,
    value_from_ast_untyped,
)
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from entgraph.api.client_errors import ErrorCode
from entgraph.api.input_limits import InputLimits, document_errors, input_limit_error, variable_errors
from entgraph.api.token_count import count_tokens
from entgraph.settings import Settings

T = TypeVar("T")
DEFAULT_LIST_SIZE = 100
# graphql-core parses about 7 µs a token in Python: 2,000 tokens is 14 ms of CPU, twelve times the
# full panorama (168 tokens) and more than any console page asks for.
MAX_TOKENS = 2_000
LIST_SIZE_ARGUMENTS = ("first", "limit")
# Lists whose items are values computed together by one query and bounded by their resolver (a series'
# points: at most ``api.telemetry.MAX_POINTS``, refused beyond): their length costs bytes, not work, so
# they count once, not once per item.
# A town map's points (api/town_map.py: flat values, a few statements, at most its MAX_POINTS) likewise.
FLAT_LISTS = frozenset(
    {
        ("MeterSeries", "points"),
        ("Meter", "completeness"),
        ("MetricSeries", "points"),
        ("TownMap", "enterprises"),
        ("TownMap", "parcels"),
    }
)
# Lists whose length a rule of the data bounds, counted at that bound instead of DEFAULT_LIST_SIZE: a
# warning's history is its lifecycle (opened, acknowledged, resolved; resolved is final); a chain's
# segments in a year are its positions, a closed list in the chain feed's spec (上游 / 中游 / 下游), and
# its links join consecutive ones.
BOUNDED_LISTS = {("Warning", "history"): 3, ("IndustryChain", "segments"): 3, ("IndustryChain", "links"): 2}


@dataclass(frozen=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_cost: int = 5000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.api_max_depth, settings.api_max_aliases, settings.api_max_cost)


@dataclass(frozen=True)
class Measure:
    """What a selection set asks for: its depth, its aliases and its cost."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def __add__(self, other: Measure) -> Measure:  # selections side by side
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


ZERO = Measure()


class _Measurer:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None
    ) -> None:
        self.schema = schema
        self.variables = dict(variables or {})
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._measured: dict[str, Measure] = {}
        self._in_progress: set[str] = set()  # cycles are invalid (and reported by graphql-core)
        self._defaults: dict[str, Any] = {}

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        self._defaults = {
            v.variable.name.value: value_from_ast_untyped(v.default_value)
            for v in operation.variable_definitions or ()
            if v.default_value is not None
        }
        return self.selections(operation.selection_set, self.schema.get_root_type(operation.operation))

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        page: int | None = None,
    ) -> Measure:
        """``page``: when ``parent`` is a connection, the ``first`` it was asked for (its edges' count)."""
        total = ZERO
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, on, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> Measure:
        if name in self._measured:
            return self._measured[name]
        definition = self.fragments.get(name)
        if definition is None or name in self._in_progress:
            return ZERO
        self._in_progress.add(name)
        measure = self.selections(
            definition.selection_set, self.schema.get_type(definition.type_condition.name.value)
        )
        self._in_progress.discard(name)
        self._measured[name] = measure
        return measure

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None = None) -> Measure:
        name = node.name.value
        if name.startswith("__"):
            return ZERO
        fields = getattr(parent, "fields", None) or {}
        definition = fields.get(name)  # None for an unknown field: validation reports it
        aliases = 1 if node.alias else 0
        if node.selection_set is None:
            return Measure(1, aliases, 1)
        child_type = get_named_type(definition.type) if definition else None
        listed = definition is not None and _is_list(definition.type)
        connection = not listed and getattr(child_type, "name", "").endswith("Connection")
        page_size = self.list_size(node) if connection else None
        children = self.selections(node.selection_set, child_type, page_size)
        flat = (getattr(parent, "name", None), name) in FLAT_LISTS
        bound = BOUNDED_LISTS.get((getattr(parent, "name", None), name))
        if listed and name == "edges" and page is not None:
            times = page
        elif listed and bound is not None:
            times = bound
        else:
            times = self.list_size(node) if listed and not flat else 1
        return Measure(1 + children.depth, aliases + children.aliases, 1 + times * children.cost)

    def list_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value not in LIST_SIZE_ARGUMENTS:
                continue
            value: Any = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                variable = argument.value.name.value
                value = self.variables.get(variable, self._defaults.get(variable))
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
            return DEFAULT_LIST_SIZE
        return DEFAULT_LIST_SIZE


def _is_list(type_: Any) -> bool:
    return is_list_type(type_.of_type if is_non_null_type(type_) else type_)


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> dict[str, Measure]:
    """Depth, aliases and cost of each operation in ``document`` (of the named one, if given)."""
    measurer = _Measurer(schema, document, variables)
    found = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        name = definition.name.value if definition.name else ""
        if operation_name and name != operation_name:
            continue
        found[name] = measurer.operation(definition)
    return found


def limit_errors(
    limits: Limits,
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> list[GraphQLError]:
    """``LIMIT_EXCEEDED`` errors for what ``document`` asks beyond ``limits`` (none when within).

    Measured directly rather than as a graphql-core validation rule: a rule runs inside a full
    TypeInfo walk of the document, which cost a third of a panorama's time in the API process while
    the measure needs one pass of its own."""
    errors = []
    for operation, m in measure(schema, document, variables, operation_name).items():
        for limit, actual, maximum in (
            ("depth", m.depth, limits.max_depth),
            ("aliases", m.aliases, limits.max_aliases),
            ("cost", m.cost, limits.max_cost),
        ):
            if actual > maximum:
                what = f"operation {operation!r}" if operation else "the query"
                errors.append(
                    GraphQLError(
                        f"{what} exceeds the {limit} limit: {actual} > {maximum}",
                        extensions={
                            "code": ErrorCode.LIMIT_EXCEEDED.value,
                            "limit": limit,
                            "max": maximum,
                            "actual": actual,
                        },
                    )
                )
    return errors


class _Remembered:
    """A bounded LRU of per-document results, keyed by a digest of the document text (never the text:
    a hostile caller's unique 250 KB documents must not pile up). Only documents of at most
    ``MAX_REMEMBERED_CHARS`` are kept, and at most ``KEPT`` of them: front ends send the same few
    documents of a few KB all day; a stranger's big documents are simply worked out again."""

    KEPT = 512

    def __init__(self) -> None:
        self._items: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()  # filled from the worker thread, read on the event loop

    @staticmethod
    def key(*parts: object) -> bytes:
        return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, key: bytes) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: bytes, value: Any, text: str) -> None:
        if len(text) > MAX_REMEMBERED_CHARS:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.KEPT:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


MAX_REMEMBERED_CHARS = 16 * 1024
# Documents' outcome under the standard validation rules: they do not depend on variables, and
# running them is a third of a panorama's time in the API process. Failures are remembered too, so a
# document that costs the rules time is refused from memory when it comes again.
_VALIDATED = _Remembered()


class QueryLimits(SchemaExtension):
    """Runs each request's validation: the input limits (``api/input_limits.py``, one cheap pass, before
    anything else), the standard rules (their outcome remembered per document), and
    :func:`limit_errors` with that request's variables (always, as its answer depends on them)."""

    def __init__(self, limits: Limits, inputs: InputLimits | None = None) -> None:
        self.limits = limits
        self.inputs = inputs or InputLimits()

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        if document is not None:
            context.pre_execution_errors = await self._errors(schema, document)
        yield

    async def _errors(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        context = self.execution_context
        refused = _REFUSED.pop(id(context), None)
        if refused is not None and refused[0] is context.query:  # this request's, not a reused id's
            return [refused[1]]
        errors = variable_errors(self.inputs, context.variables)
        if errors:
            return errors
        rules = tuple(context.validation_rules)
        text = context.query or ""
        key = _Remembered.key(id(schema), text, rules)
        remembered = _VALIDATED.get(key) if context.query is not None else None
        if remembered is not None:  # a document seen before: its checks are cheap, on the event loop
            errors = list(remembered)
            if errors:
                return errors
            return limit_errors(self.limits, schema, document, context.variables, context.operation_name)
        return await off_the_loop(self._validate, schema, document, rules, key, text)

    def _validate(self, schema, document, rules, key: bytes, text: str) -> list[GraphQLError]:
        """A new document's checks (input limits, the standard rules, the cost measure), in the worker."""
        context = self.execution_context
        errors = document_errors(self.inputs, document) or validate_document(schema, document, rules)
        if context.query is not None:
            _VALIDATED.put(key, tuple(errors), text)
        if errors:
            return errors
        return limit_errors(self.limits, schema, document, context.variables, context.operation_name)


# Documents that parsed (within MAX_TOKENS): parsing a panorama is a millisecond or two, and a front end
# sends the same few documents all day. Only successes are kept (a document over the token limit is
# refused by the parser every time), and only small ones (see _Remembered).
_PARSED = _Remembered()


# A document longer than this is refused before lexing; the token limit bounds tokens, this bounds
# comments and whitespace too. Real documents (the full panorama, the console's pages) are 1-5 KB.
MAX_DOCUMENT_CHARS = 32 * 1024
_PLACEHOLDER = parse("{ __typename }")
# graphql-core's words when it stops at the limit (api/client_errors.py maps them to LIMIT_EXCEEDED tokens)
_TOO_MANY_TOKENS = f"Document contains more than {MAX_TOKENS} tokens. Parsing aborted."
# execution context id -> (its query, its refusal), until validation reads it
_REFUSED: dict[int, tuple[str | None, GraphQLError]] = {}


class ParsedDocuments(SchemaExtension):
    """Hands Strawberry a document parsed before for the same text (it then skips parsing)."""

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query
        if query is None or context.graphql_document is not None:
            yield
            return
        if len(query) > MAX_DOCUMENT_CHARS:
            # Not even lexed (a 200 KB comment costs the lexer 30 ms of CPU).
            _refuse(
                context,
                input_limit_error("the query document", "document_chars", len(query), MAX_DOCUMENT_CHARS),
            )
            yield
            return
        key = _Remembered.key(query)
        cached = _PARSED.get(key)
        if cached is None and count_tokens(query) > MAX_TOKENS:
            # Not lexed either: counted in C, refused as the parser would refuse it (api/token_count.py).
            _refuse(context, GraphQLSyntaxError(Source(query), 0, _TOO_MANY_TOKENS))
            yield
            return
        if cached is None:
            try:
                cached = await off_the_loop(parse, query, max_tokens=MAX_TOKENS)
            except GraphQLError as error:  # syntax, or over the token limit: refused in validation
                _refuse(context, error)
                yield
                return
            _PARSED.put(key, cached, query)
        context.graphql_document = cached
        yield


def _refuse(context: Any, error: GraphQLError) -> None:
    """Strawberry takes a refusal found while parsing from validation: a placeholder document stands
    in for the unread (or unreadable) one, and validation answers with ``error``."""
    context.graphql_document = _PLACEHOLDER
    if len(_REFUSED) > 1000:  # entries of requests that never reached validation
        _REFUSED.clear()
    _REFUSED[id(context)] = (context.query, error)


# New documents are parsed and checked in one worker thread, one at a time: a stranger's expensive
# documents queue behind each other there, while the event loop goes on serving known documents
# (whose parse and validation are remembered) and every request's store round trips.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="entgraph-documents")


async def off_the_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WORKER, functools.partial(fn, *args, **kwargs))


def limit_extensions(
    limits: Limits, inputs: InputLimits | None = None
) -> list[Callable[[], SchemaExtension]]:
    """Schema extension factories (one instance per request, as Strawberry asks) for ``limits``."""
    return [
        functools.partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        ParsedDocuments,
        functools.partial(QueryLimits, limits, inputs),
    ]
