"""Team key checks QT-1, QT-2, QT-4 (Fly.io plan quotas) and SEC-3 (a key's model scope).

Bursts are bounded by the configured limit (read from the target, never assumed) plus one, and
by `_MAX_BURST`; a larger limit is a SKIP reason, fixed by scaling quotas in the target.
"""

from __future__ import annotations

from harness.capabilities import Capability
from harness.checks._calls import chat
from harness.gateway import Call
from harness.registry import check
from harness.results import NotApplicable, Outcome
from harness.spend import OUTPUT_BOUND, Estimate
from harness.stack import Stack
from harness.target import Target, Team

__all__ = ["MAX_BURST", "daily_budget", "daily_budget_on_test_key", "isolation", "model_scope", "rpm_limit",
           "tpm_limit"]

MAX_BURST = 250
_MAX_BUDGET_TOKENS = 20_000  # one budget-test call's input, at most
_RATE_HEADERS = ("retry-after", "x-ratelimit-remaining-requests", "x-ratelimit-limit-requests",
                 "x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens")


def _rpm(target: Target, team: str) -> int:
    """The rpm a burst check will run against (the plan's, else the key's), for the estimate; 0 if none."""
    configured = next((t.rpm for t in target.teams if t.team == team), None)
    return min(MAX_BURST, int(target.plan_limit(team, "rpm") or configured or 0))


def _tpm(target: Target, team: str) -> int:
    return min(250_000, next((t.tpm or 0 for t in target.teams if t.team == team), 0))


def _team(stack: Stack, name: str, ident: str, limit: str | None = None, label: str = "") -> Team | Outcome:
    """The team, or a FAIL outcome saying it is missing or lacks the limit (`rpm`, `tpm` ...) to check."""
    try:
        team = stack.target.team(name)
    except KeyError as exc:
        return Outcome(id=ident, passed=False, detail=f"{exc.args[0]}; list the team keys under teams: in the target")
    if limit is not None and not getattr(team, limit):
        return Outcome(id=ident, passed=False, threshold=f"a {label} limit",
                       detail=f"key {team.alias or team.team} has no {label} limit configured")
    return team


def _burst(stack: Stack, team: Team, count: int, content: str = "ping") -> list[Call]:
    calls = []
    for _ in range(count):
        call = chat(stack, stack.target.plan.cheap_model, content, key=team.secret())
        calls.append(call)
        if call.status == 429:
            break
    return calls


@check("QT-1", spend=lambda t: Estimate(_rpm(t, "customer") + 1, 10, model=t.plan.cheap_model))
def rpm_limit(stack: Stack, team_name: str = "customer") -> Outcome:
    """QT-1: a burst above the plan's rpm for the key: the first rpm calls pass, call rpm+1 gets 429 with rate
    headers. The rpm is the plan's (the keys file's is evidence); a team the plan does not name is judged
    by its own configured rpm."""
    team = _team(stack, team_name, "QT-1", "rpm", "rpm")
    if isinstance(team, Outcome):
        return team
    planned = stack.target.plan_limit(team.team, "rpm")
    rpm = int(planned) if planned is not None else team.rpm
    if rpm is None or rpm >= MAX_BURST:  # None was ruled out by _team
        return Outcome(id="QT-1", passed=False, detail=f"rpm {rpm} is above the burst bound {MAX_BURST}; "
                                                       "set quota_scale in the target")
    calls = _burst(stack, team, rpm + 1)
    first_429 = next((i for i, c in enumerate(calls, start=1) if c.status == 429), None)
    other = {c.status for c in calls if c.status not in (200, 429)}
    headers = {h: calls[-1].headers[h] for h in _RATE_HEADERS if h in calls[-1].headers}
    ok = first_429 == rpm + 1 and not other and bool(headers)
    source = "the plan's" if planned is not None else "its configured"
    detail = f"429 at call {first_429} of a burst against {source} rpm {rpm}" if first_429 else \
        f"no 429 after {len(calls)} calls against {source} rpm {rpm}"
    if planned is not None and team.rpm != rpm:
        detail += f"; the key is configured with rpm {team.rpm}, the plan says {rpm}"
    if first_429 and not headers:
        detail += "; the 429 carries no Retry-After or x-ratelimit header"
    return Outcome(id="QT-1", passed=ok, measured=first_429, threshold=rpm + 1, unit="calls",
                   detail=detail + (f"; other statuses {sorted(other)}" if other else ""),
                   evidence={"team": team.team, "rate_headers": headers, "configured_rpm": team.rpm,
                             "plan_rpm": planned})


