"""From tables to a plan: each data row parsed, merged by phone within the file and against
the store's cards, and sorted into new / merged / unchanged / skipped / error, with every
problem named by its spreadsheet row and column. Planning only reads the database."""
import re
from dataclasses import dataclass, field
from datetime import datetime, time

from sqlalchemy import select

from kq.extensions import db
from kq.models import Customer, CustomerTag, PrepaidCard, User, Visit
from kq.services.importing import values as v
from kq.services.importing.messages import MESSAGES
from kq.services.importing.mapping import (CUSTOMER_FIELDS, VISIT_FIELDS, column_letter,
                                           find_header, remembered)

SAMPLE_ROWS = 10
MAX_PROBLEMS = 2000
OPENING_TIME = time(12, 0)
EARLIEST_VISIT_YEAR = 1990  # a visit dated before it is a typing slip (or Excel's 1900)  # a day without a time: midday, the store's own clock

# Card fields copied from the sheet when filled (a blank never overwrites).
PROFILE = {"name": 40, "wechat_id": 40, "address": 200, "email": 120, "skin_type": 20,
           "notes": 2000, "source": 20}
SHEET_TO_CARD = {"wechat": "wechat_id", "name": "name", "address": "address", "email": "email",
                 "skin_type": "skin_type", "notes": "notes", "source": "source"}


@dataclass
class TablePlan:
    index: int
    sheet: str
    kind: str  # customers | visits
    header_row: int
    headers: list
    mapping: dict  # field → column index


@dataclass
class Record:
    """One customer as the file describes her (several rows of one phone merged)."""

    phone: str
    rows: list = field(default_factory=list)
    fields: dict = field(default_factory=dict)  # card columns → value
    landline: bool = False
    staff_id: int | None = None
    tags: list = field(default_factory=list)
    last_visit: datetime | None = None
    total_spent_fen: int | None = None
    visit_count: int | None = None
    card: dict | None = None
    points: int | None = None


@dataclass
class Plan:
    tables: list = field(default_factory=list)
    records: dict = field(default_factory=dict)  # phone → Record
    visits: list = field(default_factory=list)  # dicts: phone, row, visited_at, amount, services
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    skipped: int = 0
    error_rows: set = field(default_factory=set)
    # Filled by compare():
    customer_status: dict = field(default_factory=dict)  # phone → new|merged|unchanged
    duplicates: int = 0  # rows merged into an earlier row of the same phone
    listed: dict = field(default_factory=dict)  # phone → [(day, fen)] of the file's visits
    existing: dict = field(default_factory=dict)  # phone → customer row
    changes: dict = field(default_factory=dict)  # phone → {card field: value}
    actions: dict = field(default_factory=dict)  # phone → set of what the import will do
    new_visits: list = field(default_factory=list)
    unchanged_visits: int = 0

    def problem(self, kind, table, row, column, code, **params):
        target = self.errors if kind == "error" else self.warnings
        if kind == "error":
            self.error_rows.add((table.index, row))
        if len(target) >= MAX_PROBLEMS:
            return
        header = table.headers[column] if column is not None and column < len(
            table.headers) else None
        target.append({"sheet": table.sheet, "row": row,
                       "column": str(header) if header is not None else None,
                       "letter": column_letter(column) if column is not None else None,
                       "code": code, "params": params})

    def counts(self):
        statuses = list(self.customer_status.values())
        return {"new": statuses.count("new"), "merged": statuses.count("merged"),
                "unchanged": statuses.count("unchanged"), "skipped": self.skipped,
                "duplicates": self.duplicates,
                "error_rows": len(self.error_rows),
                "visits_new": len(self.new_visits), "visits_unchanged": self.unchanged_visits}


