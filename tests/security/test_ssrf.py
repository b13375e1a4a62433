"""An account's API base URL cannot reach inward (#15).

What was reported: a workspace admin set an account's base URL to http://127.0.0.1:8219/,
pressed Test connection, and the server posted the API key there and showed the answer; a
trailing ``?x=`` chose the path; the error told open ports from closed ones; ``ftp://`` passed;
Conpeek's tenant URL was not checked. Each of those is tried here, on the form (when saved) and
on the wire (a row saved before, or a DNS answer that changed since).
"""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest
from django.urls import reverse

from campaigns.sending import engine as sending
from providers.bsg.adapter import BSGAdapter
from providers.errors import TemporaryError
from providers.forms import ProviderAccountForm
from providers.models import ProviderAccount
from providers.sandbox.accounts import provision
from tests.sendkit import campaign_for, unsent
from workspaces.models import Role

LOOPBACK_FORMS = [
    "127.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0x7f.1",
    "localhost",
]
INWARD = [
    "http://127.0.0.1:8219/",
    "https://127.0.0.1:5432/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://169.254.169.254/latest/",
    "https://10.0.0.7/",
    "https://192.168.1.1/",
    "https://100.100.100.200/",
    "https://[fd00:ec2::254]/",
    "https://localhost/",
    "https://2130706433/",
    "https://0177.0.0.1/",
]


class Listener:
    """A TCP server on loopback that records what reaches it; ``answer`` replies like an API,
    otherwise it accepts and stays silent (an open port that does not speak HTTP)."""

    def __init__(self, answer: bool = True):
        received = self.received = []

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(2)
                try:
                    received.append(self.request.recv(65536))
                except OSError:
                    return
                if answer:
                    body = b'{"secret": "inside"}'
                    self.request.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def account_at(workspace, url: str, provider: str = "bsg") -> ProviderAccount:
    """A row as it could have been saved before the check existed."""
    account = ProviderAccount(workspace=workspace, provider=provider, name=url, api_base_url=url)
    account.credentials = {"api_key": "live_secret_key_123456"}
    account.save()
    return account


def press_test_connection(client, account):
    return client.post(reverse("account_test", args=[account.pk]), headers={"HX-Request": "true"})


def form(acme, user, **data):
    fields = {
        "provider": "bsg",
        "name": "Probe",
        "currency": "EUR",
        "allowed_countries": "",
        "cred_api_key": "live_secret_key_123456",
    }
    return ProviderAccountForm(fields | data, workspace=acme.workspace, user=user)


# --- What was reported, through Test connection ----------------------------------------------


@pytest.mark.parametrize("path", ["/", "/?x="])
def test_test_connection_never_reaches_a_loopback_listener(as_role, acme, listener, path):
    account = account_at(acme.workspace, f"http://127.0.0.1:{listener.port}{path}")
    response = press_test_connection(as_role(Role.ADMIN), account)

    assert listener.received == []
    assert "inside" not in response.text
    assert "Could not reach BSG. Crier will try again." in response.text


def test_an_open_port_and_a_closed_one_read_the_same(as_role, acme):
    silent = Listener(answer=False)
    try:
        client = as_role(Role.ADMIN)
        pages = [
            press_test_connection(client, account_at(acme.workspace, url)).text
            for url in (f"https://127.0.0.1:{silent.port}/", f"https://127.0.0.1:{closed_port()}/")
        ]
    finally:
        silent.close()
    assert silent.received == []
    errors = [page.split("The connection failed.</b>")[1].split("</div>")[0] for page in pages]
    assert errors[0] == errors[1] == " Could not reach BSG. Crier will try again."


# --- The form: where a workspace may point an account ----------------------------------------


@pytest.mark.parametrize("url", [*INWARD, "ftp://one-api.bsg.world/", "https://evil.example/"])
def test_an_admin_cannot_point_an_account_anywhere_but_the_documented_host(acme, url):
    bound = form(acme, acme.user(Role.OWNER), api_base_url=url)
    assert not bound.is_valid()
    assert "api_base_url" in bound.errors


def test_the_refusal_says_where_the_account_may_point(acme):
    bound = form(acme, acme.user(Role.OWNER), api_base_url="https://evil.example/")
    bound.is_valid()
    assert bound.errors["api_base_url"] == [
        "An account calls BSG at one-api.bsg.world. Leave this empty for that, or ask whoever "
        "runs this Crier to allow another host (CRIER_PROVIDER_HOSTS)."
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://one-api.bsg.world/?x=",
        "https://one-api.bsg.world/#x",
        "https://u:p@one-api.bsg.world/",
    ],
)
def test_a_base_url_carries_no_query_fragment_or_user(acme, url):
    bound = form(acme, acme.user(Role.OWNER), api_base_url=url)
    assert not bound.is_valid()
    assert "without a user name" in bound.errors["api_base_url"][0]


