"""The Target: what is being verified, loaded from a YAML file with `${ENV}` substitution.

Secrets are `SecretStr`, so a Target can be printed or logged without leaking them; every
problem in a file becomes one `TargetError` line that names the field and the fix.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from harness.criteria import criterion
from harness.plan import Plan, PlanTeam, ProxyBudget, ServingBudget
from harness.sections import AlertingSettings, BackupTarget, ComposeTarget, EventsTarget, LoadSettings

__all__ = ["AlertingSettings", "BackupTarget", "Endpoint", "EventsTarget", "LangfuseTarget", "LoadSettings",
           "ModelSpec", "Plan", "PlanTeam", "ProxyBudget", "ServingBudget", "Target", "TargetError", "Team",
           "load_target", "read_budget", "read_litellm_config", "read_teams", "read_yaml"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
REPO = Path(__file__).resolve().parent.parent
REFERENCE_CONFIG = REPO / "stack" / "litellm" / "config.yaml"


class TargetError(ValueError):
    """A target file problem, as one line: where, what, and how to fix it."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Model):
    name: str
    mode: Literal["chat", "embedding"] = "chat"
    deployment: str | None = Field(None, description="the provider model behind the alias, e.g. openai/gpt-4-turbo")


class Endpoint(_Model):
    url: str
    master_key: SecretStr | None = None
    health_url: str | None = Field(None, description="separate health port, as in the plan's :4001")


class Team(_Model):
    """A team key and its quotas, as in the Fly.io plan (rpm, tpm, USD per day)."""

    team: str
    alias: str = ""
    key: SecretStr | None = Field(None, description="absent when the harness mints it (team_keys: virtual)")
    rpm: int | None = None
    tpm: int | None = None
    daily_usd: float | None = None
    models: list[str] = Field(default_factory=list, description="models the key may call; empty = all")
    budget_test: bool = Field(False, description="a key the operator set up for the daily-budget check (a small "
                                                 "daily_usd): QT-3 may spend it to its limit on real providers")

    def secret(self) -> str:
        if self.key is None:
            raise KeyError(f"team {self.team} has no key; give it one, or set team_keys: virtual to mint one")
        return self.key.get_secret_value()

    def entry(self) -> dict[str, Any]:
        """This team as a keys-file entry, with the key in clear (for files written with mode 0600)."""
        return {**self.model_dump(exclude={"key"}), "key": self.secret()}


class LangfuseTarget(_Model):
    url: str
    public_key: str
    secret_key: SecretStr
    standin: bool = Field(False, description="true when this is the harness's stand-in, not a real Langfuse")