def layout(tables, store, chosen=None):
    """The header row and mapping of every table: the manager's choice for a table when she
    made one, else the store's remembered mapping over the proposal."""
    plans = []
    for index, table in enumerate(tables):
        found = find_header(table.rows)
        if found is None:
            continue
        position, kind, proposal = found
        header_row, header_values = table.rows[position]
        headers = [None if h is None else str(h) for h in header_values]
        mapping = dict(proposal)
        mapping.update(remembered(headers, store.import_mapping, kind))
        if chosen and str(index) in chosen:
            choice = chosen[str(index)]
            kind = choice.get("kind", kind) if choice.get("kind") in ("customers",
                                                                       "visits") else kind
            fields = CUSTOMER_FIELDS if kind == "customers" else VISIT_FIELDS
            mapping = {f: int(c) for f, c in (choice.get("mapping") or {}).items()
                       if f in fields and str(c).isdigit() and int(c) < len(headers)}
        plans.append(TablePlan(index=index, sheet=table.name, kind=kind, header_row=header_row,
                               headers=headers, mapping=mapping))
    return plans


def _joined(notes, more):
    """Notes are added to, never replaced: what staff wrote on her card stays."""
    return f"{notes}\n{more}"[:PROFILE["notes"]]


def _cell(values, mapping, name):
    index = mapping.get(name)
    if index is None or index >= len(values):
        return None
    return values[index]


def _local_moment(store, day, moment):
    return datetime.combine(day, moment or OPENING_TIME, tzinfo=store.tz)


def _staff_index(store):
    staff = db.session.execute(select(User.id, User.display_name, User.username).where(
        User.store_id == store.id, User.active.is_(True))).all()
    index = {}
    for user_id, display, username in staff:
        index.setdefault(v.text(display, 40), user_id)
        index.setdefault((username or "").lower(), user_id)
    return index


