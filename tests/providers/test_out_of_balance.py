"""Every provider's way of saying "out of balance" is InsufficientFunds, the error the engine
pauses on, or fails over on when the campaign has a backup (found by review: a Mobizon refusal
in the language of its regional site, and HTTP 402 from a provider without an error table,
were other errors, and never tripped the failover). smsdrop's own way, a campaign created but
not launched, is the engine's to read (tests/campaigns/test_failover_held.py)."""

from __future__ import annotations

import httpx
import pytest

from providers.base import BatchState, CampaignSpec, VoicePayload
from providers.errors import InsufficientFunds
from tests.providers.conftest import message

MOBIZON = "https://api.mobizon.kz/service/Campaign/Create"
CONPEEK = "https://acme.conpeek.com/voice_sms_campaign/5b7c389fe8df7b60af688989/request_list"


@pytest.mark.parametrize(
    "words",
    [
        "Insufficient funds on the balance.",
        "Недостаточно средств на балансе.",  # mobizon.kz, .uz
        "Saldo insuficiente para o envio.",  # mobizon.com.br
    ],
)
def test_mobizon_code_15_about_the_balance_in_any_of_its_languages(api, mobizon, words):
    api.post(MOBIZON).mock(
        return_value=httpx.Response(200, json={"code": 15, "data": None, "message": words})
    )
    with pytest.raises(InsufficientFunds):
        mobizon.submit(CampaignSpec(sender="A", text="x"), [message("+7701")], BatchState())


def test_conpeek_402_is_out_of_balance(api, conpeek):
    api.post(CONPEEK).respond(402, json={"message": "Payment required"})
    spec = CampaignSpec(sender="", channel="voice", voice=VoicePayload(text="Hi"))
    with pytest.raises(InsufficientFunds):
        conpeek.submit(spec, [message("+48123123123", "r1")], BatchState())