class Target(_Model):
    name: str = "embedded"
    provider: Literal["local", "containers", "compose", "external"] = "local"
    images: dict[str, str] = Field(default_factory=dict, description="containers: image per service (services, "
                                   "litellm, redis, postgres); defaults: the official names, `harness images build`")
    litellm_config: Path | None = Field(None, description="LiteLLM config.yaml: models and fallbacks come from it")
    gateway: Endpoint | None = None
    langfuse: LangfuseTarget | None = None
    mock_url: str | None = Field(None, description="the mock providers' control API, when the stack uses them")
    toxiproxy_url: str | None = Field(None, description="Toxiproxy API whose proxies sit in front of the upstreams")
    redis_url: SecretStr | None = None
    postgres_url: SecretStr | None = None
    models: list[ModelSpec] = Field(default_factory=list)
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    semantic_cache: bool = Field(False, description="the gateway has a semantic cache (else read from its config)")
    cache_isolation: bool = Field(False, description="the gateway keeps each team's cache entries apart (CA-4)")
    teams: list[Team] = Field(default_factory=list)
    budget: ProxyBudget | None = Field(None, description="proxy-wide monthly budget (BUD-1); local: from teams.yaml")
    alerts_url: str | None = Field(None, description="notification sink the stack's alerts post to (BUD-1, AL-*)")
    router_url: str | None = Field(None, description="the routing webhook (VPS slice 4): the reference router or "
                                                     "an n8n webhook, e.g. https://n8n.example/webhook/litellm-route")
    router_timeout_s: float = Field(30.0, gt=0, description="how long the router waits for the gateway (RT-4)")
    router: Literal["reference", "n8n"] = Field("reference", description="local: the routing webhook the stack runs: "
                                                "the reference router or the real n8n (make n8n) with n8n_workflow")
    n8n_workflow: Path = Field(REPO / "stack/router/litellm-router.json", description="router: n8n: the workflow "
                               "export imported and published (yours, or the shipped one)")
    telegram_url: str | None = Field(None, description="Bot API stand-in the chat bot polls (E2E-1); its control "
                                                       "API sends a user's message and reads the bot's replies")
    compose: ComposeTarget | None = Field(None, description="provider: compose: the user's compose files and which "
                                                           "service plays each role")
    backup: BackupTarget | None = Field(None, description="an external deployment's backup store (BK-1, BK-2)")
    events: EventsTarget | None = Field(None, description="the deployment's event stream and truth remote "
                                                         "(EV-*, OBV-*, GIT-*)")
    agents: Path | None = Field(None, description="the agents' traffic profile (AG-5, load.payload: agents); "
                                                  "default stack/agents/fleet.yaml, the plan's nine agents")
    logs_dir: Path | None = Field(None, description="a folder with the deployment's service logs (`<service>.log`), "
                                                    "searched for secrets (SEC-2) and error lines (E2E-1)")
    load: LoadSettings = Field(default_factory=lambda: LoadSettings())
    alerting: AlertingSettings = Field(default_factory=lambda: AlertingSettings())
    team_keys: Literal["file", "virtual"] = Field(
        "file", description="file: the keys are given (custom_auth keys file); virtual: minted via /key/generate")
    plan: Plan = Field(default_factory=lambda: Plan())
    max_spend_usd: float | None = Field(None, ge=0, description="what the harness may spend on LLM calls in one run, "
                                        "at the plan's list prices; default: $1 where the providers are real (not "
                                        "the harness's mock), no cap against the mock")
    quota_scale: float = Field(1.0, gt=0, le=1, description="embedded stack: team limits scaled for short runs")
    num_retries: int | None = Field(None, ge=0, le=10, description="local or containers: the gateway runs its config "
                                    "with router_settings.num_retries set to this (the retry checks grade it)")
    thresholds: dict[str, float] = Field(default_factory=dict)
    standins: list[str] = Field(default_factory=list, description="components that are stand-ins, for the report")

    def threshold(self, ident: str) -> float:
        """The threshold for a criterion: the target's override, else the catalogue default."""
        if ident in self.thresholds:
            return self.thresholds[ident]
        crit = criterion(ident)
        if "." in ident:
            name = ident.split(".", 1)[1]
            extra = dict(crit.extra)
            if name not in extra:
                raise KeyError(f"{crit.id} has no threshold named {name!r}; named: {list(extra)}")
            return extra[name]
        value = crit.threshold
        if value is None:
            raise KeyError(f"{ident} has no numeric threshold")
        return value

    def plan_limit(self, team: str, limit: Literal["rpm", "tpm", "daily_usd"]) -> float | None:
        """The plan's limit for a team key, at this target's `quota_scale` (as the embedded stack scales its
        keys file); None where the plan sets none for that team."""
        planned = self.plan.teams.get(team)
        value = getattr(planned, limit) if planned else None
        if value is None:
            return None
        return round(value * self.quota_scale, 4) if limit == "daily_usd" else max(1, round(value * self.quota_scale))

    def meets(self, ident: str, measured: float, limit: float | None = None) -> bool:
        """Whether `measured` meets the criterion's threshold (this target's, or `limit` where a check derives
        one), in the catalogue's direction: a check never writes its own comparison."""
        return criterion(ident).meets(measured, self.threshold(ident) if limit is None else limit)

    def chat_models(self) -> list[ModelSpec]:
        return [m for m in self.models if m.mode == "chat"]

    def with_litellm_config(self, path: Path) -> Target:
        """Models and fallbacks from a LiteLLM config. Models the target lists merge with the config's: a
        name the config has takes its deployment and mode from there unless the target says otherwise, and a
        name it lacks stays (GW-2 then shows it missing from the gateway's catalogue)."""
        models, fallbacks = read_litellm_config(path)
        merged = {m.name: m for m in models}
        for mine in self.models:
            known = merged.get(mine.name)
            merged[mine.name] = known.model_copy(update=mine.model_dump(exclude_unset=True)) if known else mine
        return self.model_copy(update={"litellm_config": path, "models": list(merged.values()),
                                       "fallbacks": self.fallbacks or fallbacks})

    def deployment(self, alias: str) -> str:
        """The provider model behind a model name (`openai/gpt-4-turbo` for `gpt-4`); the name itself when
        the target does not say."""
        return next((m.deployment for m in self.models if m.name == alias and m.deployment), alias)

    def upstream_model(self, alias: str) -> str:
        """The model name the provider sees for an alias (the deployment without its provider prefix)."""
        return self.deployment(alias).split("/", 1)[-1]

    def aliases(self) -> dict[str, str]:
        """Deployment ids (with and without provider prefix) to the model names clients use."""
        out = {}
        for model in self.models:
            if model.deployment:
                out[model.deployment] = model.name
                out[model.deployment.split("/", 1)[-1]] = model.name
        return out

    def team(self, name: str) -> Team:
        for team in self.teams:
            if team.team == name:
                return team
        raise KeyError(f"no team {name!r} in the target; teams: {[t.team for t in self.teams]}")

    @classmethod
    def embedded(cls, config: Path = REFERENCE_CONFIG) -> Target:
        # a 100 rpm key need not send 100 requests in CI: the checks read whatever limit is configured
        # the plans' 5-minute alert windows become 10 s, so the alerting suite runs in about a minute
        # ... and the router gives up on the gateway after 5 s, so its chaos cases wait 5 s, not 30
        return cls(name="embedded", provider="local", quota_scale=0.05, cache_isolation=True,
                   alerting=AlertingSettings(time_scale=1 / 30), router_timeout_s=5.0).with_litellm_config(config)


