"""Phone masking (SPEC §10): full numbers only for the assigned staff, managers and owners."""
import phonenumbers


def national(phone):
    """+8613812345678 → 13812345678 for display and tel: links."""
    if not phone:
        return ""
    if phone.startswith("+861") and len(phone) == 14 and phone[1:].isdigit():
        return phone[3:]  # a mainland mobile, as stored: no need to parse it again
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    if parsed.country_code == 86:
        digits = str(parsed.national_number)
        # A landline keeps its trunk 0 (010 6552 9988 is dialled 01065529988).
        return digits if is_mainland_mobile(digits) else "0" + digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def is_mainland_mobile(digits):
    return len(digits) == 11 and digits.startswith("1")


def can_text(phone):
    """A text message goes to a mobile: mainland 1xx xxxx xxxx, or a foreign number."""
    if not phone:
        return False
    if phone.startswith("+86"):
        return is_mainland_mobile(phone[3:])
    return True


def masked_phone(phone):
    digits = national(phone)
    if len(digits) < 7:
        return "****"
    return digits[:3] + "****" + digits[-4:]


def can_see_phone(user, customer):
    return user.is_manager or customer.assigned_staff_id == user.id
