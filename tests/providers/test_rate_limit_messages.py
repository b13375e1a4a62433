"""A rate-limit error names the provider that asked Crier to slow down, whichever it was."""

from __future__ import annotations

import httpx
import pytest

from providers import registry
from providers.errors import RateLimited

PROVIDERS = list(registry.PROVIDERS)


def rate_limited(slug: str, answer: httpx.Response) -> RateLimited:
    """The error the ``slug`` adapter raises when the provider gives ``answer``."""
    client = httpx.Client(transport=httpx.MockTransport(lambda request: answer))
    adapter = registry.get(slug)(base_url="https://provider.test", client=client)
    with pytest.raises(RateLimited) as raised:
        adapter.request("GET", "/anything", authenticate=False)
    return raised.value


@pytest.mark.parametrize("slug", PROVIDERS)
def test_http_429_names_the_provider(slug):
    error = rate_limited(slug, httpx.Response(429, headers={"Retry-After": "7"}))

    assert registry.get(slug).label in str(error)
    assert "The provider" not in str(error)
    assert error.retry_after == 7


@pytest.mark.parametrize("slug", ["smsdrop", "conpeek"])
def test_providers_without_their_own_sentence_get_the_labelled_default(slug):
    error = rate_limited(slug, httpx.Response(429))

    label = registry.get(slug).label
    assert str(error) == f"{label} asked Crier to slow down; Crier will wait and try again."


def test_mobizon_code_30_names_mobizon():
    answer = httpx.Response(200, json={"code": 30, "data": "", "message": "Too many requests."})

    assert "Mobizon" in str(rate_limited("mobizon", answer))