@check("QT-2", spend=lambda t: Estimate(4, int(_tpm(t, "admin") * 0.4), model=t.plan.cheap_model))
def tpm_limit(stack: Stack, team_name: str = "admin") -> Outcome:
    """QT-2: calls of ~40 % of the key's tokens per minute each: a 429 arrives before the key overspends.

    LiteLLM refuses a call whose *estimated* tokens exceed what is left of the minute before it is
    sent, and its estimate can run well above the provider's count; so the contract checked is: a
    token-limit 429 within 160 % of the limit, and never more than the limit actually spent.
    """
    team = _team(stack, team_name, "QT-2", "tpm", "tpm")
    if isinstance(team, Outcome):
        return team  # missing, or without the limit this check needs
    if team.rpm is not None and team.rpm < 4:
        return Outcome(id="QT-2", passed=False, detail=f"key {team.team} allows {team.rpm} rpm: too few calls to "
                                                       "tell its token limit from its request limit")
    words = int(team.tpm * 0.4)
    if words > 100_000:
        return Outcome(id="QT-2", passed=False, detail=f"tpm {team.tpm} is too large to spend in a bounded run; "
                                                       "set quota_scale in the target")
    spent, last, calls, message, status = 0, 0, 0, "", 200
    while status == 200 and calls < 4:
        call = chat(stack, stack.target.plan.cheap_model, "tokens " * words, key=team.secret(),
                    max_tokens=32)
        status, calls = call.status, calls + 1
        if status == 200:
            last = int(call.usage.get("total_tokens") or 0)
            spent += last
        else:
            message = str(call.body.get("error", call.body))[:300]
    token_limit = "token" in message.lower() or (team.rpm is not None and calls < team.rpm)
    ok = status == 429 and spent <= team.tpm and token_limit
    detail = f"429 on call {calls} after {spent} tokens (tpm {team.tpm}, ~{last} per call)" if status == 429 \
        else f"no 429 after {spent} tokens in {calls} calls (tpm {team.tpm})"
    if status == 429 and spent + last <= team.tpm:
        detail += "; refused early: the gateway's estimate of the next call exceeded what was left"
    return Outcome(id="QT-2", passed=ok, measured={"tokens_before_429": spent, "status": status},
                   threshold=f"a token-limit 429 with at most {team.tpm} tokens spent", unit="tokens",
                   detail=detail, evidence={"error": message})


@check("QT-3", needs={Capability.TEAM_KEYS, Capability.PROVIDER_CONTROL}, spend=Estimate(6, 10, OUTPUT_BOUND))
def daily_budget(stack: Stack, team_name: str = "qa", model: str = "gpt-4") -> Outcome:
    """QT-3: calls of ~40 % of the key's daily USD limit each: once the limit is spent, a budget error.

    Each call is made that expensive by the mock's output length, so it spends no real key's budget.
    """
    team = _team(stack, team_name, "QT-3", "daily_usd", "daily USD")
    if isinstance(team, Outcome):
        return team  # missing, or without the limit this check needs
    output_price = stack.target.plan.list_prices[model][1] / 1e6
    upstream = stack.target.upstream_model(model)
    tokens = int(0.4 * team.daily_usd / output_price) + 1
    if tokens > 100_000:
        return Outcome(id="QT-3", passed=False, detail=f"daily limit ${team.daily_usd} needs {tokens} output "
                                                       "tokens per call; set quota_scale in the target")
    mock = stack.mock()
    assert mock is not None  # this check needs provider control
    mock.set(upstream, output_tokens=tokens)
    try:
        return _spend_the_day(stack, team, model, "budget probe")
    finally:
        mock.reset(upstream)
        mock.close()


def _budget_key_tokens(target: Target) -> int:
    """Input tokens for one call of ~40 % of the budget-test key's day on the plan's priciest model."""
    team = next((t for t in target.teams if t.budget_test and t.daily_usd), None)
    model = target.plan.cost_order[0]
    return int(0.4 * team.daily_usd / (target.plan.list_prices[model][0] / 1e6)) + 1 if team else 0


@check("QT-3", needs={Capability.BUDGET_TEST_KEY},
       spend=lambda t: Estimate(4, min(_budget_key_tokens(t), _MAX_BUDGET_TOKENS), 16, model=t.plan.cost_order[0]))
