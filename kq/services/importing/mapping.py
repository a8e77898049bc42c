"""Which column holds what: the header row is found among the first rows (a merged title row
above it is common), its cells matched against the names old systems and hand-kept sheets use,
in Chinese or English. The manager may change the mapping; the store remembers it by header
text for the next file."""
import re
import unicodedata

from flask_babel import lazy_gettext as _l

HEADER_SEARCH_ROWS = 30

# field → (label, names seen in real exports). Longer names are tried first.
CUSTOMER_FIELDS = {
    "name": (_l("Name"), ("客户姓名", "顾客姓名", "会员姓名", "客户名称", "姓名", "名字", "客户", "顾客",
                          "name", "customer name", "customer", "full name")),
    "phone": (_l("Phone"), ("手机号码", "手机号", "手机", "电话号码", "联系电话", "联系方式", "电话",
                            "mobile", "mobile phone", "phone", "phone number", "telephone", "tel",
                            "cell")),
    "birthday": (_l("Birthday"), ("出生日期", "出生年月", "生日", "birthday", "date of birth", "dob",
                                  "birth date")),
    "gender": (_l("Gender"), ("性别", "gender", "sex")),
    "level": (_l("Tier or level"), ("会员等级", "客户等级", "客户级别", "等级", "级别", "tier",
                                    "level", "grade", "membership level")),
    "staff": (_l("Beautician"), ("所属美容师", "专属美容师", "服务美容师", "负责美容师", "美容师",
                                 "负责人", "顾问", "beautician", "staff", "assigned to",
                                 "assigned staff")),
    "total_spent": (_l("Total spent"), ("累计消费金额", "累计消费", "消费总额", "总消费", "消费金额",
                                        "total spent", "total spend", "spend", "lifetime spend")),
    "last_visit": (_l("Last visit"), ("最后到店日期", "最近到店日期", "最后到店时间", "最近到店时间",
                                      "上次到店日期", "上次到店", "上次来店", "最近来店", "最后来店",
                                      "最后到店", "最近到店", "最后消费日期", "最近消费日期",
                                      "最近消费", "last visit", "last visit date", "last visited")),
    "visit_count": (_l("Number of visits"), ("到店次数", "消费次数", "来店次数", "visits",
                                             "visit count", "number of visits")),
    "card_name": (_l("Prepaid card"), ("卡项名称", "卡项", "卡名", "会员卡", "卡种", "card",
                                       "card name", "prepaid card")),
    "card_balance": (_l("Card balance"), ("卡项余额", "储值余额", "卡内余额", "卡余额", "剩余金额",
                                          "余额", "balance", "card balance")),
    "card_sessions": (_l("Card sessions left"), ("卡剩余次数", "剩余次数", "剩余疗程",
                                                 "sessions left", "sessions remaining")),
    "card_expiry": (_l("Card expiry"), ("到期日期", "到期日", "到期时间", "有效期至", "有效期",
                                        "截止日期", "expiry", "expires", "expiry date")),
    "notes": (_l("Notes"), ("备注", "说明", "notes", "note", "remarks", "comment", "comments")),
    "wechat": (_l("WeChat ID"), ("微信号", "微信", "wechat", "wechat id")),
    "address": (_l("Address"), ("地址", "住址", "家庭住址", "address")),
    "email": (_l("Email"), ("电子邮件", "邮箱", "email", "e-mail")),
    "skin_type": (_l("Skin type"), ("皮肤类型", "肤质", "skin type")),
    "age": (_l("Age"), ("年龄", "age")),
    "source": (_l("Source"), ("客户来源", "来源", "source")),
    "tags": (_l("Tags"), ("客户标签", "标签", "tags", "labels")),
    "points": (_l("Points"), ("积分余额", "剩余积分", "可用积分", "积分", "points",
                              "points balance")),
}
VISIT_FIELDS = {
    "name": CUSTOMER_FIELDS["name"],
    "phone": CUSTOMER_FIELDS["phone"],
    "visit_date": (_l("Visit date"), ("到店日期", "消费日期", "服务日期", "到店时间", "消费时间",
                                      "日期", "时间", "date", "visit date", "visited")),
    "services": (_l("Services"), ("服务项目", "消费项目", "护理项目", "项目", "内容", "service",
                                  "services", "treatment")),
    "amount": (_l("Amount"), ("实付金额", "实收金额", "消费金额", "金额", "实收", "amount", "paid")),
    "staff": CUSTOMER_FIELDS["staff"],
}
ALL_FIELDS = {**CUSTOMER_FIELDS, **VISIT_FIELDS}


def normal(text):
    """'  累计消费（元）' → '累计消费'; 'Phone Number:' → 'phone number'."""
    text = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    text = re.sub(r"[(\[（【].*?[)\]）】]", "", text)
    text = re.sub(r"[\s*:：#._\-/]+", " ", text).strip()
    return text


def _candidates(fields):
    pairs = [(normal(name), field) for field, (_label, names) in fields.items() for name in names]
    return sorted(pairs, key=lambda p: -len(p[0]))


_CANDIDATES = {"customers": _candidates(CUSTOMER_FIELDS), "visits": _candidates(VISIT_FIELDS)}


def _match(cell, candidates):
    for name, field in candidates:
        if cell == name:
            return field
    for name, field in candidates:
        if len(name) >= 2 and name in cell and not name.isascii():
            return field
    return None


def match_header(text, kind):
    """The field a header cell names, or None: an exact name first, then a contained one.
    In a table of visits, a column that names some other customer field (出生日期) is not
    taken for the visit date."""
    cell = normal(text)
    if not cell:
        return None
    field = _match(cell, _CANDIDATES[kind])
    if field == "visit_date" and _match(cell, _CANDIDATES["customers"]) is not None:
        return None
    if field in DATES and ("天数" in cell or "days" in cell):
        return None  # 距上次到店天数: a count of days, not a date
    return field


DATES = ("last_visit", "visit_date", "birthday", "card_expiry")


def _is_visit_table(values):
    return any(match_header(v, "visits") == "visit_date" and match_header(v, "customers") is None
               for v in values if v is not None)


def propose(values, kind):
    """{field: column index} for one header row; each field and column used once."""
    mapping = {}
    for index, value in enumerate(values):
        if value is None:
            continue
        field = match_header(value, kind)
        if field and field not in mapping:
            mapping[field] = index
    return mapping


def find_header(rows):
    """(position in rows, kind, mapping) of the best header among the first rows, or None.
    kind is 'visits' for a table of visits (a visit date column), else 'customers'."""
    best = None
    for position, (_number, values) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        texts = [v if isinstance(v, str) else None for v in values]
        if sum(1 for t in texts if t) < 2:
            continue
        kind = "visits" if _is_visit_table(texts) else "customers"
        mapping = propose(texts, kind)
        if len(mapping) >= 2 and (best is None or len(mapping) > len(best[2])):
            best = (position, kind, mapping)
    return best


def remembered(headers, saved, kind):
    """Apply a store's remembered {field: header text} to this file's headers, where they
    match; fields not found keep the proposal."""
    if not saved:
        return {}
    by_text = {normal(h): i for i, h in enumerate(headers) if h}
    result = {}
    for field, text in (saved.get(kind) or {}).items():
        index = by_text.get(normal(text))
        if index is not None and field in (VISIT_FIELDS if kind == "visits" else CUSTOMER_FIELDS):
            result[field] = index
    return result


def column_letter(index):
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
