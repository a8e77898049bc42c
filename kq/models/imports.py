"""An import of customers (and their visits and prepaid cards) from a spreadsheet (SPEC §11).

The uploaded file is kept under the instance folder while the manager looks at the preview;
the preview (counts, problems by row, the first rows as they will be stored) and the result
are kept on the row, so the page can show them again and the job can pick up where it is."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime

# uploaded → previewing → previewed → importing → done; failed from any of them.
UPLOADED, PREVIEWING, PREVIEWED, IMPORTING, IMPORTED, FAILED = (
    "uploaded", "previewing", "previewed", "importing", "done", "failed")


class ImportJob(TimestampMixin, db.Model):
    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_store_time", "store_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    file_name: Mapped[str] = mapped_column(String(200))
    file_path: Mapped[str | None] = mapped_column(String(300))
    file_size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans")
    status: Mapped[str] = mapped_column(String(10), default=UPLOADED)
    progress: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[str | None] = mapped_column(String(40))
    mapping: Mapped[dict | None] = mapped_column(JSON)  # {field: column index}
    headers: Mapped[list | None] = mapped_column(JSON)  # the header row's texts
    preview: Mapped[dict | None] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # of the current step
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by = relationship("User")
