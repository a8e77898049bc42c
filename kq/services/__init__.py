"""Multi-step workflows. Each public function is one user action: it commits once, or not at all."""


class ServiceError(ValueError):
    """A refusal to show the user; `field` names the form field it belongs to, if any, and
    `code` is a stable name for it (tests and the JSON API use it)."""

    def __init__(self, message, field=None, code=None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or (message if isinstance(message, str) else None)
