"""The criteria catalogue: every success criterion of both plans, with its default threshold.

IDs are stable: reports, scenarios and notes refer to them. A target file may override any
threshold; a check reads it through `Target.threshold`, never from a literal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from harness.capabilities import Capability as C

__all__ = ["CATALOGUE", "Criterion", "criterion"]

Op = Literal["<", "<=", ">", ">=", "==", "within"]


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    source: str
    title: str
    threshold: float | None = None
    unit: str = ""
    op: Op = "=="
    extra: tuple[tuple[str, float], ...] = ()  # named second thresholds, e.g. ("cost", 0.001) as "MOD-4.cost"
    needs: frozenset[C] = frozenset()  # what every way of deciding it rests on (checks may add their own)
    # how far a measured value may move the wrong way between two runs before it counts as a regression
    # (relative, and absolute in the unit): latencies on loopback jitter by tens of milliseconds
    tolerance: float = 0.10
    tolerance_abs: float | None = None

    @property
    def floor(self) -> float:
        return self.tolerance_abs if self.tolerance_abs is not None else 0.05 if self.unit == "s" else 1e-3

    def meets(self, measured: float, threshold: float | None = None) -> bool:
        limit = self.threshold if threshold is None else threshold
        if limit is None:
            raise ValueError(f"{self.id} has no numeric threshold")
        return {"<": measured < limit, "<=": measured <= limit, ">": measured > limit, ">=": measured >= limit,
                "==": measured == limit, "within": abs(measured) <= limit}[self.op]


_ALL = [
    Criterion("GW-1", "000 s1", "gateway ready: /health/readiness answers 200", 60.0, "s", "<="),
    Criterion("GW-2", "000 s1", "model catalogue equals the configured model names"),
    Criterion("GW-3", "000 s1, 002 smoke", "each model answers itself: 200, valid OpenAI body, usage present"),
    Criterion("GW-4", "beyond", "auth enforced: no/wrong/revoked key gets 401 and no upstream call"),
    Criterion("GW-5", "002 cutover", "official openai SDK: chat, streaming, embeddings; streamed text equals plain"),
    Criterion("OBS-1", "000 s2", "trace visible in Langfuse after the call", 10.0, "s", "<="),
    # latency: within 10 % of the measured, or within floor_s of it (a fast provider makes 10 % of ~50 ms
    # meaningless: the gap is then the gateway's own few tens of milliseconds outside the traced span)
    Criterion("OBS-2", "000 s2", "trace tokens equal usage, cost > 0 and per price table, latency within 10%",
              0.10, "ratio", "within", (("floor_s", 0.1),)),
    Criterion("OBS-3", "000 s2", "metadata.session_id becomes the trace's sessionId"),
    Criterion("OBS-4", "beyond", "N calls of mixed outcome make exactly N traces"),
    Criterion("OBS-5", "beyond", "no provider, master or virtual key in trace bodies"),
    # the observability path taken away: serving is judged on the plan's budget (plan.serving); the traces of
    # the calls made during the outage must arrive within recover_s of its end (the plans lose none)
    Criterion("OBS-6", "beyond", "Langfuse refused or hung: a burst served within the plan's budget, and every "
                                 "call's trace arrives after recovery", 0, "traces lost", "<=",
              (("recover_s", 60.0),)),
    Criterion("MOD-1", "000 s3", "one call per model: no 401/429/500"),
    Criterion("MOD-2", "000 s3", "one trace per model, model names distinct"),
    Criterion("MOD-3", "000 s3", "cost(gpt-4) > cost(claude-3) > cost(gemini-2)"),
    Criterion("MOD-4", "000 s3", "gemini-2 '2+2' latency < 500 ms and cost < $0.001", 0.5, "s", "<",
              (("cost", 0.001),)),
    Criterion("MOD-5", "000 s3", "10K-char input reaches claude-3 whole", 10_000, "chars", ">="),
    Criterion("ESC-1", "002 failover", "input > 2000 tokens on the default model is served by the bigger one",
              2000, "tokens", ">"),
    # the agents' own traffic (Fly.io plan: nine agents cut over by OPENAI_BASE_URL), through the openai SDK
    Criterion("AG-1", "002 cutover", "tool round trip per model, plain and streamed: the offered tool is called "
                                     "with schema-valid arguments, its result goes back, a final answer arrives"),
    Criterion("AG-2", "002 cutover", "a tool-calling request whose primary fails is answered by the fallback with "
                                     "a tool call, never prose in its place"),
    Criterion("AG-3", "002 cutover", "structured output (response_format json_schema) per model validates"),
    Criterion("AG-5", "002 cutover", "each agent of the traffic profile, its request replayed: served by its model "
                                     "with a valid tool call, schema-valid JSON or a text answer as it expects"),
    Criterion("AG-4", "002 cutover", "the Anthropic-native route (/v1/messages) through the anthropic SDK, per model, "
                                     "plain and streamed, with a tool round trip"),
    Criterion("FB-1", "000 s5", "each fallback chain answers when its primary fails"),
    Criterion("FB-2", "000 s5", "fallback answer within the limit", 5.0, "s", "<"),
    Criterion("FB-3", "000 s5", "Langfuse shows the failed attempt and the fallback"),
    Criterion("FB-4", "000 s5", "all but the last model down: the last one answers"),
    Criterion("FB-5", "beyond", "all providers down or hung: a clean error (5xx, or 408 for a timeout), no hang",
              30.0, "s", "<"),
    Criterion("FB-6", "beyond", "fault removed: the primary serves again without manual action", 30.0, "s", "<"),
    Criterion("FB-7", "beyond", "slow primary falls back; a stream cut mid-way is reported, not truncated", 5.0,
              "s", "<"),
    # "keeps serving" is the plan's latency budget (plan.serving), not a 200 whenever it comes
    # a provider's error event inside a 200 stream (Anthropic overloaded_error): LiteLLM #24004, #6532, #5512
    Criterion("FB-8", "beyond", "an in-stream provider error after 200 is fallen back on or reaches the client as "
                                "an error, never a stream that ends as success"),
    Criterion("FB-9", "002 failover", "a prompt over the primary's context window is answered by the plan's "
                                      "long-context model (a context-window fallback), else a clear 400"),
    # the gateway as a client of paid, rate-limited providers: how it retries decides whether a 429 becomes a
    # longer outage and whether one bad request is billed several times (LiteLLM #20722, #34399, #27823)
    Criterion("RTY-1", "beyond", "a provider's Retry-After is honoured: no new attempt reaches that deployment "
                                 "before it (escalating values each time)", 0, "early attempts", "=="),
    Criterion("RTY-2", "beyond", "a non-retryable provider error (400/401/403/404/422) gets one attempt on that "
                                 "deployment; the client sees that 4xx or a fallback's answer, never a 5xx"),
    Criterion("RTY-3", "beyond", "total outage: provider attempts per client request within (num_retries + 1) x "
                                 "chain length, none instant on one deployment", extra=(("min_gap_s", 0.1),)),
    Criterion("RTY-4", "beyond", "the gateway's own 'no deployment available' is a 429 or 503 with Retry-After, "
                                 "never a bare 500"),
    Criterion("CA-5", "002", "Redis refused, hung or slow: every request of a burst answered within the plan's "
                             "serving budget", unit="s"),
    Criterion("QT-1", "002", "429 after exactly rpm requests, with rate-limit headers"),
    Criterion("QT-2", "002", "429 once a key's tokens per minute are spent"),
    Criterion("QT-3", "002", "a key past its daily USD limit is refused with a budget error"),
    Criterion("QT-4", "beyond", "one key at its limit leaves the other keys unaffected"),
    # the VPS plan's budget controls; alerts there must fire "within 5 minutes" (slice 11)
    Criterion("BUD-1", "000 budget", "proxy monthly budget: one alert at the warning level, LLM calls refused at "
                                     "the cap and not before", 300.0, "s", "<="),
    # alerts (VPS plan slice 11: "fires within 5 minutes", "auto-resolves"; Fly.io plan: its email triggers);
    # seconds from the condition to the notification, scaled by the target's alerting.time_scale
    Criterion("AL-1", "000 s11, 002", "gateway or cache down (health check fails 3x): alert within the window",
              300.0, "s", "<="),
    Criterion("AL-2", "002", "error rate > 5% over 5 min: alert", 300.0, "s", "<=", (("rate", 0.05),)),
    Criterion("AL-3", "002", "P95 latency > 10 s over 5 min: alert", 300.0, "s", "<=", (("p95", 10.0),)),
    # daily spend: the VPS plan's $10 (the reference stack is capped at $50 a month, under which the Fly.io
    # plan's $100 a day can never be reached; set AL-4.spend: 100 in a target for that plan)
    Criterion("AL-4", "002, 000 s11", "quota exceeded (any team) / daily spend over the limit: alert", 300.0, "s",
              "<=", (("spend", 10.0),)),
    # a rate alert clears one window after its condition, and Alertmanager sends at its group interval
    Criterion("AL-5", "000 s11", "condition cleared: the alert resolves and a resolved notification arrives",
              900.0, "s", "<="),
    # the routing webhook (VPS plan slice 4) and the chat bot (slice 6)
    Criterion("RT-1", "000 s4", "routing webhook answers within the limit", 3.0, "s", "<="),
    Criterion("RT-2", "000 s4", "routing matrix: 'Explain AI' -> gpt-4, '2+2=?' -> gemini-2, 60K chars -> claude-3, "
                                "from the answer and from the trace"),
    Criterion("RT-3", "000 s4", "the answer says why this model (a non-empty reason)"),
    Criterion("RT-4", "beyond", "the router's upstream (the gateway) down or slow: a clear error within the "
                                "router's timeout plus this slack", 2.0, "s", "<="),
    Criterion("E2E-1", "000 s6", "message into the bot -> reply within the limit, the call traced, no error line "
                                 "in any service log", 5.0, "s", "<="),
    Criterion("E2E-2", "beyond", "a message while the router is down gets an error reply, not silence", 5.0, "s",
              "<="),
    Criterion("EV-1", "000 s7", "a published event is on the stream and schema-valid"),
    Criterion("EV-2", "beyond", "malformed events are refused with a clear error, nothing written"),
    Criterion("OBV-1", "000 s8", "an event on a stale version becomes a change request, not applied"),
    Criterion("OBV-2", "000 s8", "every event appended to the JSONL audit log; earlier lines never change"),
    Criterion("OBV-3", "beyond", "observer SIGKILLed mid-stream and restarted: every event exactly once, none lost"),
    Criterion("GIT-1", "000 s9", "a low-risk change is committed by the observer identity and pushed"),
    Criterion("GIT-2", "000 s9", "a high-risk change waits for approval, then is applied"),
    Criterion("GIT-3", "000 s9", "one commit per applied change, nothing processed twice, event log preserved"),
    Criterion("BK-1", "000 s10", "the backup job succeeds and the store lists a complete set"),
    Criterion("BK-2", "000 s10", "restore test: fresh servers hold every table, key and ref of the source"),
    Criterion("BK-3", "000 s10", "sets older than the retention (30 days) are pruned, younger ones kept"),
    Criterion("BK-4", "beyond", "store unreachable: the job fails loudly, names the step and notifies"),
    Criterion("CA-1", "002", "exact cache hit under the limit, no upstream call", 0.1, "s", "<"),
    Criterion("CA-2", "002", "semantic cache: paraphrases hit, unrelated prompts do not", 0.30, "ratio", ">="),
    Criterion("CA-4", "beyond", "where isolation is configured, no team is answered from another team's cache"),
    # the TTL itself is the plan's (plan.cache_ttl_s, the Fly.io plan's 1 day): the config's is evidence
    Criterion("CA-3", "002", "a cache entry lives the plan's TTL, and misses after it", unit="s"),
    Criterion("SEC-1", "002", "known default and plain-text passwords are refused where a login exists"),
    Criterion("SEC-2", "beyond", "no provider, master or team key in logs, traces or results"),
    Criterion("SEC-3", "beyond", "a key limited to some models cannot call another"),
    Criterion("COST-1", "beyond", "gateway-reported cost = provider usage x list price, per call", 0.01, "ratio",
              "within"),
    Criterion("LD-1", "000 s12", "steady: 10 users for 5 min, success ratio", 0.99, "ratio", ">"),
    Criterion("LD-2", "000 s12", "spike: 100 users for 1 min, success ratio", 0.95, "ratio", ">"),
    Criterion("LD-3", "000 s12", "sustained: 50 users for 30 min, success ratio", 0.98, "ratio", ">"),
    Criterion("LD-4", "000 s12, 002", "P95 end-to-end latency", 3.0, "s", "<"),
    Criterion("LD-5", "000 s12", "health under load: no 5xx, no gateway restart, machine memory below the limit",
              90.0, "%", "<"),
    Criterion("LD-6", "beyond", "latency the gateway adds (P50), measured from outside against the same provider",
              50.0, "ms", "<=", extra=(("p95", 100.0),)),
]

# what each criterion's verdict rests on, whichever check decides it; a stack without one makes it a SKIP
# naming the target field that gives it (harness.registry)
_LANGFUSE, _TEAMS = frozenset({C.LANGFUSE}), frozenset({C.TEAM_KEYS})
_NEEDS: dict[str, frozenset[C]] = {
    **dict.fromkeys(("OBS-1", "OBS-2", "OBS-3", "OBS-4", "OBS-5", "OBS-6", "MOD-2", "FB-3"), _LANGFUSE),
    **dict.fromkeys(("QT-1", "QT-2", "QT-4", "SEC-3", "CA-4"), _TEAMS),
    # QT-3 spends a key's whole day: with calls the mock makes expensive, or on a key set up for it
    # (harness.checks.quotas), never a production key's real money
    "BUD-1": frozenset({C.OWNED, C.PROVIDER_CONTROL, C.ALERT_SINK, C.REDIS}),
    "CA-3": frozenset({C.REDIS}),
    "SEC-2": frozenset({C.SERVICE_LOGS}),
    **dict.fromkeys(("RT-1", "RT-2", "RT-3"), frozenset({C.ROUTER})),
    **dict.fromkeys(("E2E-1", "E2E-2"), frozenset({C.BOT_API})),
    # the event layer's criteria are decided on the reference observer (a stack the harness started) or on
    # the deployment's own stream and remote: each check says which (harness.checks.events)
    **dict.fromkeys(("AL-1", "AL-2", "AL-3", "AL-4", "AL-5"), frozenset({C.ALERT_SINK})),
    "LD-6": frozenset({C.DIRECT_PROVIDER, C.MASTER_KEY}),
    # judged on the mock providers' attempt log (each attempt's time, deployment, status, Retry-After)
    **dict.fromkeys(("RTY-1", "RTY-2", "RTY-3", "RTY-4"), frozenset({C.PROVIDER_CONTROL, C.MASTER_KEY})),
}

CATALOGUE: dict[str, Criterion] = {c.id: replace(c, needs=_NEEDS.get(c.id, frozenset())) for c in _ALL}


def criterion(ident: str) -> Criterion:
    try:
        return CATALOGUE[ident.split(".", 1)[0]]
    except KeyError:
        raise KeyError(f"unknown criterion {ident!r}; known: {', '.join(CATALOGUE)}") from None
