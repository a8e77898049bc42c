"""Gifts, promises and complaints (SPEC §8)."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime

COMPLAINT_STEPS = ("listen", "empathise", "apologise", "analyse", "explain", "resolve",
                   "compensate", "confirm", "follow_up")


COMPLAINT_CHANNELS = ("in_person", "phone", "wechat", "review", "other")
STOCK_REASONS = ("initial", "restock", "adjust", "damaged", "lost")


class Gift(TimestampMixin, db.Model):
    """Stock on hand (`quantity`) of which `reserved` are held for customers. Both change only
    through guarded UPDATEs in kq.services.gifts, so neither can go below zero nor can more be
    reserved than are on hand, even when two phones hand out the last one at once."""

    __tablename__ = "gifts"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity"),
                      CheckConstraint("reserved >= 0 AND reserved <= quantity", name="reserved"),
                      UniqueConstraint("store_id", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    face_value_fen: Mapped[int] = mapped_column(default=0)
    unit_cost_fen: Mapped[int] = mapped_column(default=0)
    quantity: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def available(self):
        return self.quantity - self.reserved


class GiftStockMove(TimestampMixin, db.Model):
    """Every restock and adjustment, with who and why (handouts are their own rows)."""

    __tablename__ = "gift_stock_moves"
    __table_args__ = (Index("ix_gift_stock_moves_gift_time", "gift_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    change: Mapped[int]
    quantity_after: Mapped[int]
    reason: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(String(200))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    staff = relationship("User")


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
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(200))
    handed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handed_out_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the gift was worth and cost when it left the shelf, for the monthly totals.
    face_value_fen: Mapped[int | None]
    unit_cost_fen: Mapped[int | None]

    gift = relationship("Gift")
    customer = relationship("Customer")
    staff = relationship("User", foreign_keys=[staff_id])


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
    staff = relationship("User")


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
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer = relationship("Customer")
    staff = relationship("User")
    gift_handout = relationship("GiftHandout")
    steps = relationship("ComplaintStep", order_by="ComplaintStep.id")

    @property
    def next_step(self):
        done = {s.step for s in self.steps}
        return next((step for step in COMPLAINT_STEPS if step not in done), None)


class ComplaintStep(db.Model):
    __tablename__ = "complaint_steps"
    __table_args__ = (UniqueConstraint("complaint_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    step: Mapped[str] = mapped_column(String(12))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    staff = relationship("User")
