"""How long things take in the simulated world: a fixed time, or Render's real durations.

``fixed`` (the default): every deploy takes ``deploy_seconds`` and every datastore is
``creating`` for ``datastore_seconds``, so tests are quick and exact.

``render``: what Render takes, each resource its own draw (deterministic per id, spread evenly
over the range below) so a fleet's resources finish at different moments, as on Render:

- Postgres ``creating`` → ``available``: 90–150 s (about 2 minutes). The recordings show the
  same shape on Render's testing environment at a third of the time, 30–51 s from the create
  to the first ``available`` poll (postgres_cassette #4→#12 39 s and #92→#100 40 s,
  postgres_datasource_cassette #0→#8 40 s, postgres_allowlist_cassette #0→#7 30 s,
  postgres_parameter_overrides_cassette #0→#9 51 s: a spread of about ±25 % around the middle,
  kept here); production instances take about 2 minutes (issue 12's measurements).
- Key Value ``creating`` → ``available``: 45–75 s. The recordings only bound it from below:
  still ``creating`` 13 s after the create (keyvalue_cassette #1→#71, redis_cassette #1→#72;
  the Terraform provider does not wait for ``available``); the same ±25 % spread.
- A deploy from its start to ``live``: 270–330 s (about 5 minutes, ±10 %). The recordings
  hold no finished create deploy (the provider never waits for one: web_service_cassette #54,
  background_worker_cassette #86 are answered in progress); 5 minutes is issue 12's
  measurement of a Node web service built from a repo. A deploy's phases share it evenly
  (``rcp.sandbox.api.deploys.planned_life``).

Every duration is in Render seconds and divided by ``time_scale`` (Render seconds per real
second), so a benchmark sees Render's timings in seconds.
"""

from __future__ import annotations

import hashlib

from rcp.sandbox.settings import SandboxSettings

# Render seconds (low, high) per kind under the ``render`` profile; see the module docstring.
RENDER_DURATIONS: dict[str, tuple[float, float]] = {
    "postgres": (90.0, 150.0),
    "key_value": (45.0, 75.0),
    "deploy": (270.0, 330.0),
}


def spread(resource_id: str) -> float:
    """A number in [0, 1) fixed by the id: the same resource always draws the same duration."""
    digest = hashlib.sha256(resource_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def render_seconds(settings: SandboxSettings, what: str, resource_id: str) -> float:
    """Render seconds that ``what`` (``postgres``, ``key_value`` or ``deploy``) takes for this
    resource under the world's profile."""
    if settings.profile == "render":
        low, high = RENDER_DURATIONS[what]
        return low + (high - low) * spread(resource_id)
    return settings.deploy_seconds if what == "deploy" else settings.datastore_seconds


def real_seconds(settings: SandboxSettings, what: str, resource_id: str) -> float:
    """The same duration on the world's clock (divided by the time scale)."""
    return render_seconds(settings, what, resource_id) / settings.time_scale
