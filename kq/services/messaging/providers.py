"""Where a bulk message goes (SPEC §5): one interface, two providers.

- outbox (default): nothing leaves the server; each message waits in a staff member's outbox
  (/calls/outbox) and she sends it from her own phone, which opens the SMS app prefilled.
- yunpian (云片): the documented HTTP API `POST /v2/sms/single_send.json` (apikey, mobile, text;
  JSON `code` 0 = sent). Configured by environment: KQ_SMS_PROVIDER=yunpian,
  KQ_YUNPIAN_APIKEY, and KQ_YUNPIAN_URL (defaults to the public endpoint; tests point it at a
  local fake server). The text must carry the store's registered signature 【…】 as Yunpian
  requires; we send the rendered text as it is.

A provider's send(message) returns a Result: ok (sent, with the provider's reference),
retry (try again later: rate limited, the network, a 5xx) or failed (do not retry)."""
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

YUNPIAN_URL = "https://sms.yunpian.com/v2/sms/single_send.json"
# Yunpian codes that mean "later": frequency limits and the platform being busy.
YUNPIAN_RETRY_CODES = {8, 9, 22, 33, 53, -50, -51}
TIMEOUT = 10  # seconds


@dataclass
class Result:
    status: str  # "ok" | "retry" | "failed"
    ref: str | None = None
    error: str | None = None

    @property
    def ok(self):
        return self.status == "ok"


class OutboxProvider:
    """Nothing is sent by the server: the message stays queued for its staff member."""

    name = "outbox"
    sends = False

    def send(self, message, phone):  # pragma: no cover - never called for the outbox
        raise RuntimeError("the outbox is worked through by staff, not sent by the server")


class YunpianProvider:
    name = "yunpian"
    sends = True

    def __init__(self, apikey, url=None, timeout=TIMEOUT):
        self.apikey = apikey
        self.url = url or YUNPIAN_URL
        self.timeout = timeout

    def send(self, message, phone):
        data = urllib.parse.urlencode({"apikey": self.apikey, "mobile": phone,
                                       "text": message.body, "uid": str(message.id)}).encode()
        request = urllib.request.Request(self.url, data=data, method="POST", headers={
            "Accept": "application/json;charset=utf-8",
            "Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
        try:
            # self.url is the provider's https address from settings, never user input:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310
                body = response.read()
        except urllib.error.HTTPError as e:
            body = e.read()
            if e.code == 429 or e.code >= 500:
                return Result("retry", error=f"HTTP {e.code}")
            return _parse(body, fallback=f"HTTP {e.code}")
        except (urllib.error.URLError, OSError) as e:
            return Result("retry", error=str(getattr(e, "reason", e))[:200])
        return _parse(body)


def _parse(body, fallback=None):
    try:
        answer = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return Result("retry", error=fallback or "unreadable answer")
    code = answer.get("code")
    if code == 0:
        return Result("ok", ref=str(answer.get("sid") or ""))
    error = f"{code}: {answer.get('msg') or ''} {answer.get('detail') or ''}".strip()[:200]
    if code in YUNPIAN_RETRY_CODES:
        return Result("retry", error=error)
    return Result("failed", error=error)


def configured_name():
    name = (os.environ.get("KQ_SMS_PROVIDER") or "").strip().lower()
    return name if name in ("yunpian",) else "outbox"


def get_provider(name=None):
    name = name or configured_name()
    if name == "yunpian":
        apikey = (os.environ.get("KQ_YUNPIAN_APIKEY") or "").strip()
        if not apikey:
            raise RuntimeError("KQ_SMS_PROVIDER=yunpian needs KQ_YUNPIAN_APIKEY")
        return YunpianProvider(apikey, (os.environ.get("KQ_YUNPIAN_URL") or "").strip() or None)
    return OutboxProvider()
