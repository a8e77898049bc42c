"""A salon store and every threshold of the SPEC as its own setting."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from kq.extensions import db
from kq.models.base import TimestampMixin, utcnow


class Store(TimestampMixin, db.Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    # SPEC §2-§8 defaults; each is a store setting.
    dormant_after_days: Mapped[int] = mapped_column(default=30)
    red_flag_quiet_days: Mapped[int] = mapped_column(default=7)
    penalty_after_days: Mapped[int] = mapped_column(default=90)
    reward_fen: Mapped[int] = mapped_column(default=3000)
    penalty_fen: Mapped[int] = mapped_column(default=3000)
    points_rate_bp: Mapped[int] = mapped_column(default=500)  # basis points of spend: 5%
    text_limit: Mapped[int] = mapped_column(default=70)
    voice_limit_seconds: Mapped[int] = mapped_column(default=24)
    key_share_pct: Mapped[int] = mapped_column(default=40)
    key_spend_fen: Mapped[int] = mapped_column(default=50000)
    key_touch_days: Mapped[int] = mapped_column(default=7)
    touch_days: Mapped[int] = mapped_column(default=30)
    satisfaction_quota_min: Mapped[int] = mapped_column(default=10)
    satisfaction_quota_max: Mapped[int] = mapped_column(default=20)
    band_window_days: Mapped[int] = mapped_column(default=90)
    band_high_visits: Mapped[int] = mapped_column(default=6)  # in the window: high (key)
    band_medium_visits: Mapped[int] = mapped_column(default=3)  # fairly high (potential)
    # Meeting targets (SPEC §9): contacts per beautician a day, reactivations a month.
    daily_contact_target: Mapped[int] = mapped_column(default=15, server_default="15")
    monthly_reactivation_target: Mapped[int] = mapped_column(default=3, server_default="3")
    # Set by the classification run: the lowest score inside the top key_share_pct.
    key_score_threshold: Mapped[int | None]
    # How staff sign their messages ("丽颜 · 小林" style); None: the store name.
    signature: Mapped[str | None] = mapped_column(String(40))
    # Threshold changes wait here until the next daily run applies them (Manage → Settings).
    pending_settings: Mapped[dict | None] = mapped_column(JSON)
    # The last complete local day the ledger has counted: the next run starts after it, so a
    # job outage of any length is caught up day by day.
    ledger_through: Mapped[date | None]
    # Months the free text of a contact (notes, suggestions) is kept; 0: kept for ever.
    # The daily run blanks older ones (kq.services.privacy, PIPL).
    contact_notes_months: Mapped[int] = mapped_column(default=0, server_default="0")
    # The column mapping of the last import, offered again next time ({field: header text}).
    import_mapping: Mapped[dict | None] = mapped_column(JSON)

    @property
    def tz(self):
        return ZoneInfo(self.timezone)

    def local_now(self) -> datetime:
        return utcnow().astimezone(self.tz)

    def today(self):
        return self.local_now().date()

    def local_date(self, moment):
        """The calendar date in this store of an aware instant."""
        return moment.astimezone(self.tz).date() if moment else None

    def days_since(self, moment, today=None):
        """Whole days on the store's calendar: a visit at 23:59 yesterday is 1 day ago."""
        if moment is None:
            return None
        return ((today or self.today()) - self.local_date(moment)).days

    def __repr__(self):
        return f"<Store {self.id} {self.name}>"
