"""Moving a store in from a spreadsheet (SPEC §11): customers, and optionally visits, prepaid
cards and points, from .xlsx or CSV.

`preview(store, data)` reads and plans without writing anything; `run(store, data, by)` plans
again (the cards may have changed since the preview) and writes it all in one transaction, so
an import lands whole or not at all. Running the same file again finds every row unchanged.
The web page, the RQ job and `flask kq import` all come through here."""
import hashlib

from kq.extensions import db
from kq.services.audit import audit
from kq.services.importing import plan as planning
from kq.services.importing.apply import apply
from kq.services.importing.messages import describe
from kq.services.importing.reading import UnreadableFile, read_tables

MAX_BYTES = 20 * 1024 * 1024


class ImportRefused(ValueError):
    """The file can't be imported at all; `code`/`params` say why (translated by describe)."""

    def __init__(self, code, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def _tables(data, file_name):
    if len(data) > MAX_BYTES:
        raise ImportRefused("too_large", limit_mb=MAX_BYTES // (1024 * 1024))
    try:
        return read_tables(data, file_name)
    except UnreadableFile as refused:
        raise ImportRefused(refused.code, **refused.params) from None


def _plan(store, data, file_name, chosen):
    tables = _tables(data, file_name)
    plan = planning.build(store, tables, chosen)
    if not plan.tables:
        raise ImportRefused("no_header")
    if not any("phone" in t.mapping for t in plan.tables):
        raise ImportRefused("no_phone_column")
    return plan


def summary(store, plan):
    names = dict(db.session.execute(db.select(planning.User.id, planning.User.display_name)
                                    .where(planning.User.store_id == store.id)).all())
    counts = plan.counts()
    return {
        "new": counts["new"], "merged": counts["merged"], "unchanged": counts["unchanged"],
        "skipped": counts["skipped"], "error_rows": counts["error_rows"],
        "duplicates": counts["duplicates"],
        "visits": {"new": counts["visits_new"], "unchanged": counts["visits_unchanged"]},
        "errors": plan.errors, "warnings": plan.warnings,
        "tables": [{"index": t.index, "sheet": t.sheet, "kind": t.kind,
                    "header_row": t.header_row, "headers": t.headers, "mapping": t.mapping}
                   for t in plan.tables],
        "sample": planning.sample(plan, store, names),
    }


def preview(store, data, file_name="", chosen=None):
    """What importing would do; writes nothing. Raises ImportRefused."""
    plan = _plan(store, data, file_name, chosen)
    return summary(store, plan)


def run(store, data, by, file_name="", chosen=None, progress=lambda stage, done: None):
    """Import for real, in one transaction; remembers the mapping; audited. Returns the
    summary of what was planned plus what was written."""
    plan = _plan(store, data, file_name, chosen)
    result = summary(store, plan)
    result["written"] = apply(store, plan, by, progress)
    remembered = dict(store.import_mapping or {})
    for table in plan.tables:
        remembered[table.kind] = {field: table.headers[index]
                                  for field, index in table.mapping.items()
                                  if index < len(table.headers) and table.headers[index]}
    store.import_mapping = remembered
    audit("import", store_id=store.id, user=by, detail={
        "file": file_name[:200], "sha256": hashlib.sha256(data).hexdigest(),
        "new": result["new"], "merged": result["merged"], "unchanged": result["unchanged"],
        "skipped": result["skipped"], "errors": result["error_rows"],
        "visits": result["visits"]["new"]})
    return result


def as_json(result, locale=None):
    """The contract's shape: counts, and errors/warnings as {row, column, message}."""
    def items(problems):
        return [{"row": p["row"], "column": p["column"], "letter": p["letter"],
                 "sheet": p["sheet"], "code": p["code"],
                 "message": describe(p["code"], p["params"])} for p in problems]

    return {"new": result["new"], "merged": result["merged"],
            "unchanged": result["unchanged"], "skipped": result["skipped"],
            "duplicates": result.get("duplicates", 0),
            "visits": result["visits"], "errors": items(result["errors"]),
            "warnings": items(result["warnings"]),
            **({"written": result["written"]} if "written" in result else {})}


__all__ = ["ImportRefused", "MAX_BYTES", "as_json", "describe", "preview", "run"]
