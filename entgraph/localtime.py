"""China local time (China Standard Time, UTC+8): the one definition every package uses.

Days, months and "now" in this platform are China's: series files are partitioned by local day, warnings
judge local months and name a silent meter's local day, the API buckets and prints local times, and the
feeds' deadlines fall at local midnights. Those boundaries must agree everywhere — a reading filed
under 30 November by the series store must be a 30 November reading to the warnings and the API — so
the offset, the day length and the "ISO text without an offset is China time" rule live here only.

China has observed no daylight saving since 1991, so local time is a fixed offset: local days are plain
integer arithmetic on epoch milliseconds, and no local time is ambiguous or skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

CST: Final[dt.timezone] = dt.timezone(dt.timedelta(hours=8), "CST")
OFFSET_MS: Final[int] = 8 * 3_600_000  # add to a UTC epoch ms to get the local wall clock's ms
DAY_MS: Final[int] = 86_400_000


def parse_local(text: str) -> dt.datetime:
    """An aware datetime from ISO 8601 text; a date or time without an offset is China time.

    An explicit offset (``Z``, ``+00:00``) is kept as given. Raises ValueError naming the text; callers
    turn it into their own error (a CLI option, a GraphQL argument, a quarantined payload).
    """
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: {text!r}") from None
    # Terminals, users and the data feeds here write local times without an offset.
    return moment if moment.tzinfo else moment.replace(tzinfo=CST)


def local_ms(text: str) -> int:
    """UTC epoch milliseconds of ISO 8601 text (China time without an offset); ValueError if not ISO."""
    return int(parse_local(text).timestamp() * 1000)


def local_date(ts_ms: int) -> str:
    """The local calendar date of an epoch-ms instant, 'YYYY-MM-DD'."""
    return dt.datetime.fromtimestamp((ts_ms + OFFSET_MS) / 1000, dt.UTC).strftime("%Y-%m-%d")


def date_start_ms(date: str) -> int:
    """UTC epoch ms of the local midnight that starts ``date`` ('YYYY-MM-DD')."""
    midnight = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    return int(midnight.timestamp() * 1000) - OFFSET_MS


def day_number(ts_ms: int) -> int:
    """The local calendar day of an epoch-ms instant, as days since 1970-01-01 (for day arithmetic)."""
    return (ts_ms + OFFSET_MS) // DAY_MS


def day_number_start_ms(day: int) -> int:
    """UTC epoch ms of the local midnight that starts day number ``day`` (see :func:`day_number`)."""
    return day * DAY_MS - OFFSET_MS
