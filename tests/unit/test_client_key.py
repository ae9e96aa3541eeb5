"""Rate limits count each visitor: behind the web console (a trusted proxy) the visitor's address
comes from X-Forwarded-For; anyone else's header is ignored, so it cannot dodge a limit."""
from ipaddress import ip_network

from starlette.requests import Request

from xinfang.auth import client_key, trusted_proxies

TRUSTED = (ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8"))


def request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 50000)})


def test_a_visitor_through_the_console_is_counted_by_their_own_address():
    assert client_key(request("127.0.0.1", "203.0.113.7"), TRUSTED) == "203.0.113.7"
    assert client_key(request("127.0.0.1", "203.0.113.8"), TRUSTED) == "203.0.113.8"


def test_a_chain_of_trusted_proxies_gives_the_nearest_untrusted_address():
    # the visitor's own header claims 198.51.100.1; the front proxy 10.0.0.5 saw 203.0.113.7
    assert client_key(request("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.0.0.5"), TRUSTED) == "203.0.113.7"


def test_a_direct_caller_cannot_choose_its_address():
    assert client_key(request("203.0.113.9", "198.51.100.1"), TRUSTED) == "203.0.113.9"
    assert client_key(request("127.0.0.1"), TRUSTED) == "127.0.0.1"


def test_trusted_proxies_take_addresses_networks_and_names():
    nets, complete = trusted_proxies("127.0.0.1, 10.0.0.0/8, localhost")
    assert ip_network("10.0.0.0/8") in nets and ip_network("127.0.0.1/32") in nets and complete
    nets, complete = trusted_proxies("no-such-host.invalid")
    assert nets == () and not complete  # tried again later: in compose the console may start after
