"""Turns a scenario's Fault into actions on the stack: a fault proxy toxic or state, or mock behaviour.

Each `inject` returns the undo; network kinds act where the gateway's traffic really flows (its
upstream's Toxiproxy proxy), provider kinds make the mock answer as a failing provider would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness._proc import free_port
from harness.chaos.scenario import SERVICE_ROLES, Fault
from harness.stack import Stack

__all__ = ["FaultUnavailable", "inject"]

Undo = Callable[[], None]


class FaultUnavailable(Exception):
    """The stack cannot take this fault (no fault proxy or no provider control): the case is skipped."""


def _deployment(stack: Stack, model: str) -> str:
    spec = next((m for m in stack.target.models if m.name == model), None)
    if spec is None or not spec.deployment:
        raise FaultUnavailable(f"model {model} has no deployment in the target's LiteLLM config")
    return spec.deployment


def _proxy_name(stack: Stack, target: str) -> str:
    return target if target in SERVICE_ROLES else _deployment(stack, target).split("/", 1)[0]


def _discard(_: object) -> None:
    return None


def _network(stack: Stack, target: str, fault: Fault) -> Undo:
    name = _proxy_name(stack, target)
    proxy = stack.faults.get(name)
    if proxy is None:
        raise FaultUnavailable(f"no fault proxy named {name!r} in front of {target}; add toxiproxy_url to the target"
                               + (" (the routing webhook and the bot run on the embedded stack)"
                                  if target in ("gateway", "router") else ""))
    attrs: dict[str, Any] = dict(fault.attributes)
    if fault.kind == "refused":
        proxy.disable()
        return lambda: _discard(proxy.enable())
    if fault.kind == "down":
        # the upstream process is gone: the proxy accepts, then closes (what a dead backend behind a LB does)
        upstream = proxy.upstream
        proxy.update(upstream=f"127.0.0.1:{free_port()}")
        return lambda: _discard(proxy.update(upstream=upstream))
    toxic_name = f"chaos_{fault.kind}"
    spec = {"reset": ("reset_peer", "upstream", {"timeout": 0}),
            # hung: the request never reaches the upstream, which so never answers nor closes; dropping only
            # its answer let a server that closes after answering (uvicorn, to n8n's requests) end the wait
            "timeout": ("timeout", "upstream", {"timeout": 0}),
            "latency": ("latency", "downstream", {"latency": 5000}),
            "bandwidth": ("bandwidth", "downstream", {"rate": 1}),
            # the answer starts, then the connection closes: a response cut mid-way
            "cut": ("limit_data", "downstream", {"bytes": 64})}[fault.kind]
    kind, stream, defaults = spec
    proxy.add_toxic(kind, {**defaults, **attrs}, stream=stream, name=toxic_name)
    return lambda: proxy.remove_toxic(toxic_name)


def _provider(stack: Stack, target: str, fault: Fault) -> Undo:
    mock = stack.mock()
    if mock is None:
        raise FaultUnavailable("provider faults need the mock's control API (mock_url in the target)")
    key = _deployment(stack, target).split("/", 1)[-1]
    attrs = dict(fault.attributes)
    behaviour = {"status": {"status": 500},
                 "slow_first_token": {"ttft_ms": 6000},
                 "stream_cut": {"stream_cut_after": 3},
                 "stream_error": {"stream_error_after": 3},
                 "context_overflow": {"context_window": 1},
                 "failure_ratio": {"status": 500, "failure_ratio": 0.5}}[fault.kind]
    mock.set(key, **{**behaviour, **attrs})

    def undo() -> None:
        mock.reset(key)
        mock.close()

    return undo


def inject(stack: Stack, target: str, fault: Fault) -> Undo:
    if fault.kind in ("refused", "down", "reset", "timeout", "latency", "bandwidth", "cut"):
        return _network(stack, target, fault)
    if target in SERVICE_ROLES:
        raise FaultUnavailable(f"{fault.kind} is a provider fault; {target} takes network faults only")
    return _provider(stack, target, fault)
