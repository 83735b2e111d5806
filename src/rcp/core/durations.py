"""Durations for ``--timeout``, ``--max-wait``, ``--lock-timeout``, ``RCP_MAX_WAIT``, and the
``--since`` of ``audit`` and ``tenant logs`` (docs/commands.md, "Conventions"). Stdlib only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rcp.errors import UsageError

_UNIT_SECONDS: dict[str, int] = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_NUMBER = r"\d+(?:\.\d+)?"
_BARE_NUMBER = re.compile(_NUMBER)
# Units at most once each and largest first (1h30m, 2d12h), which catches typos like 5m5m.
_WITH_UNITS = re.compile("".join(f"(?:(?P<{unit}>{_NUMBER}){unit})?" for unit in _UNIT_SECONDS))


def parse_duration(text: str, *, option: str | None = None) -> float:
    """Seconds in ``text``: ``90`` (a bare number is seconds), ``90s``, ``5m``, ``1h``, ``7d``,
    combinations largest unit first (``1h30m``), ``0``.

    Raises UsageError (exit 2) for anything else, naming ``option`` (e.g. ``--timeout``) when
    given. Callers that read an environment variable turn that into a ConfigError themselves.
    """
    cleaned = text.strip()
    if _BARE_NUMBER.fullmatch(cleaned):
        return float(cleaned)
    match = _WITH_UNITS.fullmatch(cleaned)
    if cleaned and match is not None:
        return float(
            sum(
                float(amount) * _UNIT_SECONDS[unit]
                for unit, amount in match.groupdict().items()
                if amount
            )
        )
    what = f"{option} value" if option else "duration"
    raise UsageError(
        f"invalid {what} {text!r}: use seconds (90) or a number with a unit: 90s, 5m, 1h, 1h30m"
    )


def parse_since(text: str, *, now: datetime) -> datetime:
    """``--since``: a duration back from now (``7d``, ``12h``, ``90m``) or a moment
    (``2026-11-01``, ``2026-11-01T12:00:00Z``; without a zone it is UTC). UsageError (exit 2)
    for anything else."""
    try:
        return now - timedelta(seconds=parse_duration(text, option="--since"))
    except UsageError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"invalid --since value {text!r}: use a duration back from now (7d, 12h, 30m) "
            "or a date/time (2026-11-01, 2026-11-01T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
