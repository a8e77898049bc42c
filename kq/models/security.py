"""Server-side halves of sign-in security: the sign-ins that are open (a cookie is only good
while its row exists) and the sign-in attempts every worker counts from."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime


class UserSession(TimestampMixin, db.Model):
    """One sign-in on one device. The cookie carries a random token; the row keeps only its
    SHA-256, so reading the database gives no one a cookie. Signing out deletes the row;
    "sign out everywhere", a password change or reset, closing the account and a change of
    role delete all her rows. created_at is the start of the absolute lifetime."""
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)


class SignInAttempt(db.Model):
    """A sign-in attempt, for throttling when Redis is not there (kq.throttle)."""
    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_ip_at", "ip", "at"),
                      Index("ix_sign_in_attempts_username_at", "username", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ok: Mapped[bool] = mapped_column(default=False)
