"""Cache checks CA-1 (exact hit, no upstream call) and CA-3 (TTL) from the Fly.io plan.

A hit is proven by the provider log (one upstream call for two requests), not by the gateway's
word; the TTL is read from Redis itself for the key the gateway names.
"""

from __future__ import annotations

import socket
import statistics
import time
import uuid
from typing import Any
from urllib.parse import urlparse

import yaml

from harness.checks._calls import chat, provider_entries
from harness.registry import check
from harness.results import NotApplicable, Outcome
from harness.spend import Estimate
from harness.stack import Stack

__all__ = ["configured_ttl", "exact_hit", "semantic_hits", "team_isolation", "ttl"]

PARAPHRASES = [
    ("How do I reset my account password?", "How can I reset the password of my account?"),
    ("What are your store opening hours on Sunday?", "On Sunday, what hours is the store open?"),
    ("Can I return a product after thirty days?", "Is returning a product possible after thirty days?"),
    ("How long does shipping to Canada take?", "Shipping to Canada takes how long?"),
    ("Which payment methods do you accept online?", "What online payment methods are accepted?"),
    ("Where can I download my monthly invoice?", "My monthly invoice: where can I download it?"),
]
UNRELATED = ["Write a haiku about autumn leaves in Kyoto.", "What is the boiling point of nitrogen in kelvin?",
             "Translate 'good morning' into Portuguese.", "List three prime numbers larger than one hundred."]
_SEMANTIC_TYPES = {"redis-semantic", "qdrant-semantic"}


@check("CA-1", spend=Estimate(6, 20))
def exact_hit(stack: Stack, hits: int = 5) -> Outcome:
    """CA-1: the same request again: answered under the limit with no upstream call. The hit's latency
    is the median of `hits` repeats on an open connection, so one scheduler hiccup is not the verdict.

    A hit is decided by the gateway's cache signal on every repeat (LiteLLM names the entry's key, on a
    hit only) and, where the provider log is readable, by one upstream call for all of them; both must
    agree. Latency and equal answers alone cannot tell a hit from a fast provider."""
    limit = stack.target.threshold("CA-1")
    model = stack.target.plan.cheap_model
    mock = stack.mock()
    since = mock.last_seq() if mock else 0
    first = chat(stack, model, "What is a cache?", cache=True)
    with stack.gateway() as client:
        repeats = [client.chat(model, "What is a cache?", nonce=first.nonce, cache=True) for _ in range(hits)]
    samples = [r.seconds for r in repeats]
    answers = [(r.status, r.text) for r in repeats]
    content = first.text
    seconds = statistics.median(samples)
    upstream = provider_entries(stack, first, since)
    problems = []
    statuses = {status for status, _ in answers}
    if first.status != 200 or statuses != {200}:
        problems.append(f"HTTP {first.status}/{sorted(statuses)}")
    signalled = sum(r.cache_hit for r in repeats)
    if signalled != hits:
        problems.append(f"{hits - signalled} of {hits} repeats carried no cache signal (x-litellm-cache-key)")
    if upstream is not None and len(upstream) != 1:
        problems.append(f"{len(upstream)} upstream calls for {hits + 1} identical requests")
    if not stack.target.meets("CA-1", seconds):
        problems.append(f"repeated answers took {seconds * 1000:.0f} ms (median of {hits})")
    if any(text != content for _, text in answers):
        problems.append("a repeated answer differs from the first")
    return Outcome(id="CA-1", passed=not problems, measured=round(seconds, 4), threshold=limit, unit="s",
                   detail="; ".join(problems) or f"hit in {seconds * 1000:.1f} ms (median of {hits}); every repeat "
                   "carried x-litellm-cache-key; " + ("one upstream call for all" if upstream is not None
                                                      else "provider log not available (mock_url)"),
                   evidence={"decided_by": ["cache signal"] + (["provider log"] if upstream is not None else []),
                             "cache_key": repeats[-1].headers.get("x-litellm-cache-key"),
                             "hit_ms": [round(s * 1000, 1) for s in samples],
                             "upstream_calls": None if upstream is None else len(upstream)})


