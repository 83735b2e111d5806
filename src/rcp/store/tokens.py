"""``SqlTokenStore``: the ``TokenStore`` of ``rcp.core.tokens`` in the control-plane database.

Lives beside ``SqlStore`` (same engine, same transaction helpers and error mapping) but apart
from it: only ``rcp serve`` needs tokens. Reads are Core queries in read-only transactions,
writes ORM ones, as in the repository.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from rcp.core.models import utcnow
from rcp.core.tokens import ApiToken, TokenScope
from rcp.errors import ConflictError
from rcp.store.tables import ApiTokenRow

if TYPE_CHECKING:
    from rcp.core.tokens import TokenStore
    from rcp.store.repository import SqlStore

_tokens: Table = ApiTokenRow.__table__  # type: ignore[attr-defined]
# Built once: every authenticated request runs it.
_TOKEN_BY_HASH = core_select(_tokens).where(_tokens.c.token_hash == bindparam("token_hash"))


class SqlTokenStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def insert_token(self, token: ApiToken, token_hash: str) -> ApiToken:
        def work(session: Session) -> ApiToken:
            existing = session.exec(
                select(ApiTokenRow).where(
                    col(ApiTokenRow.name) == token.name, col(ApiTokenRow.revoked_at).is_(None)
                )
            ).first()
            if existing is not None:
                raise _name_taken(token.name)
            row = ApiTokenRow(
                name=token.name,
                scope=str(token.scope),
                token_hash=token_hash,
                prefix=token.prefix,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _token(row)

        # Two creates of one name at once: the partial unique index refuses the second.
        return self._store._transaction(work, on_conflict=lambda _exc: _name_taken(token.name))

    def list_tokens(self, *, include_revoked: bool) -> list[ApiToken]:
        query = core_select(_tokens).order_by(_tokens.c.id)
        if not include_revoked:
            query = query.where(_tokens.c.revoked_at.is_(None))
        with self._store._reading() as connection:
            return [_token(row) for row in connection.execute(query)]

    def revoke_token(self, name: str) -> ApiToken | None:
        def work(session: Session) -> ApiToken | None:
            row = session.exec(
                select(ApiTokenRow).where(
                    col(ApiTokenRow.name) == name, col(ApiTokenRow.revoked_at).is_(None)
                )
            ).first()
            if row is None:
                return None
            row.revoked_at = utcnow()
            session.add(row)
            session.flush()
            return _token(row)

        return self._store._transaction(work)

    def find_token(self, token_hash: str) -> ApiToken | None:
        # Every authenticated request runs this: a read-only transaction (on SQLite a deferred
        # BEGIN, which never waits for nor holds the write lock).
        with self._store._reading() as connection:
            row = connection.execute(_TOKEN_BY_HASH, {"token_hash": token_hash}).first()
        return None if row is None else _token(row)

    def touch_token(self, token_id: int, at: datetime) -> None:
        def work(session: Session) -> None:
            session.exec(
                update(ApiTokenRow)
                .where(col(ApiTokenRow.id) == token_id)
                .values(last_used_at=at)
            )

        self._store._transaction(work)


def _token(row: Any) -> ApiToken:
    """An ``ApiTokenRow`` or a Core result row (both expose the columns as attributes)."""
    return ApiToken(
        id=row.id,
        name=row.name,
        scope=TokenScope(row.scope),
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _name_taken(name: str) -> ConflictError:
    return ConflictError(
        f"a token named {name} already exists",
        hint=f"revoke it first (`rcp serve token revoke {name}`) or choose another name",
        code="token_exists",
    )


if TYPE_CHECKING:

    def _implements_token_store(store: SqlTokenStore) -> TokenStore:
        return store
