"""Headers a client chooses decide nothing they should not (issue 17 #8, #9).

- **Host**: every absolute URL comes from ``PAPERFEED_BASE_URL`` (or is a path): the ``Link`` of
  ``/api/daily_papers``, which the page cache replays to other readers, the canonical-id redirect and the
  trailing-slash redirect.
- **X-Forwarded-For**: read only from a peer in ``PAPERFEED_TRUSTED_PROXIES``, from the right, so rate
  limits key on the client a trusted proxy vouches for; from anyone else it is ignored.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from starlette.requests import Request

from paperfeed.settings import Settings
from paperfeed.web import limits
from paperfeed.web.app import create_app
from tests.community import csrf_of

EVIL = "evil.example"
BASE = "https://papers.example.org"


@pytest.fixture(scope="module")
def forged(loaded_settings: Settings) -> TestClient:
    settings = loaded_settings.model_copy(update={"base_url": BASE, "page_size": 5})
    return TestClient(create_app(settings), follow_redirects=False)


def test_the_next_page_link_comes_from_the_base_url_and_the_cache_replays_no_forged_host(
    forged: TestClient,
) -> None:
    path = "/api/daily_papers?date=2026-08-20&sort=upvotes"
    first = forged.get(path, headers={"Host": EVIL})
    assert first.status_code == 200
    expected = f'<{BASE}/api/daily_papers?date=2026-08-20&sort=upvotes&p=1&limit=5>; rel="next"'
    assert first.headers["link"] == expected
    # The next anonymous reader gets the cached answer: the same link, whatever Host either sent.
    again = forged.get(path)
    assert again.headers["link"] == expected


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/papers/arXiv:0704.0001", "/papers/0704.0001"),
        ("/papers/0704.0001v1", "/papers/0704.0001"),
        ("/login/", "/login"),
        ("/api/daily_papers/?date=2026-08-20", "/api/daily_papers?date=2026-08-20"),
    ],
)
def test_redirects_are_paths_not_urls_built_from_the_host_header(
    forged: TestClient, path: str, location: str
) -> None:
    response = forged.get(path, headers={"Host": EVIL})
    assert response.status_code in (301, 307) and response.headers["location"] == location


@pytest.mark.parametrize("path", ["//evil.example/", "/no/such/page/", "/"])
def test_no_redirect_leaves_the_site(forged: TestClient, path: str) -> None:
    response = forged.get(path, headers={"Host": EVIL})
    assert "location" not in response.headers or response.headers["location"].startswith("/")
    assert not response.headers.get("location", "").startswith("//")


@pytest.mark.parametrize(
    "path",
    ["/", "/papers?date=2026-08-20", "/papers/0704.0001", "/papers/0704.0001.md", "/api/papers/0704.0001",
     "/api/daily_papers?date=2026-08-20", "/feed.xml", "/feed.atom", "/search?q=graph", "/login"],
)  # fmt: skip
def test_no_answer_repeats_a_forged_host(forged: TestClient, path: str) -> None:
    response = forged.get(path, headers={"Host": EVIL})
    assert response.status_code == 200
    assert EVIL not in response.text
    assert [h for h in response.headers.values() if EVIL in h] == []


# -- the client's address behind trusted proxies ----------------------------------------------------------


def client_of(peer: str, forwarded: list[str], trusted: str) -> str:
    """What ``limits.client`` says for a request from ``peer`` carrying these X-Forwarded-For headers."""
    app = SimpleNamespace(state=SimpleNamespace(settings=Settings(trusted_proxies=trusted)))
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {"type": "http", "headers": headers, "client": (peer, 40000), "app": app}
    return limits.client(Request(scope))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        # No trusted proxies: the connecting address, whatever the header says.
        ("198.51.100.7", ["203.0.113.1"], "", "198.51.100.7"),
        # An untrusted peer's header is ignored.
        ("198.51.100.7", ["203.0.113.1"], "10.0.0.0/8", "198.51.100.7"),
        # A trusted proxy vouches for the address it saw.
        ("10.0.0.2", ["198.51.100.7"], "10.0.0.0/8", "198.51.100.7"),
        # The client wrote the left part itself: only the rightmost untrusted hop counts.
        ("10.0.0.2", ["203.0.113.1, 198.51.100.7"], "10.0.0.0/8", "198.51.100.7"),
        # Two proxies, and the header split over two lines.
        ("10.0.0.2", ["203.0.113.1, 198.51.100.7", "10.0.0.3"], "10.0.0.2, 10.0.0.3", "198.51.100.7"),
        # Every hop trusted: the leftmost.
        ("10.0.0.2", ["10.0.0.9, 10.0.0.3"], "10.0.0.0/8", "10.0.0.9"),
        # No header: the proxy itself.
        ("10.0.0.2", [], "10.0.0.0/8", "10.0.0.2"),
        # Unreadable: the last proxy that vouched stands for the client.
        ("10.0.0.2", ["198.51.100.7, garbage"], "10.0.0.0/8", "10.0.0.2"),
        # Ports, IPv6 and IPv4-mapped IPv6.
        ("10.0.0.2", ["198.51.100.7:5555"], "10.0.0.0/8", "198.51.100.7"),
        ("::ffff:10.0.0.2", ["[2001:db8::7]:443"], "10.0.0.0/8", "2001:db8::7"),
        ("2001:db8:1::2", ["2001:db8::7"], "2001:db8:1::/48", "2001:db8::7"),
    ],
)
def test_the_client_address(peer: str, forwarded: list[str], trusted: str, client: str) -> None:
    assert client_of(peer, forwarded, trusted) == client


def test_a_trusted_proxy_setting_must_be_addresses() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, 192.0.2.1 2001:db8::/32").trusted_proxies
    with pytest.raises(ValidationError, match=r"'proxy\.example' is not an IP address or network"):
        Settings(trusted_proxies="10.0.0.0/8,proxy.example")


def _subscribes(settings: Settings, peer: str, forwarded: list[str]) -> list[int]:
    """Subscribe requests (each refused as malformed, but counted by the rate limit) from ``peer``."""
    with TestClient(create_app(settings), base_url="https://testserver", client=(peer, 40000)) as web:
        token = csrf_of(web)
        return [
            web.post(
                "/subscribe", data={"email": "x", "csrf": token}, headers={"X-Forwarded-For": f}
            ).status_code
            for f in forwarded
        ]


def test_rate_limits_key_on_the_client_a_trusted_proxy_vouches_for(settings: Settings) -> None:
    """Issue 17 #8: behind the load balancer every client shared its address, and one limit."""
    behind = settings.model_copy(
        update={"trusted_proxies": "10.0.0.0/8", "rate_subscribe": "2/600", "secret_key": SecretStr("k" * 32)}
    )
    one, other = "198.51.100.7", "198.51.100.8"
    assert _subscribes(behind, "10.0.0.2", [one, one, f"203.0.113.1, {one}"]) == [400, 400, 429]
    # Another client behind the same balancer has a limit of its own (also through a second proxy).
    assert _subscribes(behind, "10.0.0.2", [other, f"{other}, 10.0.0.3"]) == [400, 400]
    # A client that is not a trusted proxy cannot pick a new address for each request.
    forged = ["203.0.113.20", "203.0.113.21", "203.0.113.22"]
    assert _subscribes(behind, "192.0.2.50", forged) == [400, 400, 429]
