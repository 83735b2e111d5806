"""Replay Render's real recorded calls against a fresh sandbox and compare the answers.

For each go-vcr cassette (``shared/render-api/recordings``) the recorded requests of the
endpoints the sandbox implements are sent in order to a fresh world. Ids (and cursors)
differ, so every id/cursor found in a recorded answer is mapped to the one at the same
place in the sandbox's answer, and later requests are rewritten with the mapping. The
scrubbed owner (``some-owner-id``) and the recorded workspace id map to the sandbox's.

Compared: the status code, and the top-level keys (objects) or the keys of the list items
(lists). What is not deterministic is left out, each for a stated reason (see TOLERATED_*).
The sandbox clock follows the recorded ``Date`` headers, so time-based progress runs on
the same timeline as Render's; statuses themselves are not compared (Render's build times
are not the sandbox's).
"""

from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sandbox_support import (
    BASE_URL,
    IMPLEMENTED_OPERATIONS,
    FakeClock,
    OperationMatcher,
    interactions_of,
)

from rcp.sandbox import SandboxSettings, SandboxTransport

RECORDED_OWNER_IDS = ("some-owner-id", "tea-cspvinogph6c73ft00h0")
ID_PATTERN = re.compile(r"^(srv|crn|dep|dpg|red|dsk)-[0-9a-v]{20}(-[a-z])?$")

# Keys Render added after the older recordings were made (newer recordings carry them).
TOLERATED_EXTRA_KEYS = frozenset({"autoDeployTrigger", "diskAutoscalingEnabled"})
# environmentId is set through /environments/{id}/resources, an endpoint the sandbox does
# not implement (those interactions are skipped), so the sandbox cannot know it.
TOLERATED_MISSING_KEYS = frozenset({"environmentId"})
# A deploy carries startedAt/finishedAt depending on how far Render's build had got when it
# answered (instant for image cron jobs, minutes for repo builds): timing, not shape.
DEPLOY_TIMING_KEYS = frozenset({"startedAt", "finishedAt"})


def cassettes() -> list[Path]:
    from sandbox_support import RECORDINGS

    if not RECORDINGS.exists():
        return []
    return sorted(RECORDINGS.rglob("*_cassette.yaml"))


def implemented_count(cassette: Path, matcher: OperationMatcher) -> int:
    return sum(
        1
        for interaction in interactions_of(cassette)
        if (
            interaction["request"]["method"],
            matcher.template(urlsplit(interaction["request"]["url"]).path.removeprefix("/v1")),
        )
        in IMPLEMENTED_OPERATIONS
    )


def key_set(value: Any) -> set[str] | None:
    if isinstance(value, dict):
        return set(value)
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        keys: set[str] = set()
        for item in value:
            keys |= set(item)
        return keys
    return None


class IdMap:
    def __init__(self, owner_id: str) -> None:
        self.mapping = dict.fromkeys(RECORDED_OWNER_IDS, owner_id)

    def learn(self, recorded: Any, mine: Any) -> None:
        if isinstance(recorded, dict) and isinstance(mine, dict):
            for key, value in recorded.items():
                if key not in mine:
                    continue
                if key == "cursor" and isinstance(value, str) and isinstance(mine[key], str):
                    self.mapping.setdefault(value, mine[key])
                else:
                    self.learn(value, mine[key])
        elif isinstance(recorded, list) and isinstance(mine, list):
            for recorded_item, my_item in zip(recorded, mine, strict=False):
                self.learn(recorded_item, my_item)
        elif isinstance(recorded, str) and isinstance(mine, str) and ID_PATTERN.match(recorded):
            self.mapping.setdefault(recorded, mine)

    def rewrite(self, text: str) -> str:
        for recorded, mine in self.mapping.items():
            text = text.replace(recorded, mine)
        return text


def replay(
    cassette: Path, state_path: Path, matcher: OperationMatcher
) -> tuple[int, int, list[str]]:
    """(compared, skipped, mismatches) for one cassette."""
    interactions = interactions_of(cassette)
    clock = FakeClock()
    transport = SandboxTransport(
        state_path,
        # Render's buckets are exercised elsewhere; the recordings were spread over minutes.
        SandboxSettings(rate_limits="off"),
        clock=clock,
        sleep=clock.sleep,
    )
    compared = skipped = 0
    mismatches: list[str] = []
    with httpx.Client(
        transport=transport, base_url=BASE_URL, headers={"Authorization": "Bearer replay"}
    ) as client:
        ids = IdMap(client.get("/owners").json()[0]["owner"]["id"])
        for interaction in interactions:
            request, response = interaction["request"], interaction["response"]
            url = urlsplit(request["url"])
            api_path = url.path.removeprefix("/v1")
            template = matcher.template(api_path)
            if (request["method"], template) not in IMPLEMENTED_OPERATIONS:
                skipped += 1
                continue
            date = (response.get("headers") or {}).get("Date")
            if date:
                clock.now = parsedate_to_datetime(date[0]).timestamp()
            body = ids.rewrite(request.get("body") or "")
            mine = client.request(
                request["method"],
                ids.rewrite(api_path),
                params=[(key, ids.rewrite(value)) for key, value in parse_qsl(url.query)],
                content=body.encode() if body else None,
            )
            compared += 1
            recorded_body = json.loads(response["body"]) if response["body"].strip() else None
            my_body = mine.json() if mine.content else None
            ids.learn(recorded_body, my_body)
            where = f"#{interaction['id']} {request['method']} {template}"
            if mine.status_code != response["code"]:
                mismatches.append(
                    f"{where}: status {mine.status_code} != {response['code']} ({mine.text[:200]})"
                )
                continue
            recorded_keys, my_keys = key_set(recorded_body), key_set(my_body)
            if recorded_keys is None or my_keys is None:
                if (recorded_keys is None) != (my_keys is None) and recorded_body not in ([], None):
                    mismatches.append(f"{where}: body kind differs")
                continue
            missing = recorded_keys - my_keys - TOLERATED_MISSING_KEYS
            extra = my_keys - recorded_keys - TOLERATED_EXTRA_KEYS
            if template and template.endswith("/deploys"):
                missing -= DEPLOY_TIMING_KEYS
                extra -= DEPLOY_TIMING_KEYS
            if missing or extra:
                mismatches.append(f"{where}: keys missing {sorted(missing)} extra {sorted(extra)}")
    return compared, skipped, mismatches


@pytest.mark.parametrize("cassette", cassettes(), ids=lambda path: path.stem)
def test_recorded_interactions_replay_identically(
    cassette: Path, tmp_path: Path, operation_matcher: OperationMatcher
) -> None:
    compared, skipped, mismatches = replay(cassette, tmp_path / "world.db", operation_matcher)
    assert compared == implemented_count(cassette, operation_matcher)
    assert not mismatches, f"{cassette.name}: {len(mismatches)} differences:\n" + "\n".join(
        mismatches[:20]
    )


def test_replay_covers_most_recorded_calls(operation_matcher: OperationMatcher) -> None:
    """Guard against silently skipping everything: most recorded calls are of endpoints the
    sandbox implements, and each cassette's test replays all of those."""
    found = cassettes()
    if not found:
        pytest.skip("../shared not present: recordings")
    total = sum(len(interactions_of(cassette)) for cassette in found)
    replayed = sum(implemented_count(cassette, operation_matcher) for cassette in found)
    # 3,274 recorded calls; the endpoints rcp needs account for more than half of them.
    assert total >= 3000
    assert replayed >= 1500, (replayed, total)
