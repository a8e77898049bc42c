"""Customer records: phone normalisation, greeting names, search keys, tags, saving."""
import itertools
import re

import phonenumbers
from sqlalchemy import delete, select

from kq.extensions import db
from kq.models import Customer, CustomerSearchKey, CustomerTag
from kq.services import ServiceError

COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容",
                     "长孙", "宇文", "司徒", "夏侯", "令狐", "澹台", "公冶", "申屠", "太史",
                     "端木", "轩辕", "钟离", "闻人", "万俟", "呼延", "南宫", "西门")
KEY_LENGTH = 64


class DuplicatePhone(ServiceError):
    def __init__(self, existing):
        super().__init__("duplicate_phone", field="phone")
        self.existing = existing


def normalize_phone(raw, region="CN"):
    """'138 1234 5678', '+86-138…', '0086 138…' → '+8613812345678'. Raises ServiceError."""
    text = (raw or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[\d\s()+\-.]{5,25}", text):
        raise ServiceError("phone_invalid", field="phone")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ServiceError("phone_invalid", field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ServiceError("phone_invalid", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def guess_surname(name):
    name = (name or "").strip()
    for compound in COMPOUND_SURNAMES:
        if name.startswith(compound) and len(name) > len(compound):
            return compound
    return name[:1]


def _endings(parts):
    """['liang', 'xiao', 'juan'] → 'liangxiaojuan', 'xiaojuan', 'juan'."""
    return {"".join(parts[i:]) for i in range(len(parts))}


def search_keys(customer):
    # Imported here: its phrase dictionary (~55 MB, 0.2 s) is paid only by a process that
    # writes customers, not by every web worker.
    from pypinyin import Style, lazy_pinyin, pinyin

    keys = set()
    name = re.sub(r"\s+", "", customer.name or "").lower()
    if name:
        keys |= {name[i:] for i in range(len(name))}
        # The surname may have several readings (曾 zeng/ceng, 单 shan/dan): keep them all.
        first = pinyin(name[0], style=Style.NORMAL, heteronym=True)[0][:3]
        rest = [p.lower() for p in lazy_pinyin(name[1:], style=Style.NORMAL)]
        for reading in itertools.islice(first, 3):
            syllables = [reading.lower()] + rest
            keys |= _endings(syllables)
            keys |= _endings([s[:1] for s in syllables if s])
    if customer.phone:
        digits = re.sub(r"\D", "", customer.phone)
        national = digits[2:] if digits.startswith("86") else digits
        keys.add(national)
        if digits.startswith("86") and not (len(national) == 11 and national[0] == "1"):
            keys.add("0" + national)  # a landline as it is written: 010 6552 9988
        keys |= {national[-n:] for n in range(4, min(len(national), 10) + 1)}
    if customer.wechat_id:
        keys.add(customer.wechat_id.lower())
    # The name she is greeted by (Today shows "金女士"), and surname + title when they differ:
    # searched as a whole, so "金女" finds her but "女士" alone does not find every woman.
    # (Bench data passes a bare namespace of name, phone and WeChat id: read the rest softly.)
    surname_title = (getattr(customer, "surname", None) or "") + (getattr(customer, "title", None)
                                                                   or "")
    for greeting in (getattr(customer, "greeting_name", None), surname_title):
        greeting = re.sub(r"\s+", "", greeting or "").lower()
        if greeting and getattr(customer, "deleted_at", None) is None:
            keys.add(greeting)
    return {k[:KEY_LENGTH] for k in keys if k}


def refresh_search_keys(customer):
    db.session.execute(delete(CustomerSearchKey).where(
        CustomerSearchKey.customer_id == customer.id))
    rows = [{"store_id": customer.store_id, "customer_id": customer.id, "key": key}
            for key in sorted(search_keys(customer))]
    if rows:
        db.session.execute(CustomerSearchKey.__table__.insert(), rows)


def normalize_query(q):
    """What a search box string becomes: digits alone, or lower-case letters/characters."""
    q = (q or "").strip().lower()
    if re.fullmatch(r"[\d\s+\-()]+", q):
        digits = re.sub(r"\D", "", q)
        return digits[2:] if digits.startswith("86") and len(digits) > 11 else digits
    return re.sub(r"[\s'’·.\-]+", "", q)[:KEY_LENGTH]


def full_phone(q):
    """The number a search box string names in full ('139 0000 1111' → '+8613900001111'), or
    None when it is not a whole valid number (a prefix, an ending, letters)."""
    text = (q or "").strip()
    if not re.fullmatch(r"[\d\s+\-()]{5,25}", text):
        return None
    try:
        return normalize_phone(text)
    except ServiceError:
        return None


def whole_number(q):
    """A search's whole phone number as stored, or None: as typed ('139 0000 1111',
    '+852 9123 4567') or as digits with the country code ('85291234567')."""
    digits = normalize_query(q)
    if not digits.isdigit():
        return None
    return full_phone(q) or full_phone(digits) or full_phone("+" + digits)


def matching_ids(store_id, q, own_staff_id=None):
    """A subquery of customer ids whose keys start with q: one index range scan.

    With own_staff_id (a beautician, SPEC §10), a query of digits alone is a phone search and
    reveals nothing: its prefixes and endings find only the customers assigned to her; another
    customer of the store is found by her whole number and nothing shorter. Names, pinyin and
    WeChat ids search the whole store as before."""
    q = normalize_query(q)
    if not q:
        return None
    upper = q[:-1] + chr(ord(q[-1]) + 1)
    keys = (select(CustomerSearchKey.customer_id)
            .where(CustomerSearchKey.store_id == store_id, CustomerSearchKey.key >= q,
                   CustomerSearchKey.key < upper))
    if own_staff_id is None or not q.isdigit():
        return keys
    own = keys.join(Customer, Customer.id == CustomerSearchKey.customer_id).where(
        Customer.assigned_staff_id == own_staff_id)
    whole = whole_number(q)
    if whole is None:
        return own
    return own.union(select(Customer.id).where(Customer.store_id == store_id,
                                               Customer.phone == whole))


def set_tags(customer, names):
    wanted = []
    for name in names:
        name = name.strip()[:30]
        if name and name not in wanted:
            wanted.append(name)
    db.session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer.id))
    for name in wanted[:20]:
        db.session.add(CustomerTag(store_id=customer.store_id, customer_id=customer.id, name=name))


def tags_of(customer_ids):
    if not customer_ids:
        return {}
    result = {}
    for customer_id, name in db.session.execute(
            select(CustomerTag.customer_id, CustomerTag.name)
            .where(CustomerTag.customer_id.in_(customer_ids)).order_by(CustomerTag.id)):
        result.setdefault(customer_id, []).append(name)
    return result


def find_by_phone(store_id, phone, exclude_id=None):
    """The store's card with this number. Never autoflushes: an edited card holding the
    duplicate number must not hit the unique constraint before we can offer the other card."""
    if not phone:
        return None
    query = select(Customer).where(Customer.store_id == store_id, Customer.phone == phone)
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    with db.session.no_autoflush:
        return db.session.scalar(query)


def save_customer(customer, *, tags=None, commit=True):
    """Insert or update one customer with her search keys and tags, in one transaction.
    Raises DuplicatePhone when another card of the store has the number."""
    if customer.phone:
        existing = find_by_phone(customer.store_id, customer.phone, customer.id)
        if existing is not None:
            raise DuplicatePhone(existing)
    if not customer.surname:
        customer.surname = guess_surname(customer.name)
    if not customer.greeting_name:
        customer.greeting_name = (customer.surname or "") + (customer.title or "")
    db.session.add(customer)
    db.session.flush()
    refresh_search_keys(customer)
    if tags is not None:
        set_tags(customer, tags)
    if commit:
        db.session.commit()
    return customer


def live_customer(store, customer_id):
    """A customer of this store who is not deleted, else LookupError (→ 404)."""
    customer = db.session.scalar(select(Customer).where(
        Customer.id == customer_id, Customer.store_id == store.id, Customer.deleted_at.is_(None)))
    if customer is None:
        raise LookupError("customer")
    return customer