def _cache_params(stack: Stack) -> dict[str, Any]:
    config = stack.target.litellm_config
    if config is None or not config.exists():
        return {}
    return ((yaml.safe_load(config.read_text()) or {}).get("litellm_settings") or {}).get("cache_params") or {}


def configured_ttl(stack: Stack) -> float | None:
    params = _cache_params(stack)
    return float(params["ttl"]) if "ttl" in params else None


def _ask_plain(stack: Stack, model: str, text: str) -> bool:
    """One cacheable call with the text exactly as given; True if the gateway answered from its cache."""
    with stack.gateway() as client:
        response = client.post("/v1/chat/completions",
                               json={"model": model, "messages": [{"role": "user", "content": text}]})
    return response.status_code == 200 and bool(response.headers.get("x-litellm-cache-key"))


@check("CA-2", spend=Estimate(2 * len(PARAPHRASES) + len(UNRELATED), 30))
def semantic_hits(stack: Stack) -> Outcome:
    """CA-2: after a question is answered, its paraphrase hits the semantic cache; unrelated prompts do not."""
    kind = _cache_params(stack).get("type")
    if kind not in _SEMANTIC_TYPES and not stack.target.semantic_cache:
        raise NotApplicable(f"the gateway's cache is {kind or 'off'}, not semantic (semantic_cache: true in the "
                            "target declares one); LiteLLM's semantic caches need Redis with the search module or "
                            "Qdrant, which cannot be installed on this machine")
    limit = stack.target.threshold("CA-2")
    model = stack.target.plan.default_model
    salt = uuid.uuid4().hex[:6]  # a fresh run must not hit entries of an earlier one
    hits = 0
    for question, paraphrase in PARAPHRASES:
        _ask_plain(stack, model, f"{question} ({salt})")
        hits += _ask_plain(stack, model, f"{paraphrase} ({salt})")
    false_hits = [text for text in UNRELATED if _ask_plain(stack, model, f"{text} ({salt})")]
    rate = hits / len(PARAPHRASES)
    ok = stack.target.meets("CA-2", rate) and not false_hits
    return Outcome(id="CA-2", passed=ok, measured={"hit_rate": round(rate, 3), "unrelated_hits": len(false_hits)},
                   threshold={"hit_rate": limit, "unrelated_hits": 0},
                   detail=f"{hits}/{len(PARAPHRASES)} paraphrases hit, {len(false_hits)} unrelated prompts hit"
                   + (f": {false_hits[:2]}" if false_hits else ""))


def _redis_ttl(url: str, key: str) -> int | None:
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=3) as sock:
        encoded = key.encode()
        sock.sendall(b"*2\r\n$3\r\nTTL\r\n$%d\r\n%s\r\n" % (len(encoded), encoded))
        reply = sock.recv(64)
    return int(reply[1:].split(b"\r\n")[0]) if reply.startswith(b":") else None


