"""Campaigns (客情活动, SPEC §8): a named plan with phases, a target segment, touches on set days
through several channels, gifts held for the segment, and the notes of its two meetings.

A campaign is a draft until it is launched; launching freezes its segment into members (each with
is_key and her staff as they were at launch) and reserves its gifts, in one transaction."""
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime

DRAFT, LAUNCHED = "draft", "launched"
# Who makes a touch: the store sends one message to all (a bulk batch the manager confirms),
# each member's own beautician one-to-one, or the owner in person (key members only).
TOUCH_WHO = ("broadcast", "staff", "owner")
TOUCH_CHANNELS = ("sms", "wechat", "phone", "voice", "moments", "broadcast")
AUDIENCES = ("all", "key")


class Campaign(TimestampMixin, db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_store_status", "store_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    name: Mapped[str] = mapped_column(String(60))
    goal: Mapped[str] = mapped_column(Text, default="")
    segment: Mapped[dict | None] = mapped_column(JSON)  # kq.services.segments spec
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    starts_on: Mapped[date | None]  # first phase's start, kept by the service
    ends_on: Mapped[date | None]  # last phase's end
    kickoff_notes: Mapped[str] = mapped_column(Text, default="")
    review_notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    phases = relationship("CampaignPhase", order_by="(CampaignPhase.starts_on, CampaignPhase.id)",
                          cascade="all, delete-orphan")
    touches = relationship("CampaignTouch", order_by="(CampaignTouch.day, CampaignTouch.id)",
                           cascade="all, delete-orphan", back_populates="campaign")
    gifts = relationship("CampaignGift", order_by="CampaignGift.id",
                         cascade="all, delete-orphan", back_populates="campaign")
    launched_by = relationship("User", foreign_keys=[launched_by_id])

    @property
    def launched(self):
        return self.status == LAUNCHED


class CampaignPhase(db.Model):
    __tablename__ = "campaign_phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    starts_on: Mapped[date]
    ends_on: Mapped[date]


class CampaignTouch(db.Model):
    __tablename__ = "campaign_touches"
    __table_args__ = (Index("ix_campaign_touches_store_day", "store_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    day: Mapped[date]
    channel: Mapped[str] = mapped_column(String(16))
    who: Mapped[str] = mapped_column(String(10))
    audience: Mapped[str] = mapped_column(String(4), default="all")
    script_id: Mapped[int | None] = mapped_column(ForeignKey("message_scripts.id"))
    body: Mapped[str] = mapped_column(Text, default="")  # used when there is no script
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("message_batches.id"))

    campaign = relationship("Campaign", back_populates="touches")
    script = relationship("MessageScript")


class CampaignMember(db.Model):
    """The segment as it was at launch."""

    __tablename__ = "campaign_members"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),
                      Index("ix_campaign_members_store_customer", "store_id", "customer_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    is_key: Mapped[bool] = mapped_column(default=False)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Days since her last visit at launch: she "reactivates" when a dormant member comes back.
    dormant_at_launch: Mapped[bool] = mapped_column(default=False)

    customer = relationship("Customer")
    staff = relationship("User")


class CampaignGift(db.Model):
    """A gift held for the whole segment or its key part, collectable from a date."""

    __tablename__ = "campaign_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    audience: Mapped[str] = mapped_column(String(4), default="key")
    pickup_after: Mapped[date | None]

    campaign = relationship("Campaign", back_populates="gifts")
    gift = relationship("Gift")
