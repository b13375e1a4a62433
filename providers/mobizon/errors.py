"""Mobizon's API and per-recipient error codes in Crier's error classes and words
(README.md §3)."""

from providers.errors import AuthError, InvalidRequest, NotFound, PermanentError, TemporaryError

OK_CODES = {0, 98, 99, 100}  # 98/99: AddRecipients partly/not done, details per recipient
API_ERRORS = {
    1: (InvalidRequest, "Mobizon rejected some of the campaign's values."),
    2: (NotFound, "Mobizon could not find that campaign or message for this API key."),
    3: (TemporaryError, "Mobizon had an unexpected error. Crier will try again."),
    4: (PermanentError, "Mobizon does not know this API module (a bug in Crier)."),
    5: (PermanentError, "Mobizon does not know this API method (a bug in Crier)."),
    6: (PermanentError, "Mobizon does not offer the requested answer format (a bug in Crier)."),
    8: (AuthError, "Mobizon did not accept the API key. Copy it again from your Mobizon account."),
    9: (AuthError, "This Mobizon API key is not allowed to use this function."),
    10: (
        PermanentError,
        "Mobizon could not save the change: the campaign is busy with another operation "
        "or its status no longer allows it.",
    ),
    11: (InvalidRequest, "Mobizon says a required value is missing."),
    12: (
        InvalidRequest,
        "Mobizon refused the request because it exceeds one of its limits "
        "(for example more than 500 recipients or 100 message ids at once).",
    ),
    14: (AuthError, "The Mobizon account is blocked or deleted. Contact Mobizon support."),
    15: (PermanentError, "Mobizon could not complete the operation."),
    999: (TemporaryError, "Mobizon's service had an error. Crier will try again."),
}
# Code 15 ("operation error") says what failed only in its message, in the language of the
# account's regional site (English, Russian for .kz and .uz, Portuguese for .com.br)
# [INFERRED]: these stems mean the balance did not cover the send.
LOW_BALANCE_WORDS = ("balance", "insufficient", "funds", "баланс", "средств", "saldo")
RECIPIENT_ERRORS = {
    1: "The phone number is empty.",
    2: "Mobizon found no phone number for this recipient.",
    3: "The number is not in international format.",
    4: "The number is already in this campaign.",
    5: "The number is on the stop list.",
    6: "Sending to this country is blocked in the Mobizon account settings.",
    7: "Mobizon does not know the operator or country of this number.",
    8: "Mobizon does not deliver to this mobile operator.",
    20: "The message template needs values this recipient does not have.",
    30: "The contact card was not found.",
    31: "The contact card has no mobile number.",
    32: "The contact was not found.",
    51: "Mobizon could not create a short link for this message.",
    99: "Mobizon had a system error while adding this number.",
}
