"""The web import's life: the upload kept under the instance folder (owner-only), a preview
made by a job, the manager's mapping, her confirmation, the import made by a job. The job runs
in an RQ worker when REDIS_URL is set, in-process otherwise (same code either way).

Planning reads only, so the preview job holds no write lock; the import itself is one write
transaction. Its progress goes to the RQ job's meta (Redis), not to the database, because the
import's own transaction holds the database until it commits."""
import hashlib
import os
import uuid
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import update

from kq.db import read_intent, write_intent
from kq.extensions import db
from kq.models import ImportJob, Store, User, utcnow
from kq.models.imports import FAILED, IMPORTED, IMPORTING, PREVIEWED, PREVIEWING
from kq.services import ServiceError
from kq.services import importing

JOB_TIMEOUT = 1800  # seconds: 20,000 rows and 200,000 visits take well under a minute
LOST_AFTER = timedelta(seconds=JOB_TIMEOUT + 300)
ACCEPTED = (".xlsx", ".xlsm", ".csv", ".txt", ".xls")


def _folder(store_id):
    folder = Path(current_app.config["IMPORTS_DIR"]) / str(store_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def save_upload(store, user, storage, locale):
    """Keep the chosen file and open an import for it. Raises ServiceError."""
    name = os.path.basename((storage.filename or "").replace("\\", "/")) if storage else ""
    name = "".join(ch for ch in name if ch.isprintable())
    if not name:
        raise ServiceError("choose_file", code="choose_file")
    if not name.lower().endswith(ACCEPTED):
        raise ServiceError("file_type", code="file_type")
    if len(name) > 200:  # keep the end: its extension says what it is
        stem, dot, extension = name.rpartition(".")
        name = stem[:200 - len(extension) - 2] + "…." + extension
    data = storage.read(importing.MAX_BYTES + 1)
    if len(data) > importing.MAX_BYTES:
        raise ServiceError("too_large", code="too_large")
    if not data:
        raise ServiceError("empty", code="empty")
    path = _folder(store.id) / f"{uuid.uuid4().hex}.upload"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    job = ImportJob(store_id=store.id, requested_by_id=user.id, file_name=name,
                    file_path=str(path), file_size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), locale=locale, status=PREVIEWING,
                    started_at=utcnow())
    db.session.add(job)
    db.session.commit()
    return job


def _data(job):
    return Path(job.file_path).read_bytes()


def is_lost(job, now=None):
    """A job that should have ended long ago: its worker died."""
    return job.status in (PREVIEWING, IMPORTING) and (
        (now or utcnow()) - (job.started_at or job.created_at) > LOST_AFTER)


def enqueue(job, func_name):
    from kq import jobs
    from kq.extensions import queue

    job_id, import_id = uuid.uuid4().hex, job.id
    job.job_id = job_id
    db.session.commit()  # and touch no row after it: in-process the job writes on its own
    queue.enqueue(getattr(jobs, func_name), import_id, job_timeout=JOB_TIMEOUT, job_id=job_id)


def choose(job, chosen):
    """The manager's mapping: check again with it."""
    if job.status not in (PREVIEWED, FAILED):
        raise ServiceError("busy", code="busy")
    job.mapping, job.status, job.error, job.progress = chosen, PREVIEWING, None, 0
    job.started_at = utcnow()
    db.session.commit()


def retry(job):
    """A failed or lost import is read again from its file (a preview first, as always)."""
    if not (job.status == FAILED or is_lost(job)):
        raise ServiceError("busy", code="busy")
    job.status, job.error, job.progress, job.started_at = PREVIEWING, None, 0, utcnow()
    db.session.commit()


def confirm(job, sha):
    """previewed → importing, once: a second tap (or a second manager) finds it taken."""
    taken = db.session.execute(update(ImportJob).where(
        ImportJob.id == job.id, ImportJob.status == PREVIEWED, ImportJob.sha256 == sha)
        .values(status=IMPORTING, progress=0, started_at=utcnow())).rowcount
    db.session.commit()
    if not taken:
        raise ServiceError("busy", code="busy")
    db.session.refresh(job)


