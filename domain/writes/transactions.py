"""Opening a write transaction for certain before the first savepoint (imports and batches use savepoints).

SQLite's Python driver opens a transaction implicitly only before a data-changing statement: a SAVEPOINT
issued first starts a transaction of its own, which its RELEASE then commits, and a later rollback (a dry run,
an all-or-nothing import with refused rows) could not undo it. Taking the audit chain's lock first, an UPDATE
every audited write makes anyway, opens the real transaction on both databases.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.writes import lock_chain


async def open_write_transaction(session: AsyncSession) -> None:
    # The head row is made on a database's first write: without it the UPDATE would lock nothing.
    await lock_chain(session)
