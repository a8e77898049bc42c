"""Sign-in throttling that every worker shares (ASVS 2.2.1).

Failed sign-ins are counted per client IP (KQ_LOGIN_LIMIT, "10 per minute") and per username
from any IP (KQ_LOGIN_USER_LIMIT, "5 per 15 minutes"): one address cannot guess many names,
and one name cannot be guessed from many addresses, while an attacker hammering one name locks
out only that name, not the salon's shared Wi-Fi.

The counts live in Redis when REDIS_URL is set and Redis answers, else in the database
(sign_in_attempts), which every gunicorn worker shares. When neither answers the sign-in goes
on (fail-open) with a warning in the log: throttling never turns into a 500 for everyone."""
import logging
import secrets
import time
from datetime import timedelta

from flask import current_app
from limits import parse
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from kq.extensions import db
from kq.models import SignInAttempt, utcnow

log = logging.getLogger(__name__)
KEEP = timedelta(days=1)  # attempt rows older than this are pruned


def _now():
    return utcnow()


def _rules(username, ip):
    """[(kind, key, amount, seconds)] for this attempt."""
    by_ip = parse(current_app.config["LOGIN_LIMIT"])
    by_name = parse(current_app.config["LOGIN_USER_LIMIT"])
    return [("ip", ip, by_ip.amount, by_ip.get_expiry()),
            ("username", username, by_name.amount, by_name.get_expiry())]


def _redis():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    holder = current_app.extensions.setdefault("kq_throttle", {})
    if holder.get("url") != url:
        from redis import Redis

        holder["url"] = url
        holder["client"] = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    return holder["client"]


def _redis_key(kind, key):
    return f"kq:signin:{kind}:{key}"


# Redis: a sorted set of failure times per key, trimmed to the window on each look.

def _redis_wait(client, rules, now):
    wait = 0
    pipe = client.pipeline()
    for kind, key, _amount, seconds in rules:
        pipe.zremrangebyscore(_redis_key(kind, key), 0, now - seconds)
        pipe.zrange(_redis_key(kind, key), 0, -1, withscores=True)
    answers = pipe.execute()
    for (_kind, _key, amount, seconds), times in zip(rules, answers[1::2]):
        if len(times) >= amount:
            oldest_that_counts = times[len(times) - amount][1]
            wait = max(wait, oldest_that_counts + seconds - now)
    return wait


def _redis_record(client, rules, now, ok, username):
    pipe = client.pipeline()
    if ok:
        pipe.delete(_redis_key("username", username))
    else:
        for kind, key, _amount, seconds in rules:
            pipe.zadd(_redis_key(kind, key), {f"{now:.6f}-{secrets.token_hex(4)}": now})
            pipe.expire(_redis_key(kind, key), int(seconds) + 1)
    pipe.execute()


# The database: one row per attempt; failures in the window are counted with the indexes.

def _db_wait(rules, now):
    wait = 0
    for kind, key, amount, seconds in rules:
        column = SignInAttempt.ip if kind == "ip" else SignInAttempt.username
        # The amount-th most recent failure in the window: once it leaves, one more is allowed.
        at = db.session.scalar(
            select(SignInAttempt.at).where(column == key, SignInAttempt.ok.is_(False),
                                           SignInAttempt.at > now - timedelta(seconds=seconds))
            .order_by(SignInAttempt.at.desc()).offset(amount - 1).limit(1))
        if at is not None:
            wait = max(wait, (at + timedelta(seconds=seconds) - now).total_seconds())
    return wait


def _db_record(username, ip, ok, now):
    if ok:  # her own right password clears what was tried against her name
        db.session.execute(delete(SignInAttempt).where(
            SignInAttempt.username == username, SignInAttempt.ok.is_(False)))
    db.session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - KEEP))
    db.session.add(SignInAttempt(username=username, ip=ip, at=now, ok=ok))


def _key(username, ip):
    return (username or "")[:40], (ip or "-")[:45]


def retry_after(username, ip):
    """Seconds until this username may be tried from this IP again; 0 when it may now."""
    username, ip = _key(username, ip)
    rules = _rules(username, ip)
    client = _redis()
    if client is not None:
        try:
            return max(0, int(_redis_wait(client, rules, time.time()) + 0.999))
        except Exception as error:  # noqa: BLE001 - any Redis failure: count in the database
            log.warning("sign-in throttle: Redis did not answer (%s); counting in the database",
                        error)
    try:
        return max(0, int(_db_wait(rules, _now()) + 0.999))
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("sign-in throttle: no store answered (%s); letting the attempt through",
                    error)
        return 0


def record(username, ip, ok):
    """Count this attempt. In the database the row joins the caller's transaction (the caller
    commits it with the audit event); in Redis it is written at once."""
    username, ip = _key(username, ip)
    client = _redis()
    if client is not None:
        try:
            _redis_record(client, _rules(username, ip), time.time(), ok, username)
            return
        except Exception as error:  # noqa: BLE001
            log.warning("sign-in throttle: Redis did not answer (%s); counting in the database",
                        error)
    _db_record(username, ip, ok, _now())


def commit_quietly():
    """Commit the attempt (and its audit event); a database that fails here lets sign-in go
    on without the count rather than answer 500."""
    try:
        db.session.commit()
        return True
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("sign-in throttle: could not record the attempt (%s)", error)
        return False