class _Reader:
    """Parses one table's rows into the plan."""

    def __init__(self, plan, store, table, staff, today):
        self.plan, self.store, self.table, self.staff, self.today = plan, store, table, staff, today

    def get(self, values, name, parser, *args, level="warning"):
        raw = _cell(values, self.table.mapping, name)
        if raw is None:
            return None
        try:
            return parser(raw, *args)
        except v.Problem as problem:
            code = problem.code
            if level == "error" and f"{code}_row" in MESSAGES:
                code = f"{code}_row"
            self.plan.problem(level, self.table, self.row, self.table.mapping[name],
                              code, **problem.params)
            return None

    def phone(self, values):
        column = self.table.mapping.get("phone")
        raw = _cell(values, self.table.mapping, "phone")
        if raw is None:
            self.plan.problem("error", self.table, self.row, column, "phone_missing")
            return None
        try:
            number, landline, several = v.phone(raw)
        except v.Problem as problem:
            self.plan.problem("error", self.table, self.row, column, problem.code,
                              **problem.params)
            return None
        if several:
            self.plan.problem("warning", self.table, self.row, column, "phone_several",
                              phone=v.shown(number))
        if landline:
            self.plan.problem("warning", self.table, self.row, column, "phone_landline",
                              phone=v.shown(number))
        return number, landline

    def date(self, values, name, *, level="warning", past=True):
        parsed = self.get(values, name, v.when, level=level)
        if parsed is None or parsed[0] is None:
            return None
        day, moment = parsed
        if day.year < EARLIEST_VISIT_YEAR:
            self.plan.problem(level, self.table, self.row, self.table.mapping[name],
                              "date_invalid_row" if level == "error" else "date_invalid",
                              value=day.isoformat())
            return None
        if past and day > self.today:
            self.plan.problem(level, self.table, self.row, self.table.mapping[name],
                              "date_future_row" if level == "error" else "date_future",
                              value=day.isoformat())
            return None
        return _local_moment(self.store, day, moment)

    def customer_row(self, number, values):
        self.row = number
        found = self.phone(values)
        name = v.text(_cell(values, self.table.mapping, "name"), 40)
        if found is None:
            return
        phone, landline = found
        record = self.plan.records.get(phone)
        if record is None and not name:
            self.plan.problem("error", self.table, number, self.table.mapping.get("name"),
                              "name_missing")
            return
        if record is None:
            record = self.plan.records[phone] = Record(phone=phone, landline=landline)
        else:
            first = record.rows[0]
            self.plan.problem("warning", self.table, number, self.table.mapping.get("phone"),
                              "duplicate_in_file", first_row=first[1], phone=v.shown(phone))
        record.rows.append((self.table.index, number))
        fields = record.fields
        for sheet_field, card_field in SHEET_TO_CARD.items():
            value = v.text(_cell(values, self.table.mapping, sheet_field), PROFILE[card_field])
            if value is None:
                continue
            if card_field == "notes" and fields.get("notes") and value not in fields["notes"]:
                value = _joined(fields["notes"], value)  # notes of every row of her, kept
            fields[card_field] = value
        gender = self.get(values, "gender", v.gender)
        if gender:
            fields["gender"] = gender
        age = self.get(values, "age", v.count, 120)
        if age:
            fields["approx_age"] = age
        born = self.get(values, "birthday", v.birthday)
        if born:
            fields["birth_month"], fields["birth_day"] = born[0], born[1]
            if born[2] and born[2] > 1900 and born[2] <= self.today.year:
                fields["birth_year"] = born[2]
        for tag in re.split(r"[\s,，、;；/]+", v.text(_cell(values, self.table.mapping, "tags"),
                                                    400) or ""):
            if tag and tag[:30] not in record.tags:
                record.tags.append(tag[:30])
        level = self.get(values, "level", v.tier)
        if level:
            letter, tag = level
            if letter:
                fields["tier"] = letter
            if tag and tag not in record.tags:
                record.tags.append(tag)
        staff_name = v.text(_cell(values, self.table.mapping, "staff"), 40)
        if staff_name:
            staff_id = self.staff.get(staff_name) or self.staff.get(staff_name.lower())
            if staff_id is None:
                self.plan.problem("warning", self.table, number, self.table.mapping["staff"],
                                  "staff_unknown", name=staff_name)
            else:
                record.staff_id = staff_id
        self._history(values, record)

    def _history(self, values, record):
        last = self.date(values, "last_visit")
        if last is not None:
            record.last_visit = last
        spent = self.get(values, "total_spent", v.amount_fen)
        if spent is not None:
            record.total_spent_fen = spent
        visits = self.get(values, "visit_count", v.count)
        if visits is not None:
            record.visit_count = visits
        if (spent or visits) and record.last_visit is None:
            column = self.table.mapping.get("total_spent", self.table.mapping.get("visit_count"))
            self.plan.problem("warning", self.table, self.row, column, "history_without_date")
        points = self.get(values, "points", v.count, 10_000_000)
        if points is not None:
            record.points = points
        self._card(values, record)

    def _card(self, values, record):
        name = v.text(_cell(values, self.table.mapping, "card_name"), 60)
        balance = self.get(values, "card_balance", v.amount_fen)
        if name and balance is None and "card_balance" not in self.table.mapping:
            try:  # one column "卡项/余额" holding only an amount
                balance, name = v.amount_fen(name), None
            except v.Problem:
                pass
        sessions = self.get(values, "card_sessions", v.count, 999)
        expires = self.get(values, "card_expiry", v.when)
        if not (balance or sessions):
            return
        record.card = {"name": name or "", "balance_fen": balance or 0,
                       "sessions": sessions or 0,
                       "expires_on": expires[0].isoformat() if expires else None}

    def visit_row(self, number, values):
        self.row = number
        found = self.phone(values)
        moment = self.date(values, "visit_date", level="error")
        if "visit_date" in self.table.mapping and _cell(
                values, self.table.mapping, "visit_date") is None:
            self.plan.problem("error", self.table, number, self.table.mapping["visit_date"],
                              "date_missing")
        amount = self.get(values, "amount", v.amount_fen, level="error")
        if found is None or moment is None or (amount is None and _cell(
                values, self.table.mapping, "amount") is not None):
            return
        staff_name = v.text(_cell(values, self.table.mapping, "staff"), 40)
        staff_id = None
        if staff_name:
            staff_id = self.staff.get(staff_name) or self.staff.get(staff_name.lower())
            if staff_id is None:
                self.plan.problem("warning", self.table, number, self.table.mapping["staff"],
                                  "staff_unknown", name=staff_name)
        self.plan.visits.append({
            "phone": found[0], "row": (self.table.index, number), "visited_at": moment,
            "amount_fen": amount or 0, "staff_id": staff_id,
            "services": v.text(_cell(values, self.table.mapping, "services"), 200) or ""})


