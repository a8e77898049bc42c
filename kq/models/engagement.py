"""Gifts, promises and complaints (SPEC §8)."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime

COMPLAINT_STEPS = ("listen", "empathise", "apologise", "analyse", "explain", "resolve",
                   "compensate", "confirm", "follow_up")


class Gift(TimestampMixin, db.Model):
    __tablename__ = "gifts"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    face_value_fen: Mapped[int] = mapped_column(default=0)
    unit_cost_fen: Mapped[int] = mapped_column(default=0)
    quantity: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class GiftHandout(TimestampMixin, db.Model):
    __tablename__ = "gift_handouts"
    __table_args__ = (Index("ix_gift_handouts_store_status_pickup", "store_id", "status",
                            "pickup_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="reserved")  # handed_out, cancelled
    pickup_after: Mapped[date | None]
    campaign: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(String(200))
    handed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    gift = relationship("Gift")
    customer = relationship("Customer")


class Promise(TimestampMixin, db.Model):
    __tablename__ = "promises"
    __table_args__ = (Index("ix_promises_store_status_due", "store_id", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    what: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default="open")  # fulfilled, broken
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(200))

    customer = relationship("Customer")


class Complaint(TimestampMixin, db.Model):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_store_status", "store_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # who is working it
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="open")  # closed
    next_step_due_on: Mapped[date | None]
    gift_handout_id: Mapped[int | None] = mapped_column(ForeignKey("gift_handouts.id"))

    customer = relationship("Customer")
    steps = relationship("ComplaintStep", order_by="ComplaintStep.id")


class ComplaintStep(db.Model):
    __tablename__ = "complaint_steps"
    __table_args__ = (UniqueConstraint("complaint_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    step: Mapped[str] = mapped_column(String(12))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
