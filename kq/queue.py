"""Background jobs: an RQ queue when REDIS_URL is set, otherwise the same function in-process."""
import uuid

from flask import current_app


class JobQueue:
    """Holder the factory fills; jobs receive only primitives (ids), never ORM objects."""

    name = "kq"

    def init_app(self, app):
        url = app.config.get("REDIS_URL")
        state = {"mode": "redis" if url else "inline", "redis": None, "queue": None}
        if url:
            from redis import Redis
            from rq import Queue

            state["redis"] = Redis.from_url(url)
            state["queue"] = Queue(self.name, connection=state["redis"])
        app.extensions["kq_queue"] = state

    @property
    def _state(self):
        return current_app.extensions["kq_queue"]

    @property
    def mode(self):
        return self._state["mode"]

    @property
    def redis(self):
        return self._state["redis"]

    def enqueue(self, func, *args, job_timeout=600, job_id=None, **kwargs):
        """Queue func(*args); inline mode runs it now. Returns the job id."""
        job_id = job_id or uuid.uuid4().hex
        queue = self._state["queue"]
        if queue is not None:
            from redis.exceptions import ConnectionError as RedisDown
            from redis.exceptions import TimeoutError as RedisSlow

            try:
                queue.enqueue(func, *args, job_timeout=job_timeout, job_id=job_id, **kwargs)
                return job_id
            except (RedisDown, RedisSlow, OSError):
                # Redis is an accelerator, never a single point of failure: do it here.
                current_app.logger.warning("Redis unavailable; running %s in-process",
                                           getattr(func, "__name__", func))
        func(*args, **kwargs)
        return job_id

    def ping(self):
        if self.redis is None:
            return True
        try:
            return bool(self.redis.ping())
        except Exception:  # noqa: BLE001 - health check reports, never raises
            return False
