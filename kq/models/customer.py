"""The customer card (SPEC §2): basic profile, personal profile, classifications, bookkeeping."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime, utcnow

ACTIVE, DORMANT, DO_NOT_CONTACT, DELETED = "active", "dormant", "do_not_contact", "deleted"

BASIC_FIELDS = ("name", "surname", "title", "gender", "phone", "wechat_id", "birth_month",
                "approx_age", "address", "email", "skin_type", "source")
PERSONAL_FIELDS = ("occupation", "family", "personality_type", "buying_psychology",
                   "spending_habits", "style_preferences", "hobbies", "lifestyle",
                   "service_preference", "promotion_attitude", "personal_values", "notes")


class Customer(TimestampMixin, db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("store_id", "phone"),
        Index("ix_customers_store_staff_visit", "store_id", "assigned_staff_id", "last_visit_at"),
        Index("ix_customers_store_visit", "store_id", "last_visit_at"),
        Index("ix_customers_store_birthday", "store_id", "birth_month", "birth_day"),
        CheckConstraint("birth_month IS NULL OR (birth_month BETWEEN 1 AND 12)", name="birth_month"),
        CheckConstraint("birth_day IS NULL OR (birth_day BETWEEN 1 AND 31)", name="birth_day"),
        CheckConstraint("tier IS NULL OR tier IN ('A', 'B', 'C')", name="tier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    # Basic profile
    name: Mapped[str] = mapped_column(String(40))
    surname: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str | None] = mapped_column(String(10))  # 小姐, 女士, 姐, 先生 …
    greeting_name: Mapped[str] = mapped_column(String(20))  # 梁小姐
    gender: Mapped[str | None] = mapped_column(String(1))  # F / M
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, unique within a store
    wechat_id: Mapped[str | None] = mapped_column(String(40))
    birth_month: Mapped[int | None]
    birth_day: Mapped[int | None]
    birth_year: Mapped[int | None]
    approx_age: Mapped[int | None]
    address: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(120))
    skin_type: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(20))  # walk_in, referral, trial_card, online
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # Personal profile (the 80%)
    occupation: Mapped[str | None] = mapped_column(String(200))
    family: Mapped[str | None] = mapped_column(String(200))
    personality_type: Mapped[str | None] = mapped_column(String(20))
    buying_psychology: Mapped[str | None] = mapped_column(String(20))
    spending_habits: Mapped[str | None] = mapped_column(String(200))
    style_preferences: Mapped[str | None] = mapped_column(String(200))
    hobbies: Mapped[str | None] = mapped_column(String(200))
    lifestyle: Mapped[str | None] = mapped_column(String(200))
    service_preference: Mapped[str | None] = mapped_column(String(200))
    promotion_attitude: Mapped[str | None] = mapped_column(String(200))
    personal_values: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    # Classifications
    tier: Mapped[str | None] = mapped_column(String(1))
    purchasing_power: Mapped[int | None]  # 1-5, staff's estimate, feeds the key score
    key_score: Mapped[int] = mapped_column(default=0)
    is_key: Mapped[bool] = mapped_column(default=False)
    key_reason: Mapped[str | None] = mapped_column(String(20))  # card, spend, score, override
    key_override: Mapped[bool | None]
    key_override_reason: Mapped[str | None] = mapped_column(String(200))
    visit_band: Mapped[str | None] = mapped_column(String(10))  # high, medium, low
    referral_count: Mapped[int] = mapped_column(default=0)
    # Consent and lifecycle (PIPL)
    # marketing_consent is "consents now"; consent_at/consent_source say when and how it was
    # given, consent_withdrawn_at when it was last taken back (kq/services/privacy.py).
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_source: Mapped[str | None] = mapped_column(String(20))  # paper, verbal, wechat …
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    do_not_contact: Mapped[bool] = mapped_column(default=False)
    do_not_contact_reason: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    churn_reason: Mapped[str | None] = mapped_column(String(20))
    reactivation_category: Mapped[str | None] = mapped_column(String(20))
    # Bookkeeping kept by the services that write visits, contacts and assignments
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visit_count: Mapped[int] = mapped_column(default=0)
    total_spent_fen: Mapped[int] = mapped_column(default=0)
    points_balance: Mapped[int] = mapped_column(default=0)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    store = relationship("Store")
    assigned_staff = relationship("User", foreign_keys=[assigned_staff_id])
    referred_by = relationship("Customer", remote_side=[id])

    def since_moment(self):
        """What "days since" counts from: the last visit, or joining if she never came."""
        return self.last_visit_at or self.created_at

    def days_since_visit(self, store, today=None):
        return store.days_since(self.since_moment(), today)

    def status(self, store, today=None):
        """Derived each time from last_visit_at; never a stored flag that can go stale."""
        if self.deleted_at is not None:
            return DELETED
        if self.do_not_contact:
            return DO_NOT_CONTACT
        if self.days_since_visit(store, today) >= store.dormant_after_days:
            return DORMANT
        return ACTIVE

    def birthday(self, year):
        """This customer's birthday in a given year; 29 Feb falls on 28 Feb in common years."""
        if not (self.birth_month and self.birth_day):
            return None
        try:
            return date(year, self.birth_month, self.birth_day)
        except ValueError:
            return date(year, 2, 28)

    def completeness(self):
        """The 20/80 meter: basic profile weighs 20, personal profile 80 (percent)."""
        basic = sum(1 for f in BASIC_FIELDS if getattr(self, f) not in (None, ""))
        personal = sum(1 for f in PERSONAL_FIELDS if getattr(self, f) not in (None, ""))
        return round(20 * basic / len(BASIC_FIELDS) + 80 * personal / len(PERSONAL_FIELDS))

    def __repr__(self):
        return f"<Customer {self.id} {self.greeting_name}>"


class CustomerTag(db.Model):
    __tablename__ = "customer_tags"
    __table_args__ = (
        UniqueConstraint("customer_id", "name"),
        Index("ix_customer_tags_store_name", "store_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    name: Mapped[str] = mapped_column(String(30))


class CustomerSearchKey(db.Model):
    """Searchable forms of a customer: name and its endings, pinyin in full and initials (with
    their endings), phone digits and their last 4–10 digits, WeChat id. A search is a prefix
    range on (store_id, key): an index lookup, never a scan."""

    __tablename__ = "customer_search_keys"
    __table_args__ = (
        Index("ix_customer_search_keys_store_key", "store_id", "key"),
        Index("ix_customer_search_keys_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # Byte order ("C") on PostgreSQL, so the prefix range is exact and uses the btree.
    key: Mapped[str] = mapped_column(String(64).with_variant(String(64, collation="C"),
                                                             "postgresql"))
