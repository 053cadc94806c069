"""Events a committed write announces, and this process's subscribers to them (docs/adr/0016-subscriptions.md).

A write announces with :func:`publish` inside its own transaction, and the announcement exists only if that
transaction commits:

- on PostgreSQL it is ``pg_notify(channel, payload)``: the database delivers a notification at commit, to
  every process listening, in commit order, and never for a transaction that rolled back;
- on the embedded SQLite it waits in the session and goes, after the commit, to the buses of this process on
  the same database (the embedded database is one process's).

Each process has one :class:`EventBus`: it listens (PostgreSQL: one connection of its own, asyncpg's
``add_listener``) and hands every notification to the subscribers of its channel. A subscriber has a bounded
queue; one that falls behind by more than that is dropped (it learns why), so a subscriber that never reads
costs at most its queue. Payloads are small JSON objects that name what changed (ids, never personal data):
a subscriber loads the row itself, through the read path's policy.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import json
import logging
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger("jamsos.events")

#: ``Session.info`` key: announcements of the open transaction (SQLite), sent after its commit.
_PENDING = "jamsos_events_pending"
#: Seconds between attempts to reopen a lost PostgreSQL listening connection.
RECONNECT_SECONDS = 1.0


class Channel(enum.StrEnum):
    """One channel per kind of event; a new kind is one more member (and its publisher and subscription)."""

    #: A claim was submitted or moved (verified, approved, paid, rejected): ``{"id", "status", "version"}``.
    CLAIMS = "jamsos_claims"
    #: A job started, committed a chunk, or finished (done, failed, cancelled): ``{"id", "state", "processed"}``.
    JOBS = "jamsos_jobs"


class Ended(Exception):
    """A subscriber's stream ended by the bus, not by the subscriber; the message says why."""


class TooSlow(Ended):
    def __init__(self, size: int) -> None:
        super().__init__(f"the subscriber fell more than {size} events behind and was dropped; subscribe again")


class Interrupted(Ended):
    def __init__(self) -> None:
        super().__init__("the event stream was interrupted (events may have been missed); subscribe again")


async def publish(session: AsyncSession, channel: Channel, payload: Mapping[str, object]) -> None:
    """Announce `payload` on `channel` when (and only if) the session's transaction commits."""
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(channel.value, text)))
    else:
        session.info.setdefault(_PENDING, []).append((channel.value, text))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[tuple[str, str]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    try:
        url = session.get_bind().engine.url  # an Engine or a Connection: both know their engine
        for bus in list(_LOCAL_BUSES.get(_database_key(str(url)), ())):
            for channel, text in pending:
                bus.deliver(channel, text)
    except Exception:
        # The write has committed: a failure to tell subscribers must not make it look failed.
        log.exception("could not hand committed events to this process's subscribers")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    # The transaction is gone, and what it announced with it.
    session.info.pop(_PENDING, None)


#: The buses of this process, by database (the embedded database's announcements stay in its process).
_LOCAL_BUSES: dict[str, weakref.WeakSet[EventBus]] = collections.defaultdict(weakref.WeakSet)


def _database_key(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


class Subscriber:
    """One subscription's queue of payloads: bounded; past the bound the subscriber is dropped."""

    def __init__(self, bus: EventBus, channel: str, size: int) -> None:
        self._bus = bus
        self.channel = channel
        self.size = size
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._ready = asyncio.Event()
        self._ended: Ended | None = None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def offer(self, payload: dict[str, Any]) -> None:
        if self._ended is not None:
            return
        if len(self._queue) >= self.size:
            self.end(TooSlow(self.size))
            return
        self._queue.append(payload)
        self._ready.set()

    def end(self, reason: Ended) -> None:
        """Stop this subscriber: its queue is freed now, and its reader gets `reason` next."""
        if self._ended is None:
            self._ended = reason
            self._queue.clear()
            self._bus.forget(self, dropped=isinstance(reason, TooSlow))
            self._ready.set()

    async def next(self, wait_seconds: float) -> dict[str, Any] | None:
        """The next payload, or None when `wait_seconds` pass without one; raises :class:`Ended`."""
        if not self._queue and self._ended is None:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    await self._ready.wait()
        if self._ended is not None:
            raise self._ended
        return self._queue.popleft() if self._queue else None


class EventBus:
    """This process's subscribers, by channel, fed by the database's notifications.

    `database_url` is the application's SQLAlchemy URL: on PostgreSQL :meth:`start` opens the listening
    connection; otherwise the bus receives what this process's transactions on that database commit.
    """

    def __init__(self, database_url: str, *, queue_size: int = 100) -> None:
        self.database_url = database_url
        self.queue_size = queue_size
        self.postgres = make_url(database_url).get_backend_name() == "postgresql"
        self._subscribers: dict[str, set[Subscriber]] = collections.defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        #: Set while the PostgreSQL connection listens (always set on SQLite).
        self.listening = asyncio.Event()
        #: Subscribers dropped for falling behind, since start (``/metrics``).
        self.dropped = 0

    @property
    def active(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    @property
    def queued(self) -> int:
        """Payloads waiting in all queues: at most ``active * queue_size``."""
        return sum(s.queued for subs in self._subscribers.values() for s in subs)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.postgres:
            self._listener = asyncio.create_task(self._listen(), name="jamsos-events-listener")
        else:
            _LOCAL_BUSES[_database_key(self.database_url)].add(self)
            self.listening.set()

    async def close(self) -> None:
        _LOCAL_BUSES[_database_key(self.database_url)].discard(self)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        self._interrupt()

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: Channel) -> AsyncIterator[Subscriber]:
        """A subscriber to `channel` for the block's duration."""
        subscriber = Subscriber(self, channel.value, self.queue_size)
        self._subscribers[channel.value].add(subscriber)
        try:
            yield subscriber
        finally:
            self.forget(subscriber)

    def forget(self, subscriber: Subscriber, *, dropped: bool = False) -> None:
        if subscriber in self._subscribers[subscriber.channel]:
            self._subscribers[subscriber.channel].discard(subscriber)
            if dropped:
                self.dropped += 1
                log.warning("dropped a subscriber of %s: it fell %d events behind", subscriber.channel, subscriber.size)

    def deliver(self, channel: str, text: str) -> None:
        """Hand one notification to the channel's subscribers (from any thread or event loop)."""
        running = _running_loop()
        if self._loop is not None and running is not self._loop:
            if not self._loop.is_closed():  # a bus whose loop has ended has no subscribers left
                self._loop.call_soon_threadsafe(self.deliver, channel, text)
            return
        try:
            payload = json.loads(text)
        except ValueError:
            log.warning("ignored a malformed notification on %s", channel)
            return
        if not isinstance(payload, dict):
            return
        for subscriber in list(self._subscribers.get(channel, ())):
            subscriber.offer(payload)

    def _interrupt(self) -> None:
        for subscribers in self._subscribers.values():
            for subscriber in list(subscribers):
                subscriber.end(Interrupted())

    async def _listen(self) -> None:
        """Keep one connection listening on every channel; subscribers learn of a gap (they may have missed
        events) when it is lost, and the next connection listens again."""
        dsn = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                connection = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError):
                log.warning("could not open the event listening connection; retrying", exc_info=True)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                for channel in Channel:
                    await connection.add_listener(channel.value, self._notified)
                self.listening.set()
                await lost.wait()
                log.warning("the event listening connection was lost; reconnecting")
            finally:
                self.listening.clear()
                self._interrupt()
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))
            await asyncio.sleep(RECONNECT_SECONDS)

    def _notified(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        self.deliver(channel, payload)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