def read(plan, store, tables, today):
    staff = _staff_index(store)
    for table_plan in plan.tables:
        table = tables[table_plan.index]
        if "phone" not in table_plan.mapping:
            continue
        reader = _Reader(plan, store, table_plan, staff, today)
        for number, values in table.rows:
            if number <= table_plan.header_row:
                continue
            if v.is_summary_row(values):
                plan.skipped += 1
                continue
            if table_plan.kind == "visits":
                reader.visit_row(number, values)
            else:
                reader.customer_row(number, values)


def _existing(store, phones):
    if not phones:
        return {}
    rows = {}
    columns = [Customer.id, Customer.phone, Customer.assigned_staff_id, Customer.deleted_at,
               Customer.birth_month, Customer.birth_day, Customer.birth_year, Customer.gender,
               Customer.tier, Customer.approx_age, Customer.points_balance,
               *[getattr(Customer, f) for f in PROFILE]]
    phone_list = sorted(phones)
    for start in range(0, len(phone_list), 900):
        chunk = phone_list[start:start + 900]
        for row in db.session.execute(select(*columns).where(
                Customer.store_id == store.id, Customer.phone.in_(chunk))):
            rows[row.phone] = row
    return rows


def _by_customer(query, ids):
    result = {}
    id_list = sorted(ids)
    for start in range(0, len(id_list), 900):
        for row in db.session.execute(query(id_list[start:start + 900])):
            result.setdefault(row[0], []).append(row)
    return result


def compare(plan, store):
    """Decide, against the store's cards, what importing each record would change."""
    plan.existing = _existing(store, set(plan.records) | {x["phone"] for x in plan.visits})
    for x in plan.visits:
        plan.listed.setdefault(x["phone"], []).append(
            (store.local_date(x["visited_at"]), x["amount_fen"]))
    ids = {row.id for row in plan.existing.values()}
    openings = _by_customer(lambda chunk: select(
        Visit.customer_id, Visit.id, Visit.visited_at, Visit.amount_fen, Visit.visits_counted)
        .where(Visit.customer_id.in_(chunk), Visit.imported.is_(True),
               Visit.services == OPENING_SERVICES), ids)
    tags = _by_customer(lambda chunk: select(CustomerTag.customer_id, CustomerTag.name)
                        .where(CustomerTag.customer_id.in_(chunk)), ids)
    cards = _by_customer(lambda chunk: select(PrepaidCard.customer_id, PrepaidCard.name)
                         .where(PrepaidCard.customer_id.in_(chunk)), ids)
    for phone, record in plan.records.items():
        current = plan.existing.get(phone)
        actions = set()
        if current is None:
            status = "new"
        else:
            if current.deleted_at is not None:
                for table_index, row in record.rows:
                    plan.problem("error", plan.tables_by_index[table_index], row,
                                 None, "customer_deleted")
                continue
            changes = {k: val for k, val in record.fields.items()
                       if getattr(current, k) != val}
            if "notes" in changes and current.notes:
                if changes["notes"] in current.notes:
                    del changes["notes"]  # her card already says it (an earlier import)
                else:
                    changes["notes"] = _joined(current.notes, changes["notes"])
            if changes:
                plan.changes[phone] = changes
                actions.add("fields")
            if record.staff_id and current.assigned_staff_id is None:
                actions.add("assign")
            elif record.staff_id and current.assigned_staff_id != record.staff_id:
                table_index, row = record.rows[0]
                table = plan.tables_by_index[table_index]
                plan.problem("warning", table, row, table.mapping.get("staff"),
                             "staff_kept")
            have = {t[1] for t in tags.get(current.id, [])}
            if any(t not in have for t in record.tags):
                actions.add("tags")
            if _opening_differs(store, record, openings.get(current.id),
                                plan.listed.get(phone, ())):
                actions.add("opening")
            if record.card and not any(c[1] == _card_name(record.card)
                                       for c in cards.get(current.id, [])):
                actions.add("card")
            status = "merged" if actions else "unchanged"
        plan.actions[phone] = actions
        plan.customer_status[phone] = status
        plan.duplicates += len(record.rows) - 1
    _compare_visits(plan, ids)