def read_litellm_config(path: Path) -> tuple[list[ModelSpec], dict[str, list[str]]]:
    """Models (with their mode) and fallback chains from a LiteLLM proxy config.yaml."""
    data = read_yaml(path)
    models: list[ModelSpec] = []
    for index, entry in enumerate(data.get("model_list") or []):
        if not isinstance(entry, dict) or "model_name" not in entry:
            raise TargetError(f"{path}: model_list[{index}]: model_name missing; every entry needs one")
        info = entry.get("model_info") or {}
        mode = "embedding" if info.get("mode") == "embedding" else "chat"
        if any(m.name == entry["model_name"] for m in models):
            continue
        deployment = (entry.get("litellm_params") or {}).get("model")
        models.append(ModelSpec(name=entry["model_name"], mode=mode, deployment=deployment))
    fallbacks: dict[str, list[str]] = {}
    for section in ("router_settings", "litellm_settings"):
        for rule in (data.get(section) or {}).get("fallbacks") or []:
            if isinstance(rule, dict):
                fallbacks.update({str(k): list(v) for k, v in rule.items()})
    return models, fallbacks


def read_teams(path: Path, env: dict[str, str] | None = None) -> list[Team]:
    """Team keys from a keys file (`keys:` list as in stack/litellm/teams.yaml), `${ENV}` resolved."""
    data = _substitute(read_yaml(path), "", path, {**os.environ, **(env or {})})
    try:
        return [Team.model_validate(entry) for entry in data.get("keys") or []]
    except ValidationError as exc:
        raise _explain(exc, path) from None


def read_budget(path: Path) -> ProxyBudget | None:
    """The keys file's `proxy_budget:` (monthly_usd, warning_usd), or None when it sets none."""
    data = read_yaml(path).get("proxy_budget")
    if data is None:
        return None
    try:
        return ProxyBudget.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, path) from None


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise TargetError(f"{path}: cannot read ({exc.strerror}); check the path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise TargetError(f"{path}:{where}: {problem}; fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TargetError(f"{path}: top level must be a mapping of keys, not {type(data).__name__}")
    return data


def _substitute(node: Any, where: str, path: Path, env: Mapping[str, str] | None = None) -> Any:
    env = os.environ if env is None else env
    if isinstance(node, dict):
        return {k: _substitute(v, f"{where}.{k}" if where else str(k), path, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, f"{where}[{i}]", path, env) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name, default)
        if value is None:
            raise TargetError(f"{path}: {where}: environment variable {name} is not set; "
                              f"export {name}=... or write ${{{name}:-default}}")
        return value

    return _VAR.sub(replace, node)


def _fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc[:-1]:
        field = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) \
            else None
        annotation = getattr(field, "annotation", None)
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _explain(error: ValidationError, path: Path) -> TargetError:
    first = error.errors()[0]
    loc = tuple(first["loc"])
    where = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        known = _fields(Target, loc)
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{guess[0]}'?" if guess else f"known keys here: {', '.join(known)}"
        return TargetError(f"{path}: {where}: unknown key; {hint}")
    if first["type"] == "missing":
        return TargetError(f"{path}: {where}: required but missing; add it to the file")
    return TargetError(f"{path}: {where}: {first['msg']}; got {first.get('input')!r}")


