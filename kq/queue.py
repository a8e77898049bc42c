"""Background jobs: an RQ queue when REDIS_URL is set, otherwise the same function in-process.

Redis is an accelerator, never a single point of failure: when it does not answer, a job is run
in-process instead, and whatever reads the queue (report pages, the health check) says the queue
is down rather than failing.

Without Redis (the embedded default) a job asked for with background=True runs in a thread the
request starts, in an application context of its own, so that the page that asked answers at
once and shows the job's progress, as with a worker."""
import threading
import uuid

from flask import current_app

# A Redis that stops answering must not hold a page for long.
CONNECT_TIMEOUT = 2  # seconds
SOCKET_TIMEOUT = 5


def redis_errors():
    """What Redis (or the network to it) raises when it is down, slow or refusing."""
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class JobQueue:
    """Holder the factory fills; jobs receive only primitives (ids), never ORM objects."""

    name = "kq"

    def init_app(self, app):
        url = app.config.get("REDIS_URL")
        state = {"mode": "redis" if url else "inline", "redis": None, "queue": None,
                 "threads": []}
        if url:
            from redis import Redis
            from rq import Queue

            state["redis"] = Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                            socket_timeout=SOCKET_TIMEOUT)
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

    def enqueue(self, func, *args, job_timeout=600, job_id=None, background=False, **kwargs):
        """Queue func(*args) (a function, or its dotted name); inline mode, or a Redis that
        does not answer, runs it in-process, in an application context of its own (its own
        database session: the caller commits before it enqueues) — now, or with background
        in inline mode, in a thread of its own that outlives the request. Returns the job
        id."""
        job_id = job_id or uuid.uuid4().hex
        queue = self._state["queue"]
        if queue is not None:
            try:
                queue.enqueue(func, *args, job_timeout=job_timeout, job_id=job_id, **kwargs)
                return job_id
            except redis_errors():
                current_app.logger.warning("Redis unavailable; running %s in-process",
                                           getattr(func, "__name__", func), exc_info=True)
        if isinstance(func, str):
            from importlib import import_module

            module, _, name = func.rpartition(".")
            func = getattr(import_module(module), name)
        app = current_app._get_current_object()
        if background and self.mode == "inline":
            thread = threading.Thread(target=_run_in_thread, args=(app, func, args, kwargs),
                                      name=f"kq-job-{job_id}", daemon=True)
            threads = self._state["threads"]
            threads[:] = [t for t in threads if t.is_alive()] + [thread]
            thread.start()
            return job_id
        with app.app_context():
            func(*args, **kwargs)
        return job_id

    def wait(self, timeout=30):
        """Wait for the jobs this app started in threads (tests; a clean shutdown). True when
        none is left running."""
        for thread in list(self._state["threads"]):
            thread.join(timeout)
        return not any(t.is_alive() for t in self._state["threads"])

    def ping(self):
        if self.redis is None:
            return True
        try:
            return bool(self.redis.ping())
        except Exception:  # noqa: BLE001 - health check reports, never raises
            return False

    def workers(self):
        """Workers registered on the queue whose record has not expired (RQ's worker registry);
        None when there is no Redis or it does not answer."""
        if self.redis is None:
            return None
        from rq import Worker

        try:
            return len(Worker.all(queue=self._state["queue"]))
        except redis_errors():
            return None


def _run_in_thread(app, func, args, kwargs):
    """A job in a thread: its own application context, so its own database session; what it
    raises is logged, as a worker would (a job records its own failures where someone will
    look)."""
    with app.app_context():
        try:
            func(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a thread has nobody to raise to
            app.logger.exception("job %s failed", getattr(func, "__name__", func))