def daily_budget_on_test_key(stack: Stack) -> Outcome:
    """QT-3 on real providers: the key the target marks `budget_test` (a small daily limit the operator set
    up for this, never a production key) gets prompts of ~40 % of its day each on the plan's priciest
    model; once the limit is spent, a budget error. The money is real: the spend guard books every call."""
    team = next(t for t in stack.target.teams if t.budget_test and t.key is not None and t.daily_usd)
    model = stack.target.plan.cost_order[0]
    tokens = _budget_key_tokens(stack.target)
    if tokens > _MAX_BUDGET_TOKENS:
        raise NotApplicable(f"the budget-test key's daily_usd ${team.daily_usd} needs {tokens} input tokens per "
                            f"call on {model}; give that key a smaller daily limit (a few cents)")
    return _spend_the_day(stack, team, model, "budget " * tokens, max_tokens=16)


def _spend_the_day(stack: Stack, team: Team, model: str, content: str, **extra: int) -> Outcome:
    """Calls until the key is refused (or a bound): a budget error once its daily limit is spent, not before."""
    assert team.daily_usd is not None
    spent, last, status, message, calls = 0.0, 0.0, 200, "", 0
    bound = min(6, (team.rpm or 7) - 1)  # stay under the key's rpm, so a 429 cannot stand in for the budget
    while status == 200 and calls < bound:
        call = chat(stack, model, content, key=team.secret(), **extra)
        status, calls = call.status, calls + 1
        if status == 200:
            last = call.cost or 0.0
            spent += last
        else:
            message = str(call.body.get("error", call.body))[:300]
    budget_error = status in (400, 429) and "budget" in message.lower()
    ok = budget_error and spent >= team.daily_usd and spent - last < team.daily_usd
    return Outcome(id="QT-3", passed=ok, measured={"spent_usd": round(spent, 6), "status": status},
                   threshold=f"a budget error once ${team.daily_usd} is spent", unit="USD",
                   detail=f"budget error on call {calls} after ${spent:.4f} (limit ${team.daily_usd}) on key "
                          f"{team.alias or team.team}" if budget_error
                   else f"no budget error after ${spent:.4f} in {calls} calls (limit ${team.daily_usd}); "
                        f"last status {status}",
                   evidence={"error": message, "team": team.team})


@check("QT-4", spend=lambda t: Estimate(_rpm(t, "ceo") + 2, 10, model=t.plan.cheap_model))
def isolation(stack: Stack, exhausted: str = "ceo", others: tuple[str, ...] = ("admin",)) -> Outcome:
    """QT-4: with one key at its limit, the other keys still get answers."""
    team = _team(stack, exhausted, "QT-4")
    if isinstance(team, Outcome):
        return team
    if not team.rpm or team.rpm >= MAX_BURST:
        return Outcome(id="QT-4", passed=False, detail=f"key {team.team} needs an rpm limit below {MAX_BURST}")
    calls = _burst(stack, team, team.rpm + 1)
    limited = calls[-1].status == 429
    after = {name: chat(stack, stack.target.plan.cheap_model, "still there?",
                        key=stack.target.team(name).secret()).status for name in others}
    ok = limited and all(code == 200 for code in after.values())
    return Outcome(id="QT-4", passed=ok, measured={exhausted: calls[-1].status, **after},
                   threshold={exhausted: 429, **dict.fromkeys(others, 200)},
                   detail=f"{exhausted} limited, others answered {after}" if limited
                   else f"could not drive {exhausted} to its limit ({len(calls)} calls)")


@check("SEC-3", spend=Estimate(2, 10))
def model_scope(stack: Stack) -> Outcome:
    """SEC-3: a key limited to some models is refused (401/403) for any other model, and served for its own."""
    scoped = next((t for t in stack.target.teams if t.models), None)
    if scoped is None:
        return Outcome(id="SEC-3", passed=False, detail="no team key limited to some models in the target")
    outside = next((m.name for m in stack.target.chat_models() if m.name not in scoped.models), None)
    if outside is None:
        return Outcome(id="SEC-3", passed=False, detail=f"key {scoped.team} may call every model")
    key = scoped.secret()
    refused = chat(stack, outside, key=key)
    allowed = chat(stack, scoped.models[0], key=key)
    ok = refused.status in (401, 403) and allowed.status == 200
    return Outcome(id="SEC-3", passed=ok, measured={outside: refused.status, scoped.models[0]: allowed.status},
                   threshold={outside: "401/403", scoped.models[0]: 200},
                   detail=f"{scoped.team} ({scoped.models}) asking for {outside}: HTTP {refused.status}")
