"""What happens in the treatment room: visits, care notes, prepaid cards, points."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime


class Visit(TimestampMixin, db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_customer_time", "customer_id", "visited_at"),
        Index("ix_visits_store_time", "store_id", "visited_at"),
        CheckConstraint("amount_fen >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    services: Mapped[str] = mapped_column(String(200), default="")
    amount_fen: Mapped[int] = mapped_column(default=0)
    prepaid_card_id: Mapped[int | None] = mapped_column(ForeignKey("prepaid_cards.id"))
    points_earned: Mapped[int] = mapped_column(default=0)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # An opening record made by an import from the old system's summary columns: it carries
    # her history (last visit, spend, number of visits) and never earns a reward.
    imported: Mapped[bool] = mapped_column(default=False, server_default=false())
    visits_counted: Mapped[int] = mapped_column(default=1, server_default="1")

    customer = relationship("Customer")
    staff = relationship("User", foreign_keys=[staff_id])
    prepaid_card = relationship("PrepaidCard")


class CareNote(TimestampMixin, db.Model):
    __tablename__ = "care_notes"
    __table_args__ = (Index("ix_care_notes_customer_time", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    service_done: Mapped[str] = mapped_column(Text, default="")
    skin_condition: Mapped[str] = mapped_column(Text, default="")
    feedback: Mapped[str] = mapped_column(Text, default="")

    staff = relationship("User")
    visit = relationship("Visit")


class PrepaidCard(TimestampMixin, db.Model):
    __tablename__ = "prepaid_cards"
    __table_args__ = (
        CheckConstraint("sessions_used >= 0 AND sessions_used <= sessions_total", name="sessions"),
        CheckConstraint("balance_fen >= 0", name="balance"),
        Index("ix_prepaid_cards_store_status", "store_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    sessions_total: Mapped[int] = mapped_column(default=0)
    sessions_used: Mapped[int] = mapped_column(default=0)
    balance_fen: Mapped[int] = mapped_column(default=0)
    expires_on: Mapped[date | None]
    price_fen: Mapped[int] = mapped_column(default=0, server_default="0")  # paid at the sale
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sold_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(200))

    @property
    def sessions_left(self):
        return self.sessions_total - self.sessions_used

    def is_usable(self, today):
        if self.status != "open":
            return False
        not_expired = self.expires_on is None or self.expires_on >= today
        return not_expired and (self.sessions_left > 0 or self.balance_fen > 0)


class CardMove(TimestampMixin, db.Model):
    """Append-only: every sale, top-up, use, refund and close of a prepaid card is one row;
    the card's sessions and balance are the sum, kept by kq.services.cards."""

    __tablename__ = "card_moves"
    __table_args__ = (Index("ix_card_moves_card_time", "card_id", "created_at"),
                      Index("ix_card_moves_store_time", "store_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("prepaid_cards.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(12))  # sale, top_up, use, refund, close, import
    sessions_delta: Mapped[int] = mapped_column(default=0)
    balance_delta_fen: Mapped[int] = mapped_column(default=0)
    paid_fen: Mapped[int] = mapped_column(default=0)  # money taken (+) or given back (-)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(200))

    card = relationship("PrepaidCard")
    staff = relationship("User")


class PointsEntry(TimestampMixin, db.Model):
    """Append-only; the customer's points_balance is the sum, kept by the points service."""

    __tablename__ = "points_entries"
    __table_args__ = (Index("ix_points_entries_customer_time", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    points: Mapped[int]  # signed: + earned, - redeemed
    reason: Mapped[str] = mapped_column(String(20))  # visit, redeem_service, redeem_product, adjust
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    price_fen: Mapped[int | None]  # what the redeemed service or product cost

    visit = relationship("Visit")
    staff = relationship("User")
