"""A printed report: asked for by someone, built by a job, kept for a while (SPEC §9)."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kq.extensions import db
from kq.models.base import TimestampMixin, UTCDateTime

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class Report(TimestampMixin, db.Model):
    __tablename__ = "reports"
    __table_args__ = (
        # While a report is queued or running, active_key holds kind + parameters; the unique
        # constraint makes asking twice at once find the first instead of building it twice.
        UniqueConstraint("store_id", "active_key"),
        Index("ix_reports_store_time", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    params_key: Mapped[str] = mapped_column(String(120))
    active_key: Mapped[str | None] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(8), default=QUEUED)
    progress: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[str | None] = mapped_column(String(40))
    file_name: Mapped[str | None] = mapped_column(String(120))
    file_size: Mapped[int | None]
    pages: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by = relationship("User")


class DormantSnapshot(db.Model):
    """How many customers each staff member had, and how many were dormant, at the end of a
    finished month, for one window. Past months do not change, so the monthly trend reads
    these instead of recounting months of visits on every page view and every print."""

    __tablename__ = "dormant_snapshots"
    __table_args__ = (UniqueConstraint("store_id", "month", "window_days", "staff_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    month: Mapped[str] = mapped_column(String(7))
    window_days: Mapped[int]
    staff_key: Mapped[int]  # the staff member's id, or 0 for customers nobody looked after
    customers: Mapped[int]
    dormant: Mapped[int]
