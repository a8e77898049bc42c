"""Who looks after whom (history kept), and the append-only reward/penalty ledger (SPEC §7)."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime


class Assignment(TimestampMixin, db.Model):
    """A spell of one customer with one staff member; ended_at set when reassigned."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_customer_ended", "customer_id", "ended_at"),
        Index("ix_assignments_store_staff_ended", "store_id", "staff_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    proposed_for_reassignment: Mapped[bool] = mapped_column(default=False)

    customer = relationship("Customer")
    staff = relationship("User", foreign_keys=[staff_id])


class LedgerEntry(TimestampMixin, db.Model):
    """Never edited or deleted; a manager may void one with a reason."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_store_period", "store_id", "period", "staff_id"),
                      Index("ix_ledger_entries_store_day", "store_id", "occurred_on"),
                      Index("ix_ledger_entries_assignment", "assignment_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    kind: Mapped[str] = mapped_column(String(10))  # reward, penalty
    amount_fen: Mapped[int]  # signed
    reason: Mapped[str] = mapped_column(String(200))
    occurred_on: Mapped[date]
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM of occurred_on
    # "reward:visit:ID" or "penalty:assignment:ID" — once per spell, once per assignment.
    dedupe_key: Mapped[str] = mapped_column(String(60), unique=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str | None] = mapped_column(String(200))

    staff = relationship("User", foreign_keys=[staff_id])
    customer = relationship("Customer")


class ReactivationOffer(TimestampMixin, db.Model):
    """A store's own wording of the suggested offer for one reactivation category (SPEC §6);
    without a row the built-in suggestion applies."""

    __tablename__ = "reactivation_offers"
    __table_args__ = (UniqueConstraint("store_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    category: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
