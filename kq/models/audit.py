"""Audit trail of sensitive acts (PIPL, SPEC §10): reveals, exports, bulk messages, deletions."""
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kq.extensions import db
from kq.models.base import TimestampMixin


class AuditEvent(TimestampMixin, db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_store_time", "store_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))  # reveal_phone, export, delete, sign_in …
    target_type: Mapped[str | None] = mapped_column(String(20))
    target_id: Mapped[int | None]
    detail: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