OPENING_SERVICES = "opening record"


def _card_name(card):
    return card["name"] or "卡项"


def opening(store, record, listed):
    """(when, fen, visits) of the opening record her summary columns call for, or None: what
    the sheet's totals hold beyond the visits the file also lists one by one (up to her last
    visit), so that nothing is counted twice."""
    if record.last_visit is None:
        return None
    last_day = store.local_date(record.last_visit)
    covered = [(day, fen) for day, fen in listed if day <= last_day]
    listed_last = max((day for day, _fen in covered), default=None)
    visits = record.visit_count
    if visits is None:
        visits = len(covered) + (0 if listed_last == last_day else 1)
    left = max(visits - len(covered), 0)
    fen = max((record.total_spent_fen or 0) - sum(f for _d, f in covered), 0)
    if listed_last != last_day:
        left = max(left, 1)  # her last visit itself is not among the listed ones
    if left == 0 and fen == 0:
        return None
    return record.last_visit, fen, left


def _opening_differs(store, record, openings, listed):
    wanted = opening(store, record, listed)
    if wanted is None:
        return False
    if not openings:
        return True
    _cid, _vid, at, amount, counted = openings[0]
    return (store.local_date(at), amount, counted) != (
        store.local_date(wanted[0]), wanted[1], wanted[2])


def _compare_visits(plan, ids):
    seen = set()
    if plan.visits and ids:
        have = _by_customer(lambda chunk: select(
            Visit.customer_id, Visit.visited_at, Visit.amount_fen, Visit.services)
            .where(Visit.customer_id.in_(chunk)), ids)
        for customer_id, rows in have.items():
            for row in rows:
                seen.add((customer_id, row[1], row[2], row[3]))
    for visit in plan.visits:
        current = plan.existing.get(visit["phone"])
        if current is None and visit["phone"] not in plan.records:
            table_index, row = visit["row"]
            table = plan.tables_by_index[table_index]
            plan.problem("error", table, row, table.mapping.get("phone"),
                         "visit_unknown_customer", phone=v.shown(visit["phone"]))
            continue
        if current is not None and current.deleted_at is not None:
            continue
        key = (current.id if current else None, visit["visited_at"], visit["amount_fen"],
               visit["services"])
        if current is not None and key in seen:
            plan.unchanged_visits += 1
            continue
        seen.add(key)
        plan.new_visits.append(visit)


def build(store, tables, chosen=None, today=None):
    plan = Plan()
    plan.tables = layout(tables, store, chosen)
    plan.tables_by_index = {t.index: t for t in plan.tables}
    read(plan, store, tables, today or store.today())
    compare(plan, store)
    return plan


def sample(plan, store, names):
    """The first records as they will be stored, for the preview."""
    rows = []
    for record in list(plan.records.values())[:SAMPLE_ROWS]:
        fields = record.fields
        birthday = None
        if fields.get("birth_month"):
            birthday = f"{fields['birth_month']:02d}-{fields['birth_day']:02d}"
            if fields.get("birth_year"):
                birthday = f"{fields['birth_year']}-{birthday}"
        rows.append({
            "row": record.rows[0][1], "name": fields.get("name"), "phone": record.phone,
            "landline": record.landline, "gender": fields.get("gender"),
            "birthday": birthday, "tier": fields.get("tier"), "tags": record.tags,
            "staff": names.get(record.staff_id),
            "last_visit": store.local_date(record.last_visit).isoformat()
            if record.last_visit else None,
            "total_spent_fen": record.total_spent_fen, "visit_count": record.visit_count,
            "card": record.card, "status": plan.customer_status.get(record.phone),
        })
    return rows


__all__ = ["build", "opening", "sample", "OPENING_SERVICES"]
