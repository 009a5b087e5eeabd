"""The agents' traffic profile: the shipped fleet (the plan's nine agents) loads and builds each agent's
request as its SDK would; a profile naming a tool or schema it does not define is one line naming both."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.agents import DEFAULT_FLEET, load_fleet, with_nonce
from harness.target import TargetError, load_target


def test_the_shipped_fleet_is_the_plans_nine_agents() -> None:
    fleet = load_fleet(DEFAULT_FLEET)
    assert [a.name for a in fleet.agents] == ["ai-customer", "support", "ceo-insights", "ai-knowledge", "analytics",
                                              "inventory", "seo", "ads", "content"]
    support = fleet.body(next(a for a in fleet.agents if a.name == "support"))
    assert [t["function"]["name"] for t in support["tools"]] == ["create_ticket", "search_knowledge"]
    ceo = fleet.body(next(a for a in fleet.agents if a.name == "ceo-insights"))
    assert ceo["response_format"]["json_schema"]["name"] == "kpi_summary" and "tools" not in ceo
    first, second = with_nonce(support), with_nonce(support)
    assert first["messages"][0]["content"] != second["messages"][0]["content"] != support["messages"][0]["content"]


def test_a_profile_with_an_unknown_tool_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.yaml"
    bad.write_text(yaml.safe_dump({"agents": [{"name": "x", "model": "gpt-4", "prompt": "hi", "tools": ["nope"]}]}))
    with pytest.raises(ValueError, match=r"agent x: tools \['nope'\] are not in the profile's tools"):
        load_fleet(bad)
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"provider": "local", "agents": "fleet.yaml"}))
    with pytest.raises(TargetError, match=r"agents: .*fleet\.yaml"):
        load_target(target)