@check("CA-3", spend=Estimate(5, 10))
def ttl(stack: Stack, short_ttl_s: float = 2.0) -> Outcome:
    """CA-3: a cached entry carries the plan's TTL in Redis (the config's TTL is evidence, compared with the
    plan), and an entry past its TTL misses."""
    expected = stack.target.plan.cache_ttl_s
    configured = configured_ttl(stack)
    model = stack.target.plan.cheap_model
    first = chat(stack, model, "ttl probe", cache=True)
    # LiteLLM names the cache key on a hit only
    key = chat(stack, model, "ttl probe", nonce=first.nonce, cache=True).headers.get("x-litellm-cache-key")
    redis_ttl = None
    if stack.target.redis_url is not None and key:
        redis_ttl = _redis_ttl(stack.target.redis_url.get_secret_value(), key)
    mock = stack.mock()
    since = mock.last_seq() if mock else 0
    short = chat(stack, model, "short ttl probe", cache={"ttl": short_ttl_s})
    early = chat(stack, model, "short ttl probe", nonce=short.nonce, cache=True)  # cached at all?
    time.sleep(short_ttl_s + 1.0)
    late = chat(stack, model, "short ttl probe", nonce=short.nonce, cache=True)
    upstream = provider_entries(stack, short, since)
    problems = []
    if configured is not None and abs(configured - expected) > 60:
        problems.append(f"the config sets ttl {configured:.0f} s; the plan requires {expected:.0f} s "
                        "(plan.cache_ttl_s)")
    if redis_ttl is None:
        problems.append(f"no TTL readable in Redis for cache key {key!r}")
    elif abs(redis_ttl - expected) > 60:
        problems.append(f"entry TTL {redis_ttl} s in Redis; the plan requires {expected:.0f} s")
    if not early.cache_hit:
        problems.append(f"a {short_ttl_s:g} s entry was not a hit right after it was written, so its expiry says "
                        "nothing")
    elif late.cache_hit:
        problems.append(f"after its {short_ttl_s:g} s TTL the entry still answered (cache signal on the repeat)")
    if upstream is not None and len(upstream) != 2:
        problems.append(f"{len(upstream)} upstream calls for a {short_ttl_s:g} s entry asked 3 times across its TTL "
                        "(expected 2: the first and the one after expiry)")
    return Outcome(id="CA-3", passed=not problems, measured=redis_ttl, threshold=expected, unit="s",
                   detail="; ".join(problems) or f"entry TTL {redis_ttl} s; a {short_ttl_s:g} s entry expired",
                   evidence={"cache_key": key, "config_ttl_s": configured,
                             "decided_by": ["Redis TTL", "cache signal"] + (["provider log"] if upstream is not None
                                                                           else [])})


def _pair(stack: Stack) -> tuple[str, str]:
    """Two teams with the same limits: LiteLLM derives an output cap from a key's tpm, which changes the
    cache key, so teams with different limits are kept apart by accident; only equal ones test isolation."""
    teams = [t for t in stack.target.teams if (t.rpm or 3) >= 2]
    for index, first in enumerate(teams):
        for second in teams[index + 1:]:
            if (first.rpm, first.tpm) == (second.rpm, second.tpm):
                return first.team, second.team
    if len(teams) < 2:
        raise NotApplicable("CA-4 needs two team keys in the target")
    return teams[0].team, teams[1].team


@check("CA-4", spend=Estimate(3, 20))
def team_isolation(stack: Stack, teams: tuple[str, str] | None = None) -> Outcome:
    """CA-4: one prompt from two teams: the second team is not answered from the first's cache entry,
    while the first team, asking again, is (so the result is not just a cache that is off)."""
    if not stack.target.cache_isolation:
        raise NotApplicable("the target does not declare per-team cache isolation (cache_isolation: true)")
    teams = teams or _pair(stack)
    first, second = (stack.target.team(name).secret() for name in teams)
    model = stack.target.plan.cheap_model
    mock = stack.mock()
    since = mock.last_seq() if mock else 0
    question = "What did we decide about the Q3 roadmap?"
    opening = chat(stack, model, question, key=first, cache=True)
    other = chat(stack, model, question, key=second, nonce=opening.nonce, cache=True)
    again = chat(stack, model, question, key=first, nonce=opening.nonce, cache=True)
    upstream = provider_entries(stack, opening, since)
    crossed = other.cache_hit or (upstream is not None and len(upstream) < 2)
    own_hit = again.cache_hit
    statuses = [opening.status, other.status, again.status]
    ok = statuses == [200, 200, 200] and not crossed and own_hit
    return Outcome(id="CA-4", passed=ok, measured={"cross_team_hit": crossed, "same_team_hit": own_hit},
                   threshold={"cross_team_hit": False, "same_team_hit": True},
                   detail=f"HTTP {statuses}" if statuses != [200, 200, 200] else
                   (f"{teams[1]} was answered from {teams[0]}'s cache entry" if crossed else
                    f"{teams[1]} got its own answer; {teams[0]} hit its own entry" if own_hit else
                    "no cache hit even for the same team: the isolation result says nothing"),
                   evidence={"upstream_calls": None if upstream is None else len(upstream), "teams": list(teams),
                             "decided_by": ["cache signal"] + (["provider log"] if upstream is not None else [])})
