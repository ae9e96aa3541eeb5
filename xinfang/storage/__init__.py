"""Per-service storage: the event store (optimistic concurrency), the outbox and the inbox."""
from xinfang.storage.database import Database
from xinfang.storage.unit_of_work import UnitOfWork, ReadView, ConcurrencyConflict, AlreadyApplied
from xinfang.storage import tables

__all__ = ["Database", "UnitOfWork", "ReadView", "ConcurrencyConflict", "AlreadyApplied", "tables"]