@pytest.mark.parametrize("url", ["", "https://one-api.bsg.world", "one-api.bsg.world/"])
def test_the_documented_host_is_always_allowed(acme, url):
    assert form(acme, acme.user(Role.OWNER), api_base_url=url).is_valid()


def test_a_host_the_server_lists_is_allowed_to_anyone(acme, settings):
    settings.CRIER_PROVIDER_HOSTS = ["*.partner.example", "relay.internal:8443", "[fd00::5]"]
    for url in (
        "https://eu.partner.example/api",
        "https://relay.internal:8443/",
        "https://[fd00::5]/",
    ):
        assert form(acme, acme.user(Role.ADMIN), api_base_url=url).is_valid(), url
    assert not form(acme, acme.user(Role.ADMIN), api_base_url="https://relay.internal/").is_valid()


def test_a_superuser_may_choose_a_public_test_host_but_never_an_inward_one(acme):
    boss = acme.user(Role.OWNER)
    boss.is_superuser = True
    assert form(acme, boss, api_base_url="https://test-api.example.com/v2").is_valid()
    for url in INWARD:
        bound = form(acme, boss, api_base_url=url)
        assert not bound.is_valid(), url
    bound = form(acme, boss, api_base_url="https://[::ffff:127.0.0.1]/")
    bound.is_valid()
    assert "local or private network address" in bound.errors["api_base_url"][0]


def test_the_built_in_sandbox_is_allowed_on_the_servers_own_origin_only(acme, settings):
    settings.CRIER_SANDBOX_ORIGINS = ["http://127.0.0.1:8000"]
    owner = acme.user(Role.OWNER)
    assert form(acme, owner, api_base_url="http://127.0.0.1:8000/sandbox/bsg").is_valid()
    for url in (
        "http://127.0.0.1:8001/sandbox/bsg",  # another port of the same machine
        "http://127.0.0.1:8000/sandbox/mobizon",  # another provider's emulator
        "http://127.0.0.1:8000/admin/",
        "http://127.0.0.1:8000/sandbox/bsgx",
    ):
        assert not form(acme, owner, api_base_url=url).is_valid(), url
    settings.SANDBOX = False
    assert not form(acme, owner, api_base_url="http://127.0.0.1:8000/sandbox/bsg").is_valid()


@pytest.mark.parametrize(
    "tenant_url, valid",
    [
        ("https://acme.conpeek.com", True),
        ("https://acme.conpeek.com/api", True),
        ("http://acme.conpeek.com", False),
        ("https://conpeek.com.evil.example", False),
        ("https://evilconpeek.com", False),
        ("http://127.0.0.1:8219/", False),
        ("https://[::1]/", False),
        ("ftp://acme.conpeek.com", False),
    ],
)
def test_conpeeks_tenant_url_is_checked_like_a_base_url(acme, tenant_url, valid):
    bound = ProviderAccountForm(
        {
            "provider": "conpeek",
            "name": "Voice",
            "currency": "PLN",
            "cred_api_key": "k" * 20,
            "cred_tenant_url": tenant_url,
            "cred_voice_campaign_id": "5b7c389fe8df7b60af688989",
        },
        workspace=acme.workspace,
        user=acme.user(Role.OWNER),
    )
    assert bound.is_valid() is valid
    assert valid or "cred_tenant_url" in bound.errors


def test_the_account_page_shows_the_refusal_under_the_field(as_role, acme):
    response = as_role(Role.ADMIN).post(
        reverse("account_add"),
        {
            "provider": "bsg",
            "name": "Probe",
            "api_base_url": "http://127.0.0.1:8219/",
            "currency": "EUR",
            "cred_api_key": "live_secret_key_123456",
        },
    )
    assert response.status_code == 200
    assert "Use an https:// address" in response.text
    assert not ProviderAccount.objects.filter(name="Probe").exists()


# --- On the wire: checked again as each connection opens -------------------------------------


@pytest.mark.parametrize("host", LOOPBACK_FORMS)
def test_every_spelling_of_loopback_is_refused_at_connect_time(listener, host):
    adapter = BSGAdapter(base_url=f"https://{host}:{listener.port}", credentials={"api_key": "k"})
    with pytest.raises(TemporaryError, match=r"^Could not reach BSG\. Crier will try again\.$"):
        adapter.account_info()
    assert listener.received == []


