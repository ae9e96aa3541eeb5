"""Per-service storage: the event store (optimistic concurrency), the outbox and the inbox."""
from xinfang.storage import chain, recovery, tables
from xinfang.storage.database import Database
from xinfang.storage.unit_of_work import AlreadyApplied, ConcurrencyConflict, ReadView, UnitOfWork

__all__ = ["Database", "UnitOfWork", "ReadView", "ConcurrencyConflict", "AlreadyApplied", "chain", "recovery", "tables"]