def _progress(value):
    try:
        from rq import get_current_job

        current = get_current_job()
        if current is not None:
            current.meta["progress"] = value
            current.save_meta()
    except Exception:  # noqa: BLE001 - progress is a courtesy; Redis trouble must not fail it
        pass  # nosec B110 # (the reason above)


def _fail(job_id, code):
    db.session.rollback()
    with write_intent():
        job = db.session.get(ImportJob, job_id)
        job.status, job.error, job.finished_at = FAILED, code, utcnow()
        db.session.commit()


def _refuse_choice(import_id, code):
    """A mapping that can't work (no phone column chosen): back to the last good preview,
    with the reason, so she can choose again."""
    with write_intent():
        job = db.session.get(ImportJob, import_id)
        if not job.preview:
            db.session.rollback()
            return False
        job.status, job.error = PREVIEWED, code
        db.session.commit()
        return True


def make_preview(import_id):
    db.session.commit()  # end whatever the caller had open: planning reads only
    try:
        with read_intent():
            job = db.session.get(ImportJob, import_id)
            if job is None or job.status != PREVIEWING:
                db.session.rollback()
                return None
            store = db.session.get(Store, job.store_id)
            result = importing.preview(store, _data(job), job.file_name, job.mapping)
            db.session.rollback()
    except importing.ImportRefused as refused:
        db.session.rollback()
        if not _refuse_choice(import_id, refused.code):
            _fail(import_id, refused.code)
        return None
    except OSError:
        _fail(import_id, "file_gone")
        return None
    with write_intent():
        job = db.session.get(ImportJob, import_id)
        job.preview, job.error = result, None
        job.mapping = {str(t["index"]): {"kind": t["kind"], "mapping": t["mapping"]}
                       for t in result["tables"]}
        job.status, job.progress = PREVIEWED, 100
        db.session.commit()
    return result


def make_import(import_id):
    db.session.commit()
    job = db.session.get(ImportJob, import_id)
    if job is None or job.status != IMPORTING:
        return None
    store = db.session.get(Store, job.store_id)
    user = db.session.get(User, job.requested_by_id)
    try:
        with write_intent():
            result = importing.run(store, _data(job), user, job.file_name, job.mapping,
                                   progress=lambda stage, done: _progress(
                                       {"customers": 30, "visits": 60, "classify": 90}[stage]))
            job = db.session.get(ImportJob, import_id)
            job.result = {k: result[k] for k in ("new", "merged", "unchanged", "skipped",
                                                 "error_rows", "visits", "written")}
            job.status, job.progress, job.finished_at = IMPORTED, 100, utcnow()
            db.session.commit()
    except importing.ImportRefused as refused:
        _fail(import_id, refused.code)
        return None
    except OSError:
        _fail(import_id, "file_gone")
        return None
    except Exception:
        _fail(import_id, "crashed")
        raise
    try:
        os.unlink(job.file_path)
    except OSError:
        pass
    with write_intent():
        job = db.session.get(ImportJob, import_id)
        job.file_path = None
        db.session.commit()
    return result


KEEP_UPLOADS = timedelta(days=7)


def cleanup(now=None):
    """Uploaded files of imports done, failed or left unconfirmed for a week are deleted
    (the import's row, counts and checksum stay). Returns how many files went."""
    from sqlalchemy import select

    cut = (now or utcnow()) - KEEP_UPLOADS
    jobs = db.session.scalars(select(ImportJob).where(
        ImportJob.file_path.is_not(None), ImportJob.created_at < cut,
        ImportJob.status.in_((PREVIEWED, FAILED, IMPORTED)))).all()
    for job in jobs:
        try:
            os.unlink(job.file_path)
        except OSError:
            pass
        job.file_path = None
        if job.status == PREVIEWED:
            job.status, job.error = FAILED, "file_gone"
    db.session.commit()
    return len(jobs)
