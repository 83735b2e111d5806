"""Fault rules: make the simulator misbehave the way a real network and a real Render can.

A rule is a JSON/YAML mapping::

    {"method": "POST",                 # HTTP method, or "*" (default) for any
     "path": "/services",              # glob (fnmatch: * matches anything, also "/"), or
     "path_regex": "^/services/[^/]+/deploys$",   # a regular expression (full match)
     "nth": [1, 2],                    # fire on these occurrences (1-based) of a matching request, or
     "times": 3,                       # fire on the first N matching requests; neither = every one
     "action": "status",               # see ACTIONS
     "status": 503, "body": {"message": "..."}, "headers": {"X": "y"},   # for "status"
     "seconds": 2.5,                   # "delay", "rate_limit" (Retry-After), "hang", "defer_deploy"
     "state": "unavailable",           # for "fail_deploy" and "datastore_status"
     "name": "acme-*"}                 # glob on the Render name of the resource it concerns

``name`` narrows a rule to one tenant's (or one resource's) requests: for an API call, the name
of the resource whose id is in the path (``/services/srv-…/deploys``: that service's name) or,
for a create, the ``name`` of the body; for a request to a service's public URL, the service's
name. A request concerning no named resource (``GET /owners``) never matches a rule with a
``name``. So ``{"action": "fail_deploy", "name": "acme-*"}`` fails every deploy of tenant
``acme``'s services and nobody else's.

Paths are matched both with and without the ``/v1`` prefix, so ``/services`` and
``/v1/services`` are the same pattern. A request matching no ``path``/``path_regex`` given
is not matched; a rule with neither matches every API path. Occurrences are counted per rule
in the world's SQLite file, so every process that shares the file shares the counters.

Actions:
- ``status``: answer ``status`` (default 500) with ``body`` (default ``{"message": ...}``)
  without acting.
- ``delay``: wait ``seconds`` (default 1), then handle the request normally.
- ``drop_before``: the connection is dropped before the server acts (nothing happened).
- ``drop_after``: the server acts, then the connection is dropped (the response is lost).
- ``hang``: never answer (until the client's read timeout; ``seconds`` caps the wait).
- ``rate_limit``: 429 with ``Retry-After: seconds`` (default 30) and an exhausted
  ``Ratelimit-*`` set, without acting.
- ``fail_deploy``: handle the request normally, but every deploy it starts (service create,
  deploy trigger, resume) ends ``state`` instead of ``live``: ``build_failed`` (default),
  ``pre_deploy_failed`` or ``update_failed``, at the end of that phase.
- ``datastore_status``: handle the request normally, but every Postgres / Key Value in its
  answer reports ``state`` (one of Render's ``databaseStatus`` values, e.g. ``unavailable``,
  ``config_restart``, ``updating_instance``, ``maintenance_in_progress``): a transient state
  seen by the polls the rule matches (``nth``/``times``), as Render shows them now and then.
- ``defer_deploy``: handle the request normally, but a deploy it starts (a resume, a trigger)
  appears only ``seconds`` (default 1) later: Render answers a resume 202 Accepted and starts
  the new deploy asynchronously, so meanwhile the service's latest deploy is the one the
  suspension deactivated.
- ``health_status``: for requests to a web service's public URL only (``https://<name>.
  onrender.com/<path>``, see ``rcp.sandbox.public``): answer ``status`` (default 500) with
  ``body`` (default ``{"status": "unhealthy"}``) instead of the app's answer, e.g. a health
  path that fails after a bad rollout. Every other action applies to API requests only.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACTIONS = (
    "status",
    "delay",
    "drop_before",
    "drop_after",
    "hang",
    "rate_limit",
    "fail_deploy",
    "datastore_status",
    "defer_deploy",
    "health_status",
)
# Actions for requests to a service's public URL (the others are for Render's API).
PUBLIC_ACTIONS = frozenset({"health_status"})
DEPLOY_FAILURES = ("build_failed", "pre_deploy_failed", "update_failed")
# The spec's databaseStatus enum.
DATASTORE_STATES = (
    "creating",
    "available",
    "unavailable",
    "config_restart",
    "suspended",
    "maintenance_scheduled",
    "maintenance_in_progress",
    "recovery_failed",
    "recovery_in_progress",
    "unknown",
    "updating_instance",
)
# Actions that replace the normal handling (the request never reaches the world).
SHORT_CIRCUIT_ACTIONS = frozenset({"status", "drop_before", "hang", "rate_limit"})

_KNOWN_KEYS = frozenset(
    {
        "method",
        "path",
        "path_regex",
        "nth",
        "times",
        "action",
        "status",
        "body",
        "headers",
        "seconds",
        "state",
        "name",
    }
)


class FaultRuleError(ValueError):
    """A fault rule is malformed; the message says which field and why."""


@dataclass(frozen=True)
class FaultRule:
    action: str
    method: str = "*"
    path: str | None = None
    path_regex: str | None = None
    nth: tuple[int, ...] | None = None
    times: int | None = None
    status: int = 500
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float | None = None
    state: str | None = None
    name: str | None = None

    @property
    def public(self) -> bool:
        """Whether the rule is for requests to services' public URLs (not the API)."""
        return self.action in PUBLIC_ACTIONS

    def matches_name(self, name: str | None) -> bool:
        """Whether the resource a request concerns (its Render name, None: none) is the
        rule's; a rule without ``name`` takes any."""
        if self.name is None:
            return True
        return name is not None and fnmatch.fnmatchcase(name, self.name)

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method != method.upper():
            return False
        candidates = [path]
        if path.startswith("/v1/") or path == "/v1":
            candidates.append(path[3:] or "/")
        if self.path is not None and not any(
            fnmatch.fnmatchcase(candidate, self.path) for candidate in candidates
        ):
            return False
        if self.path_regex is not None and not any(
            re.fullmatch(self.path_regex, candidate) for candidate in candidates
        ):
            return False
        return True

    def fires_on(self, occurrence: int) -> bool:
        """Whether the rule acts on the ``occurrence``-th (1-based) matching request."""
        if self.nth is not None:
            return occurrence in self.nth
        if self.times is not None:
            return occurrence <= self.times
        return True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "action": self.action}
        if self.path is not None:
            data["path"] = self.path
        if self.path_regex is not None:
            data["path_regex"] = self.path_regex
        if self.nth is not None:
            data["nth"] = list(self.nth)
        if self.times is not None:
            data["times"] = self.times
        if self.action in ("status", "health_status"):
            data["status"] = self.status
            if self.body is not None:
                data["body"] = self.body
        if self.name is not None:
            data["name"] = self.name
        if self.headers:
            data["headers"] = dict(self.headers)
        if self.seconds is not None:
            data["seconds"] = self.seconds
        if self.state is not None:
            data["state"] = self.state
        return data


