"""The /key/generate path for deployments with LiteLLM's database: request bodies that LiteLLM's own
request model accepts, minting and revoking against a double, and the path named in the results."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from harness._http import App, Request, Response, json_response
from harness.keys import KeyProvisioningError, generate_request, provision, revoke
from harness.stack import Stack
from harness.target import REFERENCE_CONFIG, REPO, Endpoint, Target, read_teams

pytest_plugins = ["pytester"]

GATEWAY_PYTHON = REPO / ".venv-litellm" / "bin" / "python"
TEAMS = read_teams(REFERENCE_CONFIG.parent / "teams.yaml", {
    name: "sk-unused" for name in ("PROD_CUSTOMER_KEY", "PROD_CEO_KEY", "PROD_BACKGROUND_KEY", "ADMIN_KEY",
                                   "SCOPED_KEY", "QA_KEY")})


@pytest.mark.skipif(not GATEWAY_PYTHON.exists(), reason="the pinned LiteLLM is not installed (make gateway)")
def test_requests_fit_litellms_own_generate_key_model() -> None:
    bodies = [generate_request(team) for team in TEAMS]
    script = ("import json, sys\nfrom litellm.proxy._types import GenerateKeyRequest as G\n"
              "bodies = json.load(sys.stdin)\nfor b in bodies: G.model_validate(b)\n"
              "print(json.dumps(sorted(set().union(*bodies) - set(G.model_fields))))")
    result = subprocess.run([str(GATEWAY_PYTHON), "-c", script], input=json.dumps(bodies), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    customer = next(b for b in bodies if b["team_id"] == "customer")
    assert customer == {"key_alias": "prod_customer_key", "team_id": "customer", "models": [], "rpm_limit": 100,
                        "tpm_limit": 200000, "metadata": {"created_by": "gateway-harness"}, "max_budget": 50,
                        "budget_duration": "1d"}


def _key_server(calls: list[tuple[str, dict]], fail: bool = False) -> App:
    app = App()

    @app.route("POST", "/key/generate")
    async def generate(request: Request) -> Response:
        body = request.json()
        calls.append(("generate", body))
        if fail:
            return json_response({"error": {"message": "No connected db."}}, 400)
        return json_response({"key": f"sk-minted-{body['key_alias']}", "key_alias": body["key_alias"]})

    @app.route("POST", "/key/delete")
    async def delete(request: Request) -> Response:
        calls.append(("delete", request.json()))
        return json_response({"deleted_keys": request.json()["keys"]})

    return app


def _stack(url: str) -> Stack:
    return Stack.over(Target(provider="external", gateway=Endpoint(url=url)))


def test_provision_mints_a_key_per_team_and_revoke_deletes_them(serve_app: Callable[[App], str]) -> None:
    calls: list[tuple[str, dict]] = []
    stack = _stack(serve_app(_key_server(calls)))
    minted = provision(stack, TEAMS[:2])
    assert [t.secret() for t in minted] == ["sk-minted-prod_customer_key", "sk-minted-prod_ceo_key"]
    revoke(stack, minted)
    assert calls[-1] == ("delete", {"keys": ["sk-minted-prod_customer_key", "sk-minted-prod_ceo_key"]})


def test_a_refused_generate_names_the_team_and_the_error(serve_app: Callable[[App], str]) -> None:
    with pytest.raises(KeyProvisioningError, match=r"team customer: HTTP 400 .*No connected db"):
        provision(_stack(serve_app(_key_server([], fail=True))), TEAMS[:1])


def test_the_results_say_which_key_path_was_used(pytester: pytest.Pytester, serve_app: Callable[[App], str],
                                                 tmp_path: Path) -> None:
    calls: list[tuple[str, dict]] = []
    url = serve_app(_key_server(calls))
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"provider": "external", "gateway": {"url": url, "master_key": "sk-m"},
                                      "team_keys": "virtual", "teams": [{"team": "customer", "rpm": 5}]}))
    pytester.makepyfile(test_keys_used='''
import pytest
from harness.results import Outcome

@pytest.mark.criterion("QT-1")
def test_minted(stack, record):
    assert record(Outcome(id="QT-1", passed=stack.target.teams[0].secret() == "sk-minted-customer"))
''')
    result = pytester.runpytest("-p", "harness.pytest_plugin", "--target", str(target), "--run-dir",
                                str(tmp_path / "run"))
    result.assert_outcomes(passed=1)
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["versions"]["team_keys"] == "virtual keys via /key/generate"
    assert [kind for kind, _ in calls] == ["generate", "delete"]
