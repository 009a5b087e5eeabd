"""The override the compose provider adds to a user's files, and the target's compose section: no Docker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.images import MissingImage
from harness.providers._containers import PROXY_PORTS
from harness.providers._override import FAULTS, render
from harness.providers.compose import _check_roles
from harness.providers.wiring import StackKeys
from harness.sections import ComposeTarget
from harness.target import REPO, TargetError, load_target

EXAMPLE = REPO / "stack" / "compose" / "vps.target.yaml"


class _OverrideLoader(yaml.SafeLoader):
    """Reads compose's `!override` tag back as a marked list."""


_OverrideLoader.add_constructor("!override", lambda loader, node: ("!override", loader.construct_sequence(node)))


def _config() -> dict[str, Any]:
    """The example as `docker compose config --format json` gives it (ports normalised)."""
    raw = yaml.safe_load((REPO / "stack" / "compose" / "docker-compose.vps.yml").read_text())
    for body in raw["services"].values():
        body["ports"] = [{"target": int(p.split(":")[-1]), "published": p.split(":")[0]} for p in body.get("ports", [])]
    return raw


def _rendered(tmp_path: Path, spec: ComposeTarget | None = None) -> tuple[dict[str, Any], dict[str, str], StackKeys]:
    target = load_target(EXAMPLE)
    assert target.compose is not None
    keys = StackKeys.new()
    override = render(spec or target.compose, _config(), image="gateway-harness/services:latest", keys=keys,
                      keys_dir=tmp_path / "keys", observer_state=tmp_path / "observer")
    document = yaml.load(override.write(tmp_path / "override.yml").read_text(), Loader=_OverrideLoader)
    return document["services"], override.upstreams, keys


def test_every_published_port_is_replaced_by_an_ephemeral_loopback_one(tmp_path: Path) -> None:
    services, _, _ = _rendered(tmp_path)
    assert services["litellm"]["ports"] == ("!override", ["127.0.0.1::4000"])  # not 4000:4000, which may be taken
    assert services["redis"]["ports"] == ("!override", ["127.0.0.1::6379"])
    assert services["n8n"]["ports"] == ("!override", ["127.0.0.1::5678"])
    tag, faults = services[FAULTS]["ports"]
    assert tag == "!override" and {f"127.0.0.1::{p}" for p in PROXY_PORTS.values()} <= set(faults)


def test_the_users_services_are_re_pointed_through_the_fault_proxies_with_this_runs_keys(tmp_path: Path) -> None:
    services, upstreams, keys = _rendered(tmp_path)
    gateway = services["litellm"]["environment"]
    assert gateway["OPENAI_API_BASE"] == f"http://{FAULTS}:{PROXY_PORTS['openai']}/v1"
    assert (gateway["REDIS_HOST"], gateway["REDIS_PORT"]) == (FAULTS, str(PROXY_PORTS["redis"]))
    assert gateway["LITELLM_MASTER_KEY"] == keys.master and gateway["HARNESS_TEAM_KEYS"].startswith("/harness/keys/")
    assert services["n8n"]["environment"]["LITELLM_URL"] == f"http://{FAULTS}:{PROXY_PORTS['gateway']}"
    assert services["bot"]["environment"]["ROUTER_URL"].endswith(f":{PROXY_PORTS['router']}/webhook/litellm-route")
    # the observer's own volume on its state folder is replaced by this run's fresh one
    assert services["observer"]["volumes"] == [f"{tmp_path / 'observer'}:/var/lib/observer"]
    assert "image" not in services["litellm"] and "command" not in services["litellm"]  # theirs, untouched
    assert upstreams == {"openai": "harness-mock:8000", "anthropic": "harness-mock:8000",
                         "gemini": "harness-mock:8000", "langfuse": "harness-langfuse:3000",
                         "gateway": "litellm:4000", "redis": "redis:6379", "router": "n8n:5678"}


def test_without_a_bot_no_bot_api_stand_in_is_added(tmp_path: Path) -> None:
    spec = load_target(EXAMPLE).compose
    assert spec is not None
    services, _, _ = _rendered(tmp_path, spec.model_copy(update={"services": spec.services.model_copy(
        update={"bot": None})}))
    assert "harness-telegram" not in services and "environment" not in services.get("bot", {})


def test_a_role_naming_no_service_is_a_one_line_error_listing_the_services() -> None:
    spec = load_target(EXAMPLE).compose
    assert spec is not None
    wrong = spec.model_copy(update={"services": spec.services.model_copy(update={"gateway": "litelm"})})
    with pytest.raises(MissingImage, match=r"compose\.services\.gateway: no service 'litelm' .*bot, litellm, n8n"):
        _check_roles(wrong, _config())


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.pop("compose"), r"compose: required for provider 'compose'"),
    (lambda t: t.pop("litellm_config"), r"litellm_config: required for provider 'compose'"),
    (lambda t: t["compose"].pop("observer"), r"compose\.observer: required when compose\.services\.observer"),
    (lambda t: t["compose"].update(files=["nope.yml"]), r"compose\.files: .*nope\.yml does not exist"),
])
def test_a_compose_target_missing_what_it_needs_says_what_to_add(tmp_path: Path, edit: Any, message: str) -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["litellm_config"] = str(REPO / "stack" / "litellm" / "config.yaml")
    document["compose"]["files"] = [str(EXAMPLE.parent / "docker-compose.vps.yml")]
    edit(document)
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(TargetError, match=message):
        load_target(path)
