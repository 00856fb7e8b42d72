"""The example queries the demo prints, one per role, as curl commands that work when pasted.

Each names its role and uses the city's real ids and towns; tests run every one of them as printed."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoFacts:
    """What the demo found in its city, for examples that name real things."""

    enterprise_id: str | None = None  # the enterprise with the most department records
    metered_id: str | None = None  # an enterprise with meters (None without telemetry)
    warning_town: str | None = None  # the town with the most open warnings


@dataclass(frozen=True)
class Example:
    title: str
    role: str  # public, analyst or steward: the least role the query runs for within the default limits
    query: str


def examples(facts: DemoFacts) -> list[Example]:
    """The examples the facts allow (an example needing a fact the demo did not find is left out)."""
    found = [
        Example(
            "search enterprises by name",
            "public",
            '{ enterprises(search: "鞋业", first: 3) { totalCount edges { node { id name town } } } }',
        ),
        Example(
            "the honoured, by registered capital",
            "public",
            '{ enterprises(filter: {honour: "高新技术企业"}, sort: {field: REGISTERED_CAPITAL, '
            "direction: DESC}, first: 5) { edges { node { name registeredCapital } } } }",
        ),
        Example(
            "industry chains: segments and what their enterprises pay and use",
            "analyst",
            "{ industryChains(first: 5) { name years segments { position enterpriseCount } "
            "aggregates(by: SEGMENT) { position enterprises tax } } }",
        ),
        Example(
            "is every department's feed on time (as of the city's data, spring 2023)",
            "analyst",
            '{ feedStatus(asOf: "2023-05-01") { dataset title lastPeriod status } }',
        ),
        Example(
            "the towns' boundaries the city loaded, for a map (GeoJSON)",
            "public",
            "{ townBoundaries { town divisionCode center } }",
        ),
        Example(
            "the stewards' queue, most at stake first",
            "steward",
            "{ stewardTasks(first: 5) { id name impact candidates { probability enterprise { name } } } }",
        ),
    ]
    if facts.enterprise_id:
        found.insert(
            1,
            Example(
                "one enterprise's panorama",
                "analyst",
                f'{{ enterprise(id: "{facts.enterprise_id}") {{ name goldenRecord {{ field value dataset }} '
                "sourceRecords(first: 5) { dataset fileName row } branches { name } honours { kind } "
                "chains { name position year } related { reason enterprise { name } } } }",
            ),
        )
    if facts.metered_id:
        found.append(
            Example(
                "an enterprise's meters, live series and warnings",
                "analyst",
                f'{{ enterprise(id: "{facts.metered_id}") {{ name meters {{ meterId via lastReadingAt '
                "series(interval: HOUR) { unit points { start value quality } } } "
                "warnings { rule messageZh status } } }",
            ),
        )
    if facts.warning_town:
        found.append(
            Example(
                "a town's open warnings",
                "analyst",
                f'{{ warnings(town: "{facts.warning_town}", first: 5) {{ totalCount edges {{ node {{ rule '
                "period messageZh status } } } }",
            ),
        )
        found.append(
            Example(
                "that town's map: its parcels and the enterprises located by them",
                "analyst",
                f'{{ townMap(town: "{facts.warning_town}") {{ enterpriseCount withoutPoint '
                "enterprises { name lng lat locatedBy } parcels { key lng lat holderName } } }",
            ),
        )
    return found


def curl(example: Example, port: int, keys: dict[str, str]) -> str:
    """The command, as pasted into a shell: JSON body, its content type, and the role's key."""
    headers = ["-H", "Content-Type: application/json"]
    if example.role != "public":
        headers += ["-H", f"X-API-Key: {keys[example.role]}"]
    body = json.dumps({"query": example.query}, ensure_ascii=False)
    return shlex.join(["curl", "-s", f"http://127.0.0.1:{port}/graphql", *headers, "-d", body])


def print_examples(facts: DemoFacts, port: int, keys: dict[str, str]) -> list[str]:
    """Print the examples (each a curl command for its role) and return the commands."""
    import typer

    commands = []
    typer.echo(
        f"Example queries (GraphiQL at http://127.0.0.1:{port}/graphql). Anonymous callers see what the "
        "catalog opens to the public; the analyst's and steward's keys below see more:\n"
    )
    for example in examples(facts):
        command = curl(example, port, keys)
        commands.append(command)
        typer.echo(f"  # {example.title} (as {example.role})\n  {command}\n")
    return commands
