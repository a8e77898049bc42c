"""What each import problem says, in the reader's language (codes are stored, words are not)."""
from flask_babel import lazy_gettext as _l

MESSAGES = {
    # The whole file
    "too_large": _l("The file is larger than %(limit_mb)d MB."),
    "empty": _l("The file is empty."),
    "not_a_table": _l("This is not a spreadsheet Keqing can read. Save it as .xlsx or CSV."),
    "xls": _l("This is an old Excel file (.xls). Open it in Excel or WPS and save it as .xlsx."),
    "encoding": _l("The text of this CSV file is in an unknown encoding. Save it as UTF-8 CSV."),
    "too_many_rows": _l("The file has more than %(limit)d rows; split it into smaller files."),
    "no_header": _l("No header row was found. The first rows should name the columns, "
                    "such as 姓名 and 手机."),
    "no_phone_column": _l("No phone column was found. Name it 手机 or 电话, or choose it in the "
                          "mapping."),
    # Rows and cells
    "phone_missing": _l("No phone number: the row was not imported."),
    "phone_invalid": _l("“%(value)s” is not a phone number: the row was not imported."),
    "phone_scientific": _l("The phone number is shown as %(value)s (scientific notation): "
                           "format the column as text and export again."),
    "phone_several": _l("Several numbers in one cell: %(phone)s was kept."),
    "phone_landline": _l("%(phone)s is a landline: she can be called but not sent a text."),
    "name_missing": _l("No name: the row was not imported."),
    "duplicate_in_file": _l("The same phone as row %(first_row)d: merged into one customer."),
    "date_invalid": _l("“%(value)s” is not a date (write 2026-10-02): left blank."),
    "date_invalid_row": _l("“%(value)s” is not a date (write 2026-10-02): the visit was not "
                           "imported."),
    "date_future_row": _l("%(value)s is in the future: the visit was not imported."),
    "amount_invalid_row": _l("“%(value)s” is not an amount: the visit was not imported."),
    "amount_negative_row": _l("%(value)s is negative: the visit was not imported."),
    "amount_too_large_row": _l("%(value)s is too large: the visit was not imported."),
    "date_missing": _l("No date: the visit was not imported."),
    "date_future": _l("%(value)s is in the future: left blank."),
    "birthday_invalid": _l("“%(value)s” is not a birthday (write 1985-07-12 or 7月12日): "
                           "left blank."),
    "amount_invalid": _l("“%(value)s” is not an amount: left blank."),
    "amount_negative": _l("%(value)s is negative: left blank."),
    "amount_too_large": _l("%(value)s is too large: left blank."),
    "count_invalid": _l("“%(value)s” is not a whole number: left blank."),
    "gender_invalid": _l("“%(value)s” is not a gender (女/男): left blank."),
    "staff_unknown": _l("No member of staff is called “%(name)s”: the customer stays "
                        "unassigned."),
    "staff_kept": _l("She is already assigned to someone else; the assignment was not changed."),
    "history_without_date": _l("Spending or visits without a last-visit date: not recorded."),
    "visit_unknown_customer": _l("No customer with the phone %(phone)s: the visit was not "
                                 "imported."),
    "customer_deleted": _l("This customer was deleted: the row was not imported."),
}


DEFAULTS = {"limit_mb": 20, "limit": 300_000}


def describe(code, params=None):
    message = MESSAGES.get(code)
    if message is None:
        return code
    try:
        return str(message) % {**DEFAULTS, **(params or {})}
    except (KeyError, TypeError, ValueError):
        return str(message)
