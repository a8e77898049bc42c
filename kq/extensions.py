"""Flask extensions as bare objects; the factory calls init_app on each."""
import re

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event, inspect
from sqlalchemy.orm import DeclarativeBase, Session

# Named constraints let Alembic's batch mode rebuild SQLite tables and drop them by name.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class EveryRequestLimiter(Limiter):
    """Flask-Limiter, without its check before every request while no limit applies to every
    request: no application, default, blueprint or in-memory fallback limit, nor a hint that
    a view's inner callable is limited (Keqing declares no limit today; sign-in is throttled
    by kq/throttle.py). A limit declared on a view, as a decorator or `with limiter.limit()`,
    is checked by that view as before, and declaring one of the others brings the check
    back."""

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        if in_middleware and not self.limits_every_request():
            return None
        return super()._check_request_limit(callable_name=callable_name,
                                            in_middleware=in_middleware)

    def limits_every_request(self):
        manager = self.limit_manager
        return bool(manager._application_limits or manager._default_limits
                    or manager._blueprint_limits or manager._endpoint_hints
                    or self._in_memory_fallback)


limiter = EveryRequestLimiter(key_func=get_remote_address)

from kq.queue import JobQueue  # noqa: E402 - kept beside the other holders

queue = JobQueue()


@event.listens_for(db.Model, "init", propagate=True)
def _apply_scalar_defaults(target, args, kwargs):
    """Column defaults exist on new objects at once, not only after a flush (0, not None)."""
    for column in target.__table__.columns:
        default = column.default
        if default is not None and default.is_scalar:
            kwargs.setdefault(column.key, default.arg)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_text(value):
    """What PostgreSQL can store and SQLite should: no NUL nor other control character (tab,
    line feed and carriage return are text), no lone surrogate ('?'). Requests are refused
    before this (kq/guard.py); imports and commands meet it here."""
    value = _CONTROL.sub("", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


@event.listens_for(Session, "before_flush")
def _clean_strings(session, _context, _instances):
    """Every text a user typed passes here on its way to a row: NUL bytes (PostgreSQL refuses
    them; SQLite would keep an invisible name) and lone surrogates are taken out, whichever
    form or API it came from."""
    for obj in list(session.new) + list(session.dirty):
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            value = state.dict.get(attr.key)
            if isinstance(value, str) and not value.isprintable():
                cleaned = _clean_text(value)
                if cleaned != value:
                    setattr(obj, attr.key, cleaned)
