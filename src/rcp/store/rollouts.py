"""Rollouts in the database (``rcp.core.ports.RolloutStore``): one row per rollout, one per
tenant step, each write its own short transaction so a kill loses at most the step in flight.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from rcp.core.models import iso_z
from rcp.core.rollout.model import (
    Rollout,
    RolloutOptions,
    RolloutState,
    RolloutStep,
    StepState,
)
from rcp.store.repository import SqlStore
from rcp.store.tables import rollout_steps as _steps
from rcp.store.tables import rollouts as _rollouts


class SqlRolloutStore:
    """Rollout records next to the tenants (same database, same transactions helpers)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    # ---- writing ------------------------------------------------------------------------

    def insert_rollout(self, rollout: Rollout) -> Rollout:
        def work(connection: Connection) -> int:
            now = self._store._now(connection)
            rollout.created_at = rollout.updated_at = now
            result = connection.execute(insert(_rollouts).values(**_rollout_values(rollout)))
            key = result.inserted_primary_key
            assert key is not None
            rollout_id = int(key[0])
            if rollout.steps:
                connection.execute(
                    insert(_steps), [_step_values(rollout_id, step) for step in rollout.steps]
                )
            return rollout_id

        rollout.id = self._store._transaction(work)
        return rollout

    def save_progress(self, rollout: Rollout) -> None:
        """The rollout's wave progress (current wave, when each finished); never its state,
        which only moves by compare and set (``set_state``): a pause written meanwhile by
        another process is never overwritten."""
        assert rollout.id is not None

        def work(connection: Connection) -> None:
            rollout.updated_at = self._store._now(connection)
            connection.execute(
                update(_rollouts)
                .where(_rollouts.c.id == rollout.id)
                .values(
                    current_wave=rollout.current_wave,
                    wave_finished_at=[iso_z(moment) for moment in rollout.wave_finished_at],
                    updated_at=rollout.updated_at,
                )
            )

        self._store._transaction(work)

    def set_state(
        self,
        rollout_id: int,
        state: RolloutState,
        message: str | None,
        *,
        only_from: frozenset[RolloutState],
    ) -> bool:
        """Move the rollout to ``state`` if it is in one of ``only_from`` now (compare and set:
        a pause never overwrites a halt another process just wrote); whether it moved."""

        def work(connection: Connection) -> bool:
            result = connection.execute(
                update(_rollouts)
                .where(
                    _rollouts.c.id == rollout_id,
                    _rollouts.c.state.in_([str(s) for s in only_from]),
                )
                .values(state=str(state), message=message, updated_at=self._store._now(connection))
            )
            return bool(result.rowcount == 1)

        return self._store._transaction(work)

    def save_step(self, rollout_id: int, step: RolloutStep) -> None:
        def work(connection: Connection) -> None:
            values = _step_values(rollout_id, step)
            connection.execute(
                update(_steps)
                .where(_steps.c.rollout_id == rollout_id, _steps.c.slug == step.slug)
                .values(values)
            )

        self._store._transaction(work)

    # ---- reading ------------------------------------------------------------------------

    def get_rollout(self, rollout_id: int) -> Rollout | None:
        with self._store._reading(snapshot=True) as connection:
            row = connection.execute(select(_rollouts).where(_rollouts.c.id == rollout_id)).first()
            return None if row is None else _with_steps(connection, row)

    def latest_rollout(self, template: str | None = None) -> Rollout | None:
        query = select(_rollouts).order_by(_rollouts.c.id.desc()).limit(1)
        if template is not None:
            query = query.where(_rollouts.c.template == template)
        with self._store._reading(snapshot=True) as connection:
            row = connection.execute(query).first()
            return None if row is None else _with_steps(connection, row)

    def rollout_state(self, rollout_id: int) -> tuple[RolloutState, str | None]:
        """The state (and its message) as it is now: what a running rollout polls."""
        with self._store._reading() as connection:
            row = connection.execute(
                select(_rollouts.c.state, _rollouts.c.message).where(_rollouts.c.id == rollout_id)
            ).first()
        if row is None:
            raise KeyError(rollout_id)
        return RolloutState(row.state), row.message


def _rollout_values(rollout: Rollout) -> dict[str, Any]:
    return {
        "template": rollout.template,
        "revision_hash": rollout.revision_hash,
        "revision_label": rollout.revision_label,
        "revision_content": rollout.revision_content,
        "state": str(rollout.state),
        "options": rollout.options.to_json(),
        "current_wave": rollout.current_wave,
        "wave_finished_at": [iso_z(moment) for moment in rollout.wave_finished_at],
        "message": rollout.message,
        "actor": rollout.actor,
        "created_at": rollout.created_at,
        "updated_at": rollout.updated_at,
    }


def _step_values(rollout_id: int, step: RolloutStep) -> dict[str, Any]:
    return {
        "rollout_id": rollout_id,
        "slug": step.slug,
        "wave": step.wave,
        "position": step.position,
        "tier": step.tier,
        "state": str(step.state),
        "previous": step.previous,
        "error": step.error,
        "error_code": step.error_code,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
    }


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _with_steps(connection: Connection, row: Any) -> Rollout:
    steps = [
        RolloutStep(
            slug=step.slug,
            wave=step.wave,
            position=step.position,
            tier=step.tier,
            state=StepState(step.state),
            previous=step.previous,
            error=step.error,
            error_code=step.error_code,
            started_at=step.started_at,
            finished_at=step.finished_at,
        )
        for step in connection.execute(
            select(_steps).where(_steps.c.rollout_id == row.id).order_by(_steps.c.position)
        )
    ]
    return Rollout(
        id=row.id,
        template=row.template,
        revision_hash=row.revision_hash,
        revision_label=row.revision_label,
        revision_content=row.revision_content,
        options=RolloutOptions.from_json(row.options),
        steps=steps,
        state=RolloutState(row.state),
        current_wave=row.current_wave,
        wave_finished_at=[_moment(value) for value in row.wave_finished_at or []],
        message=row.message,
        actor=row.actor,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
