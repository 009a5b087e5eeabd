"""What a stack lets the harness do or see, and which target field (or provider) gives it.

A criterion declares the capabilities its verdict rests on (the catalogue's `needs`); a stack that
lacks one makes the criterion a SKIP that names what would enable it, decided once in the registry
instead of in each check. "Cannot observe" is never a FAIL and never a PASS.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["ENABLED_BY", "Capability", "explain_missing", "fields_for"]


class Capability(StrEnum):
    MASTER_KEY = "master key"
    LANGFUSE = "Langfuse API"
    PROVIDER_CONTROL = "provider control"  # the mock providers: behaviour per model and the request log
    FAULT_PROXIES = "fault proxies"  # a Toxiproxy API whose proxies sit on the gateway's upstream paths
    REDIS = "Redis access"
    POSTGRES = "Postgres access"
    TEAM_KEYS = "team keys"
    SERVICE_LOGS = "service logs"
    PROCESS_CONTROL = "process control"  # pause or signal the gateway's own processes (or its container)
    OBSERVER_CONTROL = "the observer's process"  # kill and restart the deployment's own observer (OBV-3)
    ROUTER = "routing webhook"
    BOT_API = "Bot API"  # the Bot API stand-in the chat bot polls: a user's messages in, the bot's out
    ALERT_SINK = "notification sink"
    BACKUP_STORE = "backup store"
    # the harness started the stack: it may drive it to its monthly cap and run its reference rigs against it
    OWNED = "a stack the harness started"
    # the stack's fault server reaches servers the harness starts on this machine (the backup stores)
    HOST_NETWORK = "fault server on this host"
    DIRECT_PROVIDER = "the provider reached directly"  # the gateway's OpenAI-format provider, bypassing it
    # the deployment's own event layer: its stream (publish, read) and its truth remote (clone, fetch)
    EVENT_PIPELINE = "the deployment's event stream and truth remote"
    BUDGET_TEST_KEY = "a key set up for the daily-budget check"
    AUDIT_LOG = "the observer's audit log"
    CHANGE_REQUESTS = "the observer's change requests"


# what a user adds to the target (or which provider to choose) to give each capability
ENABLED_BY: dict[Capability, str] = {
    Capability.MASTER_KEY: "gateway.master_key",
    Capability.LANGFUSE: "langfuse (url, public_key, secret_key)",
    Capability.PROVIDER_CONTROL: "mock_url (the mock providers' control API)",
    Capability.FAULT_PROXIES: "toxiproxy_url (a Toxiproxy in front of the gateway's upstreams)",
    Capability.REDIS: "redis_url",
    Capability.POSTGRES: "postgres_url",
    Capability.TEAM_KEYS: "teams (with keys, or team_keys: virtual)",
    Capability.SERVICE_LOGS: "logs_dir (a folder with the deployment's service logs)",
    Capability.PROCESS_CONTROL: "provider: local, containers or compose (the harness runs the gateway)",
    Capability.OBSERVER_CONTROL: "provider: compose with compose.services.observer (the harness runs the observer)",
    Capability.ROUTER: "router_url",
    Capability.BOT_API: "telegram_url (the Bot API the bot polls)",
    Capability.ALERT_SINK: "alerts_url (the notification sink alerts post to)",
    Capability.BACKUP_STORE: "backup.store",
    Capability.OWNED: "provider: local or containers (a stack the harness starts)",
    Capability.HOST_NETWORK: "provider: local",
    Capability.DIRECT_PROVIDER: "provider: local or containers (the harness knows the provider's address and key)",
    Capability.BUDGET_TEST_KEY: "teams[].budget_test: true (with key and daily_usd)",
    Capability.EVENT_PIPELINE: "events (redis_url, stream, truth_remote, observer_identity)",
    Capability.AUDIT_LOG: "events.audit_log (the observer's JSONL audit log, readable)",
    Capability.CHANGE_REQUESTS: "events.change_requests (the folder the observer writes change requests to)",
}


def explain_missing(missing: Iterable[Capability]) -> str:
    """One line: what is missing and the target field (or provider) that gives each."""
    parts = [f"{cap.value} ({ENABLED_BY[cap]})" for cap in sorted(set(missing), key=list(Capability).index)]
    return "needs " + "; ".join(parts)


def fields_for(alternatives: Iterable[Iterable[Capability]]) -> str:
    """What to add, in short: `redis_url + teams`, alternatives joined by `; or` (harness plan's column);
    of several provider requirements the narrowest (`provider: local`) is named."""
    ways = []
    for missing in alternatives:
        names = list(dict.fromkeys(ENABLED_BY[cap].split(" (", 1)[0] for cap in sorted(set(missing),
                                                                                         key=list(Capability).index)))
        providers = sorted((n for n in names if n.startswith("provider:")), key=len)
        ways.append(" + ".join([n for n in names if not n.startswith("provider:")] + providers[:1]))
    return "; or ".join(dict.fromkeys(ways))
