"""Only local paths may be redirected to after sign-in or a switch."""
from urllib.parse import urlsplit


def safe_next(target):
    if not target:
        return None
    target = target.strip().replace("\\", "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