def parse_rule(raw: Any) -> FaultRule:
    if not isinstance(raw, Mapping):
        raise FaultRuleError(f"a fault rule must be an object, not {type(raw).__name__}")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise FaultRuleError(f"unknown fault rule field(s): {', '.join(unknown)}")
    action = raw.get("action")
    if action not in ACTIONS:
        raise FaultRuleError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    method = raw.get("method", "*")
    if not isinstance(method, str) or not method:
        raise FaultRuleError("method must be an HTTP method or '*'")
    path = raw.get("path")
    if path is not None and not isinstance(path, str):
        raise FaultRuleError("path must be a glob string")
    path_regex = raw.get("path_regex")
    if path_regex is not None:
        if not isinstance(path_regex, str):
            raise FaultRuleError("path_regex must be a string")
        try:
            re.compile(path_regex)
        except re.error as exc:
            raise FaultRuleError(f"path_regex is not a valid regular expression: {exc}") from None
    nth_raw = raw.get("nth")
    nth: tuple[int, ...] | None = None
    if nth_raw is not None:
        if isinstance(nth_raw, int) and not isinstance(nth_raw, bool):
            nth_raw = [nth_raw]
        if (
            not isinstance(nth_raw, Sequence)
            or isinstance(nth_raw, str)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in nth_raw)
        ):
            raise FaultRuleError("nth must be a list of occurrence numbers >= 1")
        nth = tuple(nth_raw)
    times = raw.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 0):
        raise FaultRuleError("times must be an integer >= 0")
    if nth is not None and times is not None:
        raise FaultRuleError("give either nth or times, not both")
    status = raw.get("status", 500)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise FaultRuleError("status must be an HTTP status code")
    headers = raw.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise FaultRuleError("headers must map strings to strings")
    seconds = raw.get("seconds")
    if seconds is not None:
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise FaultRuleError("seconds must be a number >= 0")
        seconds = float(seconds)
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise FaultRuleError("name must be a glob on a Render resource name")
    state = raw.get("state")
    if action == "fail_deploy":
        state = "build_failed" if state is None else state
        if state not in DEPLOY_FAILURES:
            raise FaultRuleError(
                f"state must be one of {', '.join(DEPLOY_FAILURES)}, not {state!r}"
            )
    elif action == "datastore_status":
        if state not in DATASTORE_STATES:
            raise FaultRuleError(
                f"state must be one of {', '.join(DATASTORE_STATES)}, not {state!r}"
            )
    elif state is not None:
        raise FaultRuleError("state applies only to fail_deploy and datastore_status")
    return FaultRule(
        action=action,
        method=method.upper(),
        path=path,
        path_regex=path_regex,
        nth=nth,
        times=times,
        status=status,
        body=raw.get("body"),
        headers=dict(headers),
        seconds=seconds,
        state=state,
        name=name,
    )


def parse_rules(raw: Any) -> list[FaultRule]:
    """A single rule object or a list of them."""
    if isinstance(raw, Mapping):
        return [parse_rule(raw)]
    if not isinstance(raw, list):
        raise FaultRuleError("fault rules must be a list of rule objects")
    rules = []
    for index, item in enumerate(raw):
        try:
            rules.append(parse_rule(item))
        except FaultRuleError as exc:
            raise FaultRuleError(f"rule {index + 1}: {exc}") from None
    return rules


def load_rules_text(text: str, source: str) -> list[FaultRule]:
    """Parse JSON, or YAML when it is not JSON (YAML is a superset for our purposes)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        import yaml

        from rcp.yamlsafe import YamlTooComplex, load_bounded

        try:
            data = load_bounded(text)  # an alias bomb is refused, not expanded
        except YamlTooComplex as exc:
            raise FaultRuleError(f"{source}: refused: {exc}") from None
        except yaml.YAMLError as exc:
            raise FaultRuleError(f"{source}: not valid JSON or YAML: {exc}") from None
    if data is None:
        return []
    try:
        return parse_rules(data)
    except FaultRuleError as exc:
        raise FaultRuleError(f"{source}: {exc}") from None


def load_rules_file(path: Path) -> tuple[str, list[FaultRule]]:
    """The file's text (its identity for de-duplication) and its rules."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultRuleError(f"cannot read fault file {path}: {exc.strerror}") from None
    return text, load_rules_text(text, str(path))
