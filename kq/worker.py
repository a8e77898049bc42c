"""The RQ worker Keqing runs: `rq worker --with-scheduler -w kq.worker.Worker kq`.

It is RQ's own worker, which also books the daily run when it starts, so a Redis that was
restarted without persistence (and forgot the booking) gets it back as soon as a worker starts."""
import os

from rq import Worker as RQWorker

from kq import PRIVATE_UMASK

# The PDFs and import files this worker writes hold phone numbers: the owner's only (0600),
# from the first file on, before any job builds the app.
os.umask(PRIVATE_UMASK)


class Worker(RQWorker):
    def bootstrap(self, *args, **kwargs):
        super().bootstrap(*args, **kwargs)
        from kq.jobs import book_daily_from_worker

        try:
            when = book_daily_from_worker(self.connection)
            self.log.info("Worker %s: daily run booked for %s", self.name, when)
        except Exception:  # noqa: BLE001 - the first request of the day books it too
            self.log.exception("Worker %s: could not book the daily run", self.name)
