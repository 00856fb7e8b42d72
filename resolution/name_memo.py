"""Name parses kept between resolve runs: a city's names are parsed once, not on every monthly run.

Every run matches its new records against every enterprise of the city, and each enterprise's names
are parsed (region, 字号, industry, legal form) and read in pinyin for the matcher and the sound-alike
rule. That was most of a monthly run that is not the upload's own work: at 20,000 enterprises 4.4 s of
11.7 s, three quarters of it parsing the same names as last month. A parse depends only on the text
and on the parsing code, so the memo is saved beside the model (``name-memo.json``) with a fingerprint
of that code and of the libraries it reads with (OpenCC, pypinyin); a memo written by other code is
ignored and rebuilt. JSON, not pickle: loading it runs no code.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

from entgraph.identity import chinese_names as names
from entgraph.identity import codes

log = logging.getLogger(__name__)

FORMAT = 1


def fingerprint() -> str:
    """What a parse depends on besides its text: the parsing code and the libraries it reads with."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"format {FORMAT}".encode())
    for module in (names, codes):
        digest.update(Path(module.__file__ or "").read_bytes())
    for library in ("opencc", "pypinyin"):
        try:
            digest.update(f"{library} {metadata.version(library)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library} ?".encode())
    return digest.hexdigest()


def prime(path: Path) -> int:
    """Take the parses an earlier run saved at ``path``, if the same code made them. Returns how many."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0  # none yet, or unreadable: parse afresh (and save a good one at the end)
    if not isinstance(raw, dict) or raw.get("fingerprint") != fingerprint():
        return 0
    try:
        parsed = {text: _parts(row) for text, row in raw["parsed"].items()}
        readings = {str(k): str(v) for k, v in raw["pinyin"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("ignoring %s: not a name memo of this version", path)
        return 0
    names.prime_memo(parsed, readings)
    return len(parsed)


def save(path: Path) -> int:
    """Write this process's parses and readings to ``path`` (atomically). Returns how many parses."""
    parsed, readings = names.memo()
    body = {
        "fingerprint": fingerprint(),
        "parsed": {text: _row(value) for text, value in parsed.items()},
        "pinyin": readings,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
    return len(parsed)


def size() -> int:
    """How many parses this process holds (to tell whether a run added any)."""
    return len(names.memo()[0])


def _row(value: tuple[names.NameParts, str] | None) -> list[Any] | None:
    if value is None:
        return None
    p, regionless = value
    return [
        p.raw, p.normalised, p.region, p.region_code, p.trade_name, p.industry, p.legal_form,
        p.branch, list(p.notes), p.is_individual_business, regionless,
    ]  # fmt: skip


def _parts(row: list[Any] | None) -> tuple[names.NameParts, str] | None:
    if row is None:
        return None
    raw, normalised, region, code, trade, industry, form, branch, notes, individual, regionless = row
    parts = names.NameParts(
        raw=raw,
        normalised=normalised,
        region=region,
        region_code=code,
        trade_name=trade,
        industry=industry,
        legal_form=form,
        branch=branch,
        notes=tuple(notes),
        is_individual_business=bool(individual),
    )
    return parts, regionless
