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
        return str(parsed.national_number)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def masked_phone(phone):
    digits = national(phone)
    if len(digits) < 7:
        return "****"
    return digits[:3] + "****" + digits[-4:]


def can_see_phone(user, customer):
    return user.is_manager or customer.assigned_staff_id == user.id
