"""Scripts (话术) per channel and bulk messages (SPEC §5): a script is a text a store keeps for
one channel and purpose; a batch is one bulk send to a segment, rendered per customer into
outbound messages, each sent at most once (UNIQUE batch, customer)."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime, utcnow

SCRIPT_CHANNELS = ("sms", "wechat", "phone", "moments", "broadcast", "voice")
# Channels read aloud: the editor shows the seconds they take (SPEC §5, 24 seconds).
SPOKEN_CHANNELS = ("phone", "voice")
CAMPAIGN_PHASES = ("campaign_notice", "campaign_reminder", "campaign_gift", "campaign_thanks")
BATCH_STATUSES = ("draft", "confirmed", "running", "done", "failed")
MESSAGE_STATUSES = ("queued", "sent", "failed", "skipped")


class MessageScript(TimestampMixin, db.Model):
    """One script: channel, purpose (a checklist kind, a campaign phase or "custom"), locale."""

    __tablename__ = "message_scripts"
    __table_args__ = (Index("ix_message_scripts_store_channel", "store_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32), default="custom")
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans")
    name: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<MessageScript {self.id} {self.channel}/{self.purpose} {self.locale}>"


class MessageBatch(TimestampMixin, db.Model):
    """One bulk send: who asked, to which segment, through which provider, and its counts."""

    __tablename__ = "message_batches"
    __table_args__ = (Index("ix_message_batches_store_time", "store_id", "created_at"),
                      Index("ix_message_batches_source", "source_type", "source_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    script_id: Mapped[int | None] = mapped_column(ForeignKey("message_scripts.id"))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    provider: Mapped[str] = mapped_column(String(16), default="outbox")
    body: Mapped[str] = mapped_column(Text)  # the template as confirmed (a script may change later)
    segment: Mapped[dict | None] = mapped_column(JSON)  # the spec, or {"customer_ids": [...]}
    source_type: Mapped[str | None] = mapped_column(String(20))  # e.g. campaign_touch
    source_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(10), default="draft")
    total: Mapped[int] = mapped_column(default=0)  # customers in the segment
    skipped_do_not_contact: Mapped[int] = mapped_column(default=0)
    skipped_no_consent: Mapped[int] = mapped_column(default=0)
    skipped_no_phone: Mapped[int] = mapped_column(default=0)
    queued: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Quiet hours: a gateway batch waits until this instant (09:00 store time) to go on.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by = relationship("User", foreign_keys=[created_by_id])
    script = relationship("MessageScript")

    @property
    def to_send(self):
        return self.total - self.skipped_do_not_contact - self.skipped_no_consent \
            - self.skipped_no_phone


class OutboundMessage(TimestampMixin, db.Model):
    """One customer's rendered message of a batch. The outbox provider leaves it queued for the
    staff member (staff_id) to send from her phone; a gateway sends it and keeps its ref."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("batch_id", "customer_id"),
        Index("ix_outbound_messages_store_staff_status", "store_id", "staff_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("message_batches.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="queued")
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))

    batch = relationship("MessageBatch")
    customer = relationship("Customer")
    staff = relationship("User", foreign_keys=[staff_id])
