"""``SqlTokenStore``: the ``TokenStore`` of ``rcp.core.tokens`` in the control-plane database.

Lives beside ``SqlStore`` (same engine, same transaction helpers and error mapping) but apart
from it: only ``rcp serve`` needs tokens. Core statements, as in the repository; reads in
read-only transactions.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update

from rcp.core.models import utcnow
from rcp.core.tokens import ApiToken, TokenScope
from rcp.errors import ConflictError
from rcp.store.tables import api_tokens as _tokens

if TYPE_CHECKING:
    from rcp.core.tokens import TokenStore
    from rcp.store.repository import SqlStore

# Built once: every authenticated request runs it.
_TOKEN_BY_HASH = select(_tokens).where(_tokens.c.token_hash == bindparam("token_hash"))


class SqlTokenStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def insert_token(self, token: ApiToken, token_hash: str) -> ApiToken:
        def work(connection: Connection) -> ApiToken:
            existing = connection.execute(
                select(_tokens.c.id).where(
                    _tokens.c.name == token.name, _tokens.c.revoked_at.is_(None)
                )
            ).first()
            if existing is not None:
                raise _name_taken(token.name)
            row = connection.execute(
                insert(_tokens)
                .values(
                    name=token.name,
                    scope=str(token.scope),
                    token_hash=token_hash,
                    prefix=token.prefix,
                    created_at=utcnow(),
                )
                .returning(*_tokens.c)
            ).one()
            return _token(row)

        # Two creates of one name at once: the partial unique index refuses the second.
        return self._store._transaction(work, on_conflict=lambda _exc: _name_taken(token.name))

    def list_tokens(self, *, include_revoked: bool) -> list[ApiToken]:
        query = select(_tokens).order_by(_tokens.c.id)
        if not include_revoked:
            query = query.where(_tokens.c.revoked_at.is_(None))
        with self._store._reading() as connection:
            return [_token(row) for row in connection.execute(query)]

    def revoke_token(self, name: str) -> ApiToken | None:
        def work(connection: Connection) -> ApiToken | None:
            row = connection.execute(
                update(_tokens)
                .where(_tokens.c.name == name, _tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .returning(*_tokens.c)
            ).first()
            return None if row is None else _token(row)

        return self._store._transaction(work)

    def find_token(self, token_hash: str) -> ApiToken | None:
        # Every authenticated request runs this: a read-only transaction (on SQLite a deferred
        # BEGIN, which never waits for nor holds the write lock).
        with self._store._reading() as connection:
            row = connection.execute(_TOKEN_BY_HASH, {"token_hash": token_hash}).first()
        return None if row is None else _token(row)

    def touch_token(self, token_id: int, at: datetime) -> None:
        def work(connection: Connection) -> None:
            connection.execute(
                update(_tokens).where(_tokens.c.id == token_id).values(last_used_at=at)
            )

        self._store._transaction(work)


def _token(row: Any) -> ApiToken:
    """A Core result row of ``api_tokens``."""
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