def fake_dns(monkeypatch, *answers: str) -> list[str]:
    """getaddrinfo answers ``answers`` in turn (the last one from then on); returns the asked."""
    asked, real = [], socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host.endswith(".example") or host.endswith("bsg.world"):
            asked.append(host)
            address = answers[min(len(asked), len(answers)) - 1]
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_dns_name_resolving_to_loopback_is_refused(monkeypatch, listener):
    asked = fake_dns(monkeypatch, "127.0.0.1")
    adapter = BSGAdapter(
        base_url=f"https://sneaky.example:{listener.port}", credentials={"api_key": "k"}
    )
    with pytest.raises(TemporaryError, match="Could not reach BSG"):
        adapter.account_info()
    assert asked and listener.received == []


def test_even_the_documented_host_is_refused_when_it_resolves_inward(monkeypatch):
    fake_dns(monkeypatch, "169.254.169.254")
    with pytest.raises(TemporaryError) as caught:
        BSGAdapter(credentials={"api_key": "k"}).account_info()
    assert str(caught.value) == "Could not reach BSG. Crier will try again."
    assert "non-public address (169.254.169.254)" in caught.value.detail


def test_dns_rebinding_gains_nothing_the_checked_address_is_the_one_connected(
    monkeypatch, listener
):
    # Public when checked, loopback when asked again: a resolver that connects by name would
    # reach the listener. The guard connects to the address it checked (a public one, which
    # pytest-socket refuses here), and asks only once.
    asked = fake_dns(monkeypatch, "93.184.216.34", "127.0.0.1")
    adapter = BSGAdapter(
        base_url=f"https://rebind.example:{listener.port}", credentials={"api_key": "k"}
    )
    with pytest.raises(Exception) as caught:
        adapter.account_info()
    assert "93.184.216.34" in str(caught.value)
    assert asked == ["rebind.example"]
    assert listener.received == []


def test_redirects_are_not_followed(settings, acme):
    target = Listener()
    redirecting = Listener(answer=False)
    location = f"http://127.0.0.1:{target.port}/sandbox/bsg/api/v2/balance"

    class Redirect(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            self.request.sendall(
                f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
            )

    redirecting.server.RequestHandlerClass = Redirect
    origin = f"http://127.0.0.1:{redirecting.port}"
    settings.CRIER_SANDBOX_ORIGINS = [origin, f"http://127.0.0.1:{target.port}"]
    try:
        adapter = BSGAdapter(base_url=f"{origin}/sandbox/bsg", credentials={"api_key": "k"})
        with pytest.raises(TemporaryError, match=r"^Could not reach BSG"):
            adapter.call("GET", "/api/v2/balance", authenticate=False)
    finally:
        target.close()
        redirecting.close()
    assert target.received == []


def test_http_is_refused_at_connect_time_outside_the_sandbox(listener, settings):
    settings.CRIER_PROVIDER_HOSTS = ["127.0.0.1"]  # trusted, but credentials never go in clear
    adapter = BSGAdapter(base_url=f"http://127.0.0.1:{listener.port}", credentials={})
    with pytest.raises(TemporaryError, match="Could not reach BSG"):
        adapter.account_info()
    assert listener.received == []


def test_the_sandbox_on_the_live_server_still_answers(live_server, transactional_db):
    adapter = BSGAdapter(
        base_url=f"{live_server.url}/sandbox/bsg", credentials=provision("bsg", name="ssrf")
    )
    assert adapter.account_info().balance is not None


def test_the_adapters_client_follows_no_redirect_and_no_environment_proxy():
    client = BSGAdapter(credentials={}).http
    assert client.follow_redirects is False
    assert client.trust_env is False


def test_conpeeks_refusal_names_its_documented_hosts(acme):
    bound = ProviderAccountForm(
        {
            "provider": "conpeek",
            "name": "Voice",
            "currency": "PLN",
            "cred_api_key": "k" * 20,
            "cred_tenant_url": "https://evilconpeek.com",
            "cred_voice_campaign_id": "5b7c389fe8df7b60af688989",
        },
        workspace=acme.workspace,
        user=acme.user(Role.OWNER),
    )
    assert not bound.is_valid()
    assert bound.errors["cred_tenant_url"][0].startswith(
        "An account calls Conpeek at an address under conpeek.com."
    )


def test_a_campaign_on_an_inward_account_sends_nothing_there(acme, listener, settings):
    # The sending engine makes its own client (to renew its lease on every request): the
    # guard is in it too.
    settings.CRIER_SEND_BACKOFF_CAP = 0.1
    account = account_at(acme.workspace, f"http://127.0.0.1:{listener.port}/")
    campaign = campaign_for(acme.workspace, account, 3)
    handed_out: list[int] = []
    sending.dispatch_due(handed_out.append)
    assert handed_out == [campaign.pk]
    try:
        sending.run(campaign.pk, budget=2)
    finally:
        sending.release(campaign.pk)
    assert listener.received == []
    assert unsent(campaign) == 3
