"""Staff accounts: beauticians and managers belong to a store; owners see every store."""
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, delete, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime

BEAUTICIAN, MANAGER, OWNER = "beautician", "manager", "owner"
ROLES = (BEAUTICIAN, MANAGER, OWNER)

# A hash to verify against when the user does not exist, so timing does not reveal it.
_DUMMY_HASH = None


def _hasher():
    return PasswordHasher(**current_app.config["ARGON2_PARAMS"])


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=BEAUTICIAN)
    locale: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    # A temporary password set by a manager: she chooses her own at the next sign-in.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store = relationship("Store")

    @property
    def is_active(self):
        return self.active

    @property
    def is_manager(self):
        return self.role in (MANAGER, OWNER)

    @property
    def is_owner(self):
        return self.role == OWNER

    def set_password(self, password):
        """A new password ends every sign-in she has (kq.models.security.UserSession), whoever
        sets it and wherever; the page she changes it on opens a new one (kq.auth)."""
        self.password_hash = _hasher().hash(password)
        if self.id is not None:
            from kq.models.security import UserSession

            db.session.execute(delete(UserSession).where(UserSession.user_id == self.id))

    def check_password(self, password):
        try:
            return _hasher().verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def burn_password_check(password):
        """Spend the same time as a real check for a username that does not exist."""
        global _DUMMY_HASH
        if _DUMMY_HASH is None:
            _DUMMY_HASH = _hasher().hash("not-a-real-password")
        try:
            _hasher().verify(_DUMMY_HASH, password)
        except VerificationError:
            pass

    def __repr__(self):
        return f"<User {self.username} {self.role}>"
