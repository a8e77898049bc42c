"""Which store-days have been generated, and the message templates of SPEC §5."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kq.extensions import db
from kq.models.base import UTCDateTime, utcnow


class ChecklistRun(db.Model):
    """One row per store and local date once that day's checklists have been generated."""

    __tablename__ = "checklist_runs"
    __table_args__ = (UniqueConstraint("store_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    day: Mapped[date]
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_count: Mapped[int] = mapped_column(default=0)


class MessageTemplate(db.Model):
    """A store's text for one checklist kind and channel; defaults live in kq/scripts.py."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("store_id", "kind", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
