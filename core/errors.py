"""The package's exception root. Expected failures carry a sentence for the user; the rest are bugs."""


class AppealbotError(Exception):
    """Root of every exception this project raises on purpose."""


class ConfigError(AppealbotError):
    """A configuration key is missing or malformed; raised at start-up, names the key."""


class UserError(AppealbotError):
    """An expected failure whose message (Chinese) is shown to the user as it is."""


class RequestRejected(AppealbotError):
    """An inbound request the edge refuses: bad signature, malformed body, replay …

    `status` is the HTTP status; `reason` is a short Chinese sentence for the caller (and the log).
    """

    def __init__(self, status: int, reason: str, retry_after: int | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after  # seconds, sent as Retry-After (429, 503)