def _compose_paths(target: Target, path: Path) -> Target:
    """provider: compose needs the compose section and the gateway's config; its paths are the file's."""
    spec = target.compose
    if spec is None:
        raise TargetError(f"{path}: compose: required for provider 'compose'; add compose.files and compose.services")
    if target.litellm_config is None:
        raise TargetError(f"{path}: litellm_config: required for provider 'compose'; name the config file the "
                          "gateway's service mounts (its models and fallbacks are compared with the plan)")
    if spec.services.observer and spec.observer is None:
        raise TargetError(f"{path}: compose.observer: required when compose.services.observer is set; add state_dir "
                          "and identity")
    if spec.services.langfuse and (spec.langfuse_public_key is None or spec.langfuse_secret_key is None):
        raise TargetError(f"{path}: compose.langfuse_public_key: required with compose.services.langfuse; add the "
                          "project's public and secret keys (the gateway is given them, the checks read traces)")
    files = [f if f.is_absolute() else (path.parent / f).resolve() for f in spec.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise TargetError(f"{path}: compose.files: {missing[0]} does not exist; fix the path (relative to the target)")
    project = spec.project_dir or files[0].parent
    project = project if project.is_absolute() else (path.parent / project).resolve()
    return target.model_copy(update={"compose": spec.model_copy(update={"files": files, "project_dir": project})})


def _dataset(path: Path, target: Target) -> Path:
    from harness.load.payloads import read_dataset

    dataset = target.load.dataset if target.load.dataset and target.load.dataset.is_absolute() else \
        path.parent / (target.load.dataset or "")
    try:
        read_dataset(dataset)
    except (OSError, ValueError) as exc:
        raise TargetError(f"load.dataset: {exc}") from None
    return dataset


def load_target(path: Path) -> Target:
    """Reads and validates a target file; relative paths in it are relative to the file."""
    raw = _substitute(read_yaml(path), "", path)
    try:
        target = Target.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, path) from None
    for ident in target.thresholds:
        try:
            criterion(ident)
        except KeyError as exc:
            raise TargetError(f"{path}: thresholds.{ident}: {exc.args[0]}") from None
    if target.provider == "external" and target.gateway is None:
        raise TargetError(f"{path}: gateway: required for provider 'external'; add gateway.url and master_key")
    if target.provider == "compose":
        target = _compose_paths(target, path)
    if target.num_retries is not None and target.provider not in ("local", "containers"):
        raise TargetError(f"{path}: num_retries: only a stack the harness starts from a config takes it (provider "
                          "local or containers); set num_retries in your gateway's config instead")
    if target.router == "n8n" and target.provider != "local":
        raise TargetError(f"{path}: router: n8n is started by the embedded stack only (provider local); a running "
                          "n8n is verified through router_url (its webhook), a compose one as compose.services.router")
    for name in ("logs_dir", "agents", "n8n_workflow"):
        value = getattr(target, name)
        if value is not None and not value.is_absolute():
            target = target.model_copy(update={name: path.parent / value})
    if target.load.dataset is not None:
        target = target.model_copy(update={"load": target.load.model_copy(update={"dataset": _dataset(path, target)})})
    if target.agents is not None:
        from harness.agents import load_fleet

        try:
            load_fleet(target.agents)
        except ValueError as exc:
            raise TargetError(f"agents: {exc}") from None
    if target.litellm_config is not None:
        config = target.litellm_config if target.litellm_config.is_absolute() else path.parent / target.litellm_config
        target = target.with_litellm_config(config)
    return target
