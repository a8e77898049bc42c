"""Keeping in touch: the contact log (SPEC §4) and the daily checklist items (SPEC §3)."""
from datetime import date, datetime

from sqlalchemy import (JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint,
                        true)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

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


def planned_for(kind, detail):
    """Whether an item is on its day's plan: every kind due that day is; a daily kind when
    the day's run planned it (its detail says "plan": true)."""
    return kind not in DAILY_KINDS or bool((detail or {}).get("plan"))


def _planned_default(context):
    """`planned` of a row inserted without it (insert() of many rows: per row)."""
    row = context.get_current_parameters()
    return planned_for(row.get("kind"), row.get("detail"))


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
        # Her list of a day and its counts (the summary reads only this index: no row, no
        # JSON); its first three columns serve every other read of a staff member's days.
        Index("ix_tasks_store_staff_due_plan", "store_id", "staff_id", "due_on", "planned",
              "status", "kind"),
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
    # On the day's plan (planned_for: from the kind and the detail's "plan"), kept in its own
    # column so that Today's counts and list need not parse every item's JSON. Set from the
    # row on every insert (the default) and on every change through the ORM (below).
    planned: Mapped[bool] = mapped_column(default=_planned_default, server_default=true())

    customer = relationship("Customer")
    staff = relationship("User")

    @validates("kind", "detail")
    def _keep_planned(self, key, value):
        kind = value if key == "kind" else self.kind
        self.planned = planned_for(kind, value if key == "detail" else self.detail)
        return value
