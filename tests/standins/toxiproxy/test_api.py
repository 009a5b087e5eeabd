"""Toxiproxy HTTP API conformance: routes, status codes, error texts and JSON shapes of 2.12.

Each case follows the upstream test it names (api_test.go) or the spec section it cites.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from harness._proc import free_port
from harness.faults import Toxiproxy, ToxiproxyError
from tests.standins.toxiproxy.conftest import Peer, connect


def _raw(url: str, method: str, path: str, body: object = None, **kw: object) -> httpx.Response:
    return httpx.request(method, f"{url}{path}", json=body, **kw)  # type: ignore[arg-type]


def _listening(address: str) -> bool:
    try:
        connect(address, timeout=1).close()
        return True
    except OSError:
        return False


def test_version_request_id_browser_and_unknown_routes(toxiproxy_url: str) -> None:
    version = httpx.get(f"{toxiproxy_url}/version", headers={"user-agent": "curl"})
    assert version.text.startswith('{"version": "') and version.text.endswith('"}\n')
    assert version.headers["content-type"] == "application/json;charset=utf-8"
    assert version.headers["x-toxiproxy-request-id"]
    assert httpx.get(f"{toxiproxy_url}/proxies", headers={"user-agent": "Mozilla/5.0 (X11)"}).status_code == 403
    assert httpx.get(f"{toxiproxy_url}/proxies", headers={"user-agent": "Wget/2.1"}).status_code == 200
    missing = httpx.get(f"{toxiproxy_url}/nothing")
    assert (missing.status_code, missing.text) == (404, "404 page not found\n")
    wrong = httpx.put(f"{toxiproxy_url}/proxies")
    assert (wrong.status_code, wrong.text) == (405, "")


def test_index_is_an_object_keyed_by_name(toxiproxy: Toxiproxy, peer: Peer) -> None:
    assert toxiproxy.request("GET", "/proxies") == {}
    toxiproxy.create("b", peer.address)
    toxiproxy.create("a", peer.address)
    assert list(toxiproxy.request("GET", "/proxies")) == ["a", "b"]


@pytest.mark.parametrize(("body", "message"), [
    ({"upstream": "127.0.0.1:1"}, "missing required field: name"),
    ({"name": "x"}, "missing required field: upstream"),
])
def test_create_requires_name_and_upstream(toxiproxy_url: str, toxiproxy: Toxiproxy, body: dict, message: str) -> None:
    response = _raw(toxiproxy_url, "POST", "/proxies", body)
    assert response.status_code == 400
    assert response.text == f'{{"error":"{message}","status":400}}\n'
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_create_reports_the_bound_port_and_resolves_localhost(toxiproxy: Toxiproxy, peer: Peer) -> None:
    proxy = toxiproxy.create("p", peer.address, listen="127.0.0.1:0")
    assert proxy.listen.startswith("127.0.0.1:") and proxy.port > 0 and _listening(proxy.address)
    port = free_port()
    named = toxiproxy.create("q", peer.address, listen=f"localhost:{port}")
    assert named.listen == f"127.0.0.1:{port}" and named.upstream == peer.address and named.toxics == []


def test_disabled_at_create_keeps_listen_verbatim(toxiproxy: Toxiproxy, peer: Peer) -> None:
    port = free_port()
    proxy = toxiproxy.create("off", peer.address, listen=f"localhost:{port}", enabled=False)
    assert (proxy.listen, proxy.enabled) == (f"localhost:{port}", False)
    assert not _listening(f"127.0.0.1:{port}")
    assert proxy.enable().listen == f"127.0.0.1:{port}" and _listening(f"127.0.0.1:{port}")


def test_name_and_port_conflicts(toxiproxy: Toxiproxy, peer: Peer) -> None:
    first = toxiproxy.create("one", peer.address)
    with pytest.raises(ToxiproxyError) as conflict:
        toxiproxy.create("one", peer.address)
    assert (conflict.value.status, conflict.value.message) == (409, "proxy already exists")
    with pytest.raises(ToxiproxyError) as bind:
        toxiproxy.create("two", peer.address, listen=first.listen)
    assert bind.value.status == 500 and bind.value.message == f"listen tcp {first.listen}: bind: address already in use"
    assert "two" not in toxiproxy.proxies()


def test_delete_closes_the_port_then_404(toxiproxy: Toxiproxy, peer: Peer) -> None:
    proxy = toxiproxy.create("gone", peer.address)
    proxy.delete()
    assert not _listening(proxy.address) and toxiproxy.proxies() == {}
    with pytest.raises(ToxiproxyError, match="404: proxy not found"):
        proxy.delete()


def test_disable_refuses_and_enable_reuses_the_port(toxiproxy: Toxiproxy, peer: Peer) -> None:
    proxy = toxiproxy.create("toggle", peer.address)
    address = proxy.address
    proxy.disable()
    with pytest.raises(ConnectionRefusedError):
        connect(address)
    assert proxy.enable().address == address and _listening(address)


def test_toxic_defaults_names_and_conflicts(toxiproxy_url: str, toxiproxy: Toxiproxy, peer: Peer) -> None:
    proxy = toxiproxy.create("t", peer.address)
    created = _raw(toxiproxy_url, "POST", "/proxies/t/toxics", {"type": "latency"})
    assert created.status_code == 200
    assert created.json() == {"attributes": {"latency": 0, "jitter": 0}, "name": "latency_downstream",
                              "type": "latency", "stream": "downstream", "toxicity": 1}
    assert proxy.add_toxic("latency", stream="upstream").name == "latency_upstream"
    with pytest.raises(ToxiproxyError) as same_name:
        proxy.add_toxic("timeout", name="latency_downstream", stream="upstream")
    assert (same_name.value.status, same_name.value.message) == (409, "toxic already exists")
    noop = _raw(toxiproxy_url, "POST", "/proxies/t/toxics", {"type": "noop", "name": "n"}).json()
    assert (noop["stream"], noop["toxicity"], noop["attributes"]) == ("downstream", 1, {})
    assert _raw(toxiproxy_url, "POST", "/proxies/t/toxics", {"type": "noop", "toxicity": 0.2,
                                                               "name": "m"}).json()["toxicity"] == 0.2


@pytest.mark.parametrize(("body", "status", "prefix"), [
    ({"type": "latency", "stream": "walrustream"}, 400, "stream was invalid, can be either upstream or downstream"),
    ({"type": "down"}, 400, "invalid toxic type"),
    ({"type": "latency", "attributes": {"latency": 100.5}}, 400, "bad request body"),
    ({"type": "latency", "attributes": {"latency": "100"}}, 400, "bad request body"),
])
def test_invalid_toxics_are_400(toxiproxy_url: str, toxiproxy: Toxiproxy, peer: Peer, body: dict, status: int,
                                prefix: str) -> None:
    toxiproxy.create("v", peer.address)
    response = _raw(toxiproxy_url, "POST", "/proxies/v/toxics", body)
    assert response.status_code == status and response.json()["error"].startswith(prefix)


def test_go_decoding_leniency(toxiproxy_url: str, toxiproxy: Toxiproxy, peer: Peer) -> None:
    toxiproxy.create("lenient", peer.address)
    body = {"Type": "latency", "Stream": "UPSTREAM", "attributes": {"Latency": 5}, "unknown": 1, "toxicity": None}
    toxic = _raw(toxiproxy_url, "POST", "/proxies/lenient/toxics", body).json()
    assert (toxic["name"], toxic["stream"], toxic["attributes"]["latency"], toxic["toxicity"]) == \
        ("latency_UPSTREAM", "UPSTREAM", 5, 1)
    nulls = _raw(toxiproxy_url, "POST", "/proxies/lenient/toxics", {"type": "timeout", "attributes": None})
    assert nulls.json()["attributes"] == {"timeout": 0}
    assert _raw(toxiproxy_url, "POST", "/proxies", None, content=b"").json()["error"] == "bad request body: EOF"


def test_update_keeps_what_is_left_out(toxiproxy: Toxiproxy, peer: Peer) -> None:
    proxy = toxiproxy.create("u", peer.address)
    proxy.add_toxic("latency", {"latency": 100, "jitter": 10}, toxicity=0.5, name="lat")
    updated = proxy.update_toxic("lat", {"latency": 1000})
    assert (updated.attributes, updated.toxicity) == ({"latency": 1000, "jitter": 10}, 0.5)
    proxy.remove_toxic("lat")
    assert proxy.list_toxics() == []
    with pytest.raises(ToxiproxyError, match="404: toxic not found"):
        proxy.remove_toxic("lat")


def test_populate_validates_first_then_adds_or_keeps(toxiproxy_url: str, toxiproxy: Toxiproxy, peer: Peer) -> None:
    bad = _raw(toxiproxy_url, "POST", "/populate", [{"name": "a", "upstream": peer.address},
                                                    {"upstream": peer.address}])
    assert bad.status_code == 400
    assert bad.json() == {"error": "missing required field: name at proxy 2", "status": 400, "proxies": None}
    assert toxiproxy.proxies() == {}
    port = free_port()
    first = toxiproxy.populate([{"name": "keep", "upstream": peer.address, "listen": f"localhost:{port}"},
                                {"name": "other", "upstream": peer.address, "listen": "127.0.0.1:0"}])
    assert [p.name for p in first] == ["keep", "other"] and first[0].listen == f"127.0.0.1:{port}"
    first[0].add_toxic("latency", {"latency": 5})
    again = toxiproxy.populate([{"name": "keep", "upstream": peer.address, "listen": f"localhost:{port}",
                                 "enabled": False}])
    assert again[0].enabled and [t.name for t in again[0].toxics] == ["latency_downstream"]
    failed = _raw(toxiproxy_url, "POST", "/populate", [{"name": "x", "upstream": peer.address, "listen": "127.0.0.1:0"},
                                                       {"name": "y", "upstream": peer.address, "listen": "local373"}])
    assert failed.status_code == 500 and [p["name"] for p in failed.json()["proxies"]] == ["x"]
    assert "x" in toxiproxy.proxies() and "y" not in toxiproxy.proxies()


def test_reset_enables_everything_and_removes_toxics(toxiproxy: Toxiproxy, peer: Peer) -> None:
    proxy = toxiproxy.create("r", peer.address)
    proxy.add_toxic("latency", {"latency": 50})
    proxy.disable()
    toxiproxy.reset()
    again = toxiproxy.get("r")
    assert again.enabled and again.toxics == [] and _listening(again.address)


def test_independent_pypi_client_works_unchanged(toxiproxy_url: str, peer: Peer, toxiproxy: Toxiproxy) -> None:
    """toxiproxy-python 0.1.1 (PyPI), written for server 2.1.2, drives this server as it is."""
    from toxiproxy import Toxiproxy as PyPIToxiproxy
    from toxiproxy.exceptions import NotFound, ProxyExists

    host, _, port = toxiproxy_url.removeprefix("http://").rpartition(":")
    client = PyPIToxiproxy()
    client.update_api_consumer(host, int(port))
    assert client.running()
    proxy = client.create(upstream=peer.address, name="pypi")
    assert proxy.listen.startswith("127.0.0.1:") and client.get_proxy("pypi").upstream == peer.address
    with pytest.raises(ProxyExists):
        client.create(upstream=peer.address, name="pypi")
    proxy.add_toxic(type="latency", attributes={"latency": 50, "jitter": 0})
    assert set(proxy.toxics()) == {"latency_downstream"}
    assert proxy.toxics()["latency_downstream"].attributes == {"latency": 50, "jitter": 0}
    with proxy.down(), pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(proxy.listen.rpartition(":")[2])), timeout=1)
    assert client.get_proxy("pypi").enabled
    assert proxy.destroy_toxic("latency_downstream") and proxy.toxics() == {}
    assert client.reset()
    assert proxy.destroy() and client.get_proxy("pypi") is None
    with pytest.raises(NotFound):
        proxy.toxics()
