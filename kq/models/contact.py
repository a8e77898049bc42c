"""Keeping in touch: the contact log (SPEC §4) and the daily checklist items (SPEC §3)."""
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime

CHANNELS = ("phone", "wechat_text", "wechat_voice", "sms", "in_person", "moments", "broadcast")
OUTCOMES = ("reached", "no_answer", "declined", "booked", "wrong_number", "do_not_contact")

TASK_KINDS = ("red_flag", "callback", "birthday_prep", "birthday_call", "follow_up",
              "promise_due", "gift_pickup", "relationship_touch", "satisfaction",
              "campaign_touch", "complaint_follow_up")
OPEN, DONE = "open", "done"
# Kinds regenerated every day while their condition holds: yesterday's undone item is
# superseded by today's, so only the other kinds are carried forward as overdue.
DAILY_KINDS = ("red_flag", "relationship_touch")


class Contact(TimestampMixin, db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("store_id", "client_id"),
        Index("ix_contacts_customer_time", "customer_id", "contacted_at"),
        Index("ix_contacts_store_staff_time", "store_id", "staff_id", "contacted_at"),
        Index("ix_contacts_store_follow_up", "store_id", "next_follow_up_on"),
        CheckConstraint("satisfaction IS NULL OR (satisfaction BETWEEN 1 AND 5)",
                        name="satisfaction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(36))  # UUID from the phone; replays store once
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    satisfaction: Mapped[int | None]
    suggestions: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    next_follow_up_on: Mapped[date | None]
    contacted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer = relationship("Customer")
    staff = relationship("User")


class Task(TimestampMixin, db.Model):
    """One checklist item: unique per staff, customer, kind and local date."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("staff_id", "customer_id", "kind", "due_on"),
        Index("ix_tasks_store_staff_due", "store_id", "staff_id", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(24))
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(8), default=OPEN)
    detail: Mapped[dict | None] = mapped_column(JSON)  # e.g. {"days": 34} or {"promise_id": 7}
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer = relationship("Customer")
    staff = relationship("User")
