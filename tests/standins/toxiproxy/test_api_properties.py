"""Property tests of the documented Toxiproxy HTTP API (the real server when on PATH, else the stand-in).

Bodies are drawn from the documented fields (proxy: name, listen, upstream, enabled; toxic: name, type,
stream, toxicity, attributes per type) with any JSON mixed in. Whatever arrives, the server answers
below 500 and within its timeout; an error is Toxiproxy's `{"error": ..., "status": ...}` with the
HTTP status repeated; what it accepted reads back as it answered.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given
from hypothesis import strategies as st

from harness.standins.toxiproxy.toxics import ATTRIBUTES
from tests.specs.strategies import examples, json_values

EXAMPLES = examples(60)
_ANY = json_values(integers=st.integers(-5, 10**6), max_leaves=8)
# listen stays on loopback (port 0: any free one) or is not an address at all: nothing binds elsewhere
_LISTEN = st.sampled_from(["127.0.0.1:0", "localhost:0", "", "nonsense", "127.0.0.1:99999", "127.0.0.1"])
_PROXY = st.fixed_dictionaries({}, optional={
    "name": st.text(min_size=0, max_size=12) | _ANY, "listen": _LISTEN | _ANY,
    "upstream": st.sampled_from(["127.0.0.1:9", "upstream:80", "", "x"]) | _ANY,
    "enabled": st.booleans() | _ANY})
_ATTRS = st.sampled_from(sorted(ATTRIBUTES)).flatmap(lambda kind: st.fixed_dictionaries({
    "type": st.just(kind), "attributes": st.dictionaries(st.sampled_from([*ATTRIBUTES[kind], "other"]),
                                                        st.integers(-10, 10**6) | _ANY, max_size=3)},
    optional={"name": st.text(max_size=10), "stream": st.sampled_from(["upstream", "downstream", "sideways"]),
              "toxicity": st.floats(-1, 2) | _ANY}))
_TOXIC = _ATTRS | st.dictionaries(st.sampled_from(["type", "name", "stream", "toxicity", "attributes"]), _ANY)


def _well_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"], str) and body["status"] == response.status_code, body


def _clean(url: str) -> None:
    for name in httpx.get(f"{url}/proxies").json():
        httpx.delete(f"{url}/proxies/{quote(name, safe='')}")


def test_created_proxies_and_refusals_follow_the_api(toxiproxy_url: str) -> None:
    @EXAMPLES
    @given(body=_PROXY | _ANY)
    def holds(body: Any) -> None:
        response = httpx.post(f"{toxiproxy_url}/proxies", json=body, timeout=5)
        try:
            _well_answered(response)
            if response.status_code == 201:
                created = response.json()
                assert httpx.get(f"{toxiproxy_url}/proxies/{quote(created['name'], safe='')}").json() == created
        finally:
            _clean(toxiproxy_url)

    holds()


def test_toxics_and_refusals_follow_the_api(toxiproxy_url: str) -> None:
    _clean(toxiproxy_url)
    proxy = httpx.post(f"{toxiproxy_url}/proxies", json={"name": "prop", "listen": "127.0.0.1:0",
                                                         "upstream": "127.0.0.1:9"}).json()
    try:
        @EXAMPLES
        @given(body=_TOXIC | _ANY)
        def holds(body: Any) -> None:
            response = httpx.post(f"{toxiproxy_url}/proxies/prop/toxics", json=body, timeout=5)
            _well_answered(response)
            if response.status_code == 200:
                toxic = response.json()
                at = f"{toxiproxy_url}/proxies/prop/toxics/{quote(toxic['name'], safe='')}"
                assert httpx.get(at).json() == toxic
                _well_answered(httpx.post(at, json=body, timeout=5))
                httpx.delete(at)

        holds()
        assert proxy["name"] == "prop"
    finally:
        _clean(toxiproxy_url)


def test_populate_follows_the_api(toxiproxy_url: str) -> None:
    @EXAMPLES
    @given(body=st.lists(_PROXY, max_size=3) | _ANY)
    def holds(body: Any) -> None:
        try:
            _well_answered(httpx.post(f"{toxiproxy_url}/populate", json=body, timeout=5))
        finally:
            _clean(toxiproxy_url)

    holds()
