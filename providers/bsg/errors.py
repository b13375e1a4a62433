"""BSG's error codes in Crier's error classes and words (README.md §2.2)."""

from providers.errors import DuplicateReference, InvalidRequest, NotFound, PermanentError

# BSG's legacy error codes (body {"error": n}): code -> (error class, field, sentence).
LEGACY_ERRORS = {
    20: (NotFound, "", "BSG could not find that message."),
    21: (InvalidRequest, "phone", "BSG says a phone number is incorrect."),
    22: (InvalidRequest, "reference", "BSG needs a reference for every message and got none."),
    23: (DuplicateReference, "reference", "BSG already has a message with this reference."),
    24: (InvalidRequest, "", "BSG could not read the request."),
    25: (InvalidRequest, "sender", "BSG does not accept this sender name."),
    26: (InvalidRequest, "text", "The message text is empty or too long for BSG."),
    27: (InvalidRequest, "reference", "BSG says a message reference is malformed."),
    28: (InvalidRequest, "validity", "BSG does not accept this validity period (1 to 72 hours)."),
    29: (InvalidRequest, "task_id", "BSG says the campaign id is malformed."),
    30: (NotFound, "", "BSG could not find that campaign."),
    31: (InvalidRequest, "phone", "This phone number is already in the BSG campaign."),
    32: (InvalidRequest, "sender", "This sender name is not allowed on the BSG account."),
    33: (InvalidRequest, "phone", "BSG cannot deliver to this country or mobile operator."),
    34: (InvalidRequest, "", "BSG could not generate or check the one-time code."),
    35: (PermanentError, "", "Two-way messaging is not activated on the BSG account."),
    36: (InvalidRequest, "sender", "This sender cannot be used for two-way messaging on BSG."),
}
