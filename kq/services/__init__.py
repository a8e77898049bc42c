"""Multi-step workflows. Each public function is one user action: it commits once, or not at all."""


class ServiceError(ValueError):
    """A refusal to show the user; `field` names the form field it belongs to, if any."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field
