"""Every emulator answers a path it does not serve with a JSON 404 in its API's style, as the
real API does, never Django's HTML page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/sandbox/bsg/api/campaigns/1/nothing", {"message": "Not found.", "errors": []}),
        ("/sandbox/bsg/rest/sms/", {"error": "404", "errorDescription": "Not found"}),
        ("/sandbox/mobizon/nothing", {"code": 404, "data": "", "message": "Not found."}),
        ("/sandbox/mobizon/service/Campaign", {"code": 404, "data": "", "message": "Not found."}),
        ("/sandbox/smsdrop/api/nothing/", {"detail": "Not Found"}),
        ("/sandbox/conpeek/voice_sms_campaign/1", {"message": "Not found.", "errors": {}}),
        ("/sandbox/nobody/api/anything", {"message": "No such sandbox provider."}),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_path_is_a_json_404(client, url, body, method):
    response = getattr(client, method)(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == body
