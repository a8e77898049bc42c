"""Page versions: a counter per store and staff member that every write changing her Today
list moves on (kq.pagecache). A worker may reuse a page it rendered while the counters it read
are unchanged; the counters live in the database, so every worker sees a write at once.

staff_id 0 is the whole store (a setting, the store's texts, the day's run); store_id 0 with
staff_id 0 is every store (a change too wide to follow row by row, such as a bulk update)."""
from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from kq.extensions import db

WHOLE_STORE = 0
EVERY_STORE = 0


class PageVersion(db.Model):
    __tablename__ = "page_versions"

    store_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    staff_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
