"""Field checks (seed 001 三(1)): town staff record what they saw at an enterprise, as a source of its own.

* **What was seen**: the enterprise operating, stopped (停产), moved away (迁出: the note says where to) or
  closed (关闭), the employees seen, a note, optionally a photo (kept as a file with its SHA-256, as
  honour certificates are) and where the phone was (longitude, latitude).
* **Its provenance**: who (the key's name or the token's subject), in which role, when (China time),
  from which device (the browser's or app's User-Agent) and through which channel (GraphQL or HTTP).
* **On the canonical enterprise**: a merged-away id is taken to its survivor; the check is linked to
  it (``CHECKED``) and later merges carry it along (``graph/field_check_queries.py``).
* **Its own source**: a check never rewrites a department's record nor the golden record; the panorama
  shows the latest check beside the departments' status, and the town dashboard counts checks per town
  and month (:func:`checks_per_town`, :func:`latest_checks`).
* **Retries are one check**: a client's ``key`` for a visit (the console makes one per form) names the
  check, so a submission retried after a lost answer is recorded once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from entgraph.errors import EntgraphError
from entgraph.graph import enterprise_queries, field_check_queries
from entgraph.graph.port import GraphStore
from entgraph.graph.visibility import EVERYTHING, Visibility
from entgraph.localtime import CST

STATUSES = ("operating", "stopped", "moved", "closed")
STATUS_ZH = {"operating": "正常经营", "stopped": "停产停业", "moved": "已迁出", "closed": "已关闭"}
UNPLACED = "未定镇街"  # the town of an enterprise no record places (as the direct-report reminders say)
MAX_NOTE = 500
MAX_EMPLOYEES = 1_000_000
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # a phone camera's full-size JPEG; the console sends a smaller one
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_KEY = re.compile(r"[\w.:-]{1,100}")
# What a camera or a phone's gallery writes, told by the file's first bytes (not its name).
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"}


class FieldCheckRefused(EntgraphError):
    """A check the platform will not record; the sentence says why."""


class UnknownEnterprise(FieldCheckRefused):
    """The enterprise to check is not in the graph, or not known to the caller."""


def photo_type(data: bytes) -> str | None:
    """The image type of ``data`` (jpeg, png, webp, heic), or None when it is not a photo."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heic"
    return None


def check_month(month: str) -> str:
    """``month`` if it is ``YYYY-MM``; else :class:`FieldCheckRefused`."""
    if not _MONTH.fullmatch(month or ""):
        raise FieldCheckRefused(f"month {month!r}: give it as YYYY-MM, e.g. 2026-12")
    return month


def this_month() -> str:
    return dt.datetime.now(CST).strftime("%Y-%m")


class FieldChecks:
    """Records checks and keeps their photos under ``files_root`` (``$ENTGRAPH_HOME/field-checks``)."""

    def __init__(self, store: GraphStore, files_root: Path) -> None:
        self.store = store
        self.files_root = files_root
        store.ensure_schema(field_check_queries.FIELD_CHECK_SCHEMA)

    def record(
        self,
        enterprise_id: str,
        *,
        status: str,
        employees_seen: int | None,
        note: str,
        by: str,
        role: str,
        device: str = "",
        via: str = "graphql",
        photo: tuple[str, BinaryIO] | None = None,
        lng: float | None = None,
        lat: float | None = None,
        key: str | None = None,
        sight: Visibility = EVERYTHING,
    ) -> dict[str, Any]:
        """Record a check on the enterprise ``enterprise_id`` (a merged-away id: on its survivor), as
        the caller (``sight``: what it may see) saw it. Returns the check's properties."""
        status, note = _checked_fields(status, employees_seen, note, lng, lat)
        enterprise = self._enterprise(enterprise_id, sight)
        check_id = _check_id(by, key)
        kept = field_check_queries.get(self.store, check_id)
        if kept is not None:  # a retried submission: the first one stands
            if kept["enterprise_id"] != enterprise["id"]:
                raise FieldCheckRefused(f"key {key!r} already names a check of another enterprise")
            return kept
        now = dt.datetime.now(CST)
        check = {
            "id": check_id,
            "enterprise_id": enterprise["id"],
            "credit_code": enterprise.get("credit_code"),
            "town": enterprise.get("town") or UNPLACED,
            "month": now.strftime("%Y-%m"),
            "status_seen": status,
            "employees_seen": employees_seen,
            "note": note,
            "photo": self._keep_photo(check_id, photo) if photo else None,
            "lng": lng,
            "lat": lat,
            "checked_by": by,
            "checked_role": role,
            "checked_at": now.isoformat(timespec="milliseconds"),
            "device": " ".join(device.split())[:200],
            "via": via,
        }
        recorded = field_check_queries.record(self.store, check)
        if recorded is None:  # merged or removed between the lookup and the write
            raise FieldCheckRefused(f"enterprise {enterprise['id']} changed meanwhile: check it again")
        return recorded

    def _enterprise(self, enterprise_id: str, sight: Visibility) -> dict[str, Any]:
        """The live enterprise ``enterprise_id`` is (its survivor), as the caller may see it."""
        wanted = (enterprise_id or "").strip()[:100]
        if not wanted:
            raise FieldCheckRefused("name the enterprise checked (its id, e.g. E-91350582MA2XN6QLXM)")
        found = enterprise_queries.lookup_ids(self.store, [wanted])
        rows = enterprise_queries.enterprises(self.store, [found[0]["survivor"]], sight) if found else []
        if not rows:  # one only hidden datasets know of answers as one that does not exist
            raise UnknownEnterprise(f"no enterprise with id {wanted!r}")
        return dict(rows[0]["e"])

    def _keep_photo(self, check_id: str, photo: tuple[str, BinaryIO]) -> str | None:
        name, stream = photo
        data = stream.read(MAX_PHOTO_BYTES + 1)
        if not data:
            return None  # an empty file part: the form was sent without a photo
        if len(data) > MAX_PHOTO_BYTES:
            raise FieldCheckRefused(f"the photo is larger than {MAX_PHOTO_BYTES // 2**20} MB")
        kind = photo_type(data)
        if kind is None:
            raise FieldCheckRefused(f"{Path(name or 'photo').name}: not a photo (JPEG, PNG, WebP or HEIC)")
        folder = self.files_root / check_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"photo.{kind}"
        path.write_bytes(data)
        kept = {
            "name": Path(name or f"photo.{kind}").name[:80],
            "path": str(path),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "type": f"image/{kind}",
        }
        return json.dumps(kept, ensure_ascii=False)


