"""The password policy (ASVS 2.1): at least 10 characters, at most 200, not one of the 10,000
most common passwords (kq/data/common-passwords.txt), not the username nor containing it.

It applies to every password a person chooses in the app (her own change, the CLI). Temporary
passwords the app makes (kq.services.staff.temporary_password) pass it by construction. The
demo accounts' "demo1234" is set by the demo loader directly, outside the policy: it is a
published contract for trying the app, never a real account."""
from functools import lru_cache
from pathlib import Path

from flask_babel import lazy_gettext as _l

MIN_LENGTH = 10
MAX_LENGTH = 200
COMMON_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords():
    with COMMON_FILE.open(encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle
                         if line.strip() and not line.startswith("#"))


def password_problem(password, username=None):
    """The first rule `password` breaks, as a message in the user's language; None if none."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return _l("At least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("At most %(n)d characters.", n=MAX_LENGTH)
    folded = password.strip().lower()
    if folded in common_passwords():
        return _l("This is one of the most common passwords, which are tried first. Choose "
                  "another.")
    name = (username or "").strip().lower()
    if name and name in folded:
        return _l("Your password cannot be or contain your username.")
    return None
