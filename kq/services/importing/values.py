"""Cell values as old systems and hand-kept sheets write them, made into what a card stores.
Each parser returns a value or raises Problem(code, **params); the code is translated where
it is shown."""
import functools
import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta

import phonenumbers


class Problem(ValueError):
    def __init__(self, code, **params):
        super().__init__(code)
        self.code = code
        self.params = params


EXCEL_EPOCH = date(1899, 12, 30)
MAX_AMOUNT_FEN = 100_000_000 * 100


def text(value, limit):
    """Plain text: formulas and HTML are kept as the characters they are (escaped on output);
    control characters go, over-long text is cut."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date().isoformat()
    value = "".join(ch for ch in str(value) if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    value = value.strip()
    return value[:limit] or None


def _digits_of_number(value):
    if isinstance(value, bool):
        raise Problem("phone_invalid", value=str(value))
    if isinstance(value, float):
        if not value.is_integer():
            raise Problem("phone_scientific", value=str(value))
        value = int(value)
    return str(value)


@functools.lru_cache(maxsize=65536)
def phone(value):
    """(E.164, is_landline, several) — cached: a visits sheet repeats each number many times. Mobiles and landlines of mainland China by default; other
    countries need their +code. Several numbers in one cell: the first, with a warning."""
    if value is None:
        return None, False, False
    raw = _digits_of_number(value) if isinstance(value, (int, float)) else str(value)
    raw = unicodedata.normalize("NFKC", raw).strip()
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", raw):
        raise Problem("phone_scientific", value=raw)
    parts = [p for p in re.split(r"[/,;，；、|]|\s{2,}", raw) if p.strip()]
    several = len(parts) > 1
    candidate = parts[0] if parts else raw
    cleaned = re.sub(r"[\s\-().]", "", candidate)
    if not re.fullmatch(r"\+?\d{5,20}", cleaned):
        raise Problem("phone_invalid", value=raw[:40])
    if cleaned.startswith("0086"):
        cleaned = "+86" + cleaned[4:]
    try:
        number = phonenumbers.parse(cleaned, "CN")
    except phonenumbers.NumberParseException:
        raise Problem("phone_invalid", value=raw[:40]) from None
    if not phonenumbers.is_valid_number(number):
        raise Problem("phone_invalid", value=raw[:40])
    kind = phonenumbers.number_type(number)
    landline = kind == phonenumbers.PhoneNumberType.FIXED_LINE
    return (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), landline,
            several)


def shown(e164):
    """How a stored number is written back to the manager: 13812345678, 010 6552 9988."""
    if e164.startswith("+861") and len(e164) == 14:
        return e164[3:]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 86
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)


_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_MD = re.compile(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _from_serial(value):
    if 1 <= value < 2958466:
        return EXCEL_EPOCH + timedelta(days=int(value))
    raise Problem("date_invalid", value=str(value))


@functools.lru_cache(maxsize=8192)
def when(value):
    """A date or an aware-free datetime from a cell: 2026-10-02, 2026/10/2, 2026.10.02,
    2026年10月2日, 20261002, an Excel date cell or serial number. Returns (date, time|None)."""
    if value is None:
        return None, None
    if isinstance(value, datetime):
        moment = value.time()
        return value.date(), (moment if moment != time(0, 0) else None)
    if isinstance(value, date):
        return value, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise Problem("date_invalid", value=str(value))
        if 20000 <= value <= 80000:
            return _from_serial(value), None
        value = str(int(value)) if float(value).is_integer() else str(value)
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    match = _YMD.match(raw) or (_COMPACT.fullmatch(raw) if len(raw) == 8 else None)
    if not match:
        raise Problem("date_invalid", value=raw[:40])
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise Problem("date_invalid", value=raw[:40]) from None
    if day.year < 1900:
        raise Problem("date_invalid", value=raw[:40])
    rest = raw[match.end():].strip()
    moment = None
    hm = re.match(r"(\d{1,2}):(\d{2})", rest)
    if hm and int(hm.group(1)) < 24 and int(hm.group(2)) < 60:
        moment = time(int(hm.group(1)), int(hm.group(2)))
    return day, moment


def birthday(value):
    """(month, day, year|None). Birthdays without a year (7月12日, 07-12) are common."""
    if value is None:
        return None
    try:
        day, _moment = when(value)
        # "7/12" typed into Excel becomes 12 July of the year it was typed: not a birth year.
        recent = day.year >= date.today().year - 3
        return day.month, day.day, None if recent else day.year
    except Problem:
        pass
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    match = _MD.fullmatch(raw)
    if not match:
        raise Problem("birthday_invalid", value=raw[:40])
    month, day = int(match.group(1)), int(match.group(2))
    try:
        date(2000, month, day)  # a leap year: 2月29日 is a birthday
    except ValueError:
        raise Problem("birthday_invalid", value=raw[:40]) from None
    return month, day, None


def amount_fen(value):
    """'¥12,800.00', '12,800', '12800元', 'RMB 128.5', 12800 → fen. Negative is refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Problem("amount_invalid", value=str(value))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise Problem("amount_invalid", value=str(value))
        if abs(value) > MAX_AMOUNT_FEN:
            raise Problem("amount_too_large", value=str(value)[:40])
        number = float(value)
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip()
        cleaned = re.sub(r"(?i)^(rmb|cny)|[¥￥$\s,]|元$|(?i:yuan)$", "", raw)
        if not re.fullmatch(r"-?\d{1,15}(\.\d{1,2})?", cleaned):
            raise Problem("amount_invalid" if not re.fullmatch(r"-?\d+(\.\d+)?", cleaned)
                          else "amount_too_large", value=raw[:40])
        number = float(cleaned)
    if number < 0:
        raise Problem("amount_negative", value=str(value)[:40])
    fen = round(number * 100)
    if fen > MAX_AMOUNT_FEN:
        raise Problem("amount_too_large", value=str(value)[:40])
    return fen


def count(value, limit=100000):
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer() or abs(value) > limit:
            raise Problem("count_invalid", value=str(value)[:40])
        value = int(value)
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    raw = re.sub(r"\s*(次|sessions?|visits?)$", "", raw, flags=re.I)
    if not raw.isdigit() or int(raw) > limit:
        raise Problem("count_invalid", value=raw[:40])
    return int(raw)


def gender(value):
    raw = (text(value, 10) or "").lower()
    if not raw:
        return None
    if raw in ("女", "f", "female", "女士", "w", "woman") or raw.startswith("女"):
        return "F"
    if raw in ("男", "m", "male", "先生", "man") or raw.startswith("男"):
        return "M"
    raise Problem("gender_invalid", value=raw)


def tier(value):
    """A/B/C as the relationship tier; anything else (金卡会员) is kept as a tag."""
    raw = text(value, 30)
    if raw is None:
        return None, None
    letter = unicodedata.normalize("NFKC", raw).upper().replace("类", "").replace("级", "")
    if letter in ("A", "B", "C"):
        return letter, None
    return None, raw


SUMMARY_WORDS = ("合计", "总计", "小计", "汇总", "total", "subtotal", "sum")


def is_summary_row(values):
    for value in values:
        if value is None:
            continue
        word = unicodedata.normalize("NFKC", str(value)).strip().lower().replace(" ", "")
        word = word.rstrip(":：")
        return word in SUMMARY_WORDS
    return False
