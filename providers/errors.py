"""One error hierarchy for every provider.

``str(error)`` is a plain-English sentence a marketing person can act on; it never contains a
credential or a URL. ``code`` is the provider's own error code (a string) when it gave one, and
``detail`` is the provider's raw message for logs and support.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class: the provider refused, failed or could not be reached."""

    default_message = "The provider returned an error."
    #: True when trying the same call again later may succeed without any change on our side.
    retryable = False

    def __init__(self, message: str = "", *, code: str | int | None = None, detail: str = ""):
        self.message = message or self.default_message
        self.code = None if code is None else str(code)
        self.detail = detail
        super().__init__(self.message)


class AuthError(ProviderError):
    """The credentials are wrong, expired, or not allowed to do this."""

    default_message = "The provider did not accept the account's credentials."


class RateLimited(ProviderError):
    """Too many requests; wait ``retry_after`` seconds (None when the provider did not say)."""

    default_message = "The provider asked us to slow down."
    retryable = True

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class InvalidRequest(ProviderError):
    """The provider rejected what we sent; ``field`` names the offending input when known."""

    default_message = "The provider rejected the request as invalid."

    def __init__(self, message: str = "", *, field: str = "", **kwargs):
        self.field = field
        super().__init__(message, **kwargs)


class DuplicateReference(InvalidRequest):
    """The provider already has a message with this reference: it was sent before."""

    default_message = "The provider already has this message; it was not sent again."


class InsufficientFunds(ProviderError):
    """The balance or credits do not cover the send."""

    default_message = "The provider account does not have enough balance or credits."


class TemporaryError(ProviderError):
    """A failure that should pass; nothing was changed at the provider."""

    default_message = "The provider is temporarily unavailable. Crier will try again."
    retryable = True


class PermanentError(ProviderError):
    """A refusal that will not change by retrying."""

    default_message = "The provider refused the request."


class NotFound(PermanentError):
    """The provider has no such campaign, message or resource."""

    default_message = "The provider could not find this campaign or message."


class NotSupported(PermanentError):
    """The provider has no such operation; its ``capabilities`` say so too."""

    default_message = "This provider does not offer that operation."


class UnknownOutcome(ProviderError):
    """The request may or may not have been acted on (sent, then no usable answer).

    Never resend blindly: reconcile first (``lookup_reference`` where the provider can).
    """

    default_message = (
        "The provider did not confirm whether it accepted the request. Crier will check "
        "before sending anything again."
    )