def _checked_fields(
    status: str, employees_seen: int | None, note: str, lng: float | None, lat: float | None
) -> tuple[str, str]:
    """The status and the note as kept; refuses what does not hold together."""
    status = (status or "").strip().lower()
    if status not in STATUSES:
        raise FieldCheckRefused(f"status {status!r}: one of {', '.join(STATUSES)}")
    if employees_seen is not None and not 0 <= employees_seen <= MAX_EMPLOYEES:
        raise FieldCheckRefused(f"employees seen: a number from 0 to {MAX_EMPLOYEES}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise FieldCheckRefused(f"the note has at most {MAX_NOTE} characters")
    if status == "moved" and not note:
        # a move is only useful to the town that learns where to: the next town to check it
        raise FieldCheckRefused("say where the enterprise moved to (迁往何处) in the note")
    if (lng is None) != (lat is None):
        raise FieldCheckRefused("give both longitude and latitude, or neither")
    if lng is not None and lat is not None and not (-180 <= lng <= 180 and -90 <= lat <= 90):
        raise FieldCheckRefused("longitude is -180 to 180 and latitude -90 to 90 (degrees, WGS-84)")
    return status, note


def _check_id(by: str, key: str | None) -> str:
    """A new id, or the id the checker's ``key`` for this visit names (the same on every retry)."""
    if key is None or not key.strip():
        return f"FC-{uuid.uuid4().hex[:16]}"
    if not _KEY.fullmatch(key.strip()):
        raise FieldCheckRefused("key: 1 to 100 letters, digits, '.', ':', '_' or '-'")
    return "FC-" + hashlib.sha256(f"{by}\n{key.strip()}".encode()).hexdigest()[:16]


def photo_of(check: dict[str, Any]) -> dict[str, Any] | None:
    """The kept photo of a check (name, path, bytes, sha256, type), or None."""
    return json.loads(check["photo"]) if check.get("photo") else None


def latest_checks(store: GraphStore, enterprise_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest check of each of ``enterprise_ids`` that has one (for lists that show it beside other
    evidence: a long-term shut-down enterprise last seen operating, say)."""
    found = field_check_queries.for_enterprises(store, enterprise_ids, 1)
    return {eid: checks[0] for eid, checks in found.items() if checks}


def checks_per_town(store: GraphStore, month: str) -> dict[str, dict[str, int]]:
    """Each town's checks in ``month`` (``YYYY-MM``), per status seen, with the ``total``."""
    out: dict[str, dict[str, int]] = {}
    for row in field_check_queries.counts_by_town(store, check_month(month)):
        counts = out.setdefault(row["town"], {"total": 0})
        counts[row["status"]] = int(row["checks"])
        counts["total"] += int(row["checks"])
    return out
