"""The target's sections for what a run sends and where (load, alerting timing), and for the deployment's
own components the harness reads (its backup store, its event stream and truth remote)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from harness.load.payloads import TokenCount

__all__ = ["AlertingSettings", "BackupTarget", "ComposeObserver", "ComposeServices", "ComposeTarget", "EventsTarget",
           "LoadSettings"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoadSettings(_Model):
    """What `harness load` sends (LD-1..LD-6) and where it may send it."""

    allow_hosts: list[str] = Field(default_factory=list, description="non-loopback hosts that may receive load")
    keys: Literal["master", "teams"] = Field(
        "master", description="master: gateway capacity; teams: the team keys spread over users (their rpm limits "
                              "then shape the load: the Fly.io plan's four keys allow 390 requests/min together)")
    models: list[str] = Field(default_factory=lambda: ["gpt-4", "claude-3", "gemini-2"])
    prompts: list[str] = Field(default_factory=list, description="prompt mix; empty: the harness's default five")
    stream_ratio: float = Field(0.5, ge=0, le=1)
    max_tokens: int = Field(64, ge=1)
    think_time_s: tuple[float, float] = Field((0.5, 1.5), description="closed loop: pause between a user's calls")
    max_requests: int = Field(200_000, ge=1, description="hard bound per generator process")
    payload: Literal["prompts", "agents"] = Field(
        "prompts", description="prompts: the prompt mix to the models above; agents: the agents' traffic profile "
                               "(target field agents), each request shape by its weight, tools and schemas included")
    prompt_tokens: TokenCount | None = Field(None, description="synthetic prompts of this many tokens (e.g. "
                                                                "{dist: normal, mean: 2000, spread: 300})")
    output_tokens: TokenCount | None = Field(None, description="max_tokens per request drawn from this; a mock "
                                                                "the harness controls answers exactly that many")
    dataset: Path | None = Field(None, description="JSONL prompts to replay ({prompt} or {messages}, optional "
                                                   "output_tokens), relative to the target file")
    model_weights: list[float] = Field(default_factory=list, description="the models' mix, one weight per model")
    sweep_rates: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [5.0, 10.0, 20.0, 40.0, 80.0, 160.0], min_length=1,
        description="--profile sweep: its open-loop rates (requests/s), 20 s each; finer steps place the knee closer")
    attribution_rates: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0], min_length=1,
        description="--profile attribution: the sweep's open-loop rates (requests/s), 10 s each, every variant alike")
    attribution_workers: list[Annotated[int, Field(ge=1, le=16)]] = Field(
        default_factory=lambda: [1, 2, 4], min_length=1,
        description="--profile attribution: LiteLLM worker counts to compare")
    attribution_repeat: bool = Field(True, description="--profile attribution: run the reference twice (first and "
                                     "last), so the table says how much two runs of one config differ")

    @field_validator("model_weights")
    @classmethod
    def _weights(cls, value: list[float]) -> list[float]:
        if value and (min(value) < 0 or not sum(value)):
            raise ValueError("model_weights need to be >= 0 with some weight > 0")
        return value


class AlertingSettings(_Model):
    """The alerting stack's timing (AL-1..AL-5): the plans' windows by default, `time_scale` shrinks every
    duration for short runs (floor 1 s). Thresholds of the rules are criteria: AL-2.rate, AL-3.p95, AL-4.spend."""

    time_scale: float = Field(1.0, gt=0, le=1, description="every duration below times this (CI: 1/30)")
    scrape_interval_s: float = Field(15.0, gt=0, description="Prometheus scrape and rule evaluation interval")
    window_s: float = Field(300.0, gt=0, description="rate windows of the error-rate, latency and quota rules")
    failed_checks: int = Field(3, ge=1, description="health checks that must fail before 'down' (the plan: 3x)")
    group_wait_s: float = Field(30.0, ge=0, description="Alertmanager: wait before a new group's first notification")
    # well under the plan's 5-minute window: an alert that joins a group after its first flush waits one group
    # interval, so Alertmanager's default 5m lets such an alert arrive a whole window late (seen at 1/30 scale:
    # AL-2's notification 14 s after the errors against a 10 s limit, one group interval after the alert fired)
    group_interval_s: float = Field(60.0, gt=0, description="Alertmanager: wait between a group's notifications "
                                                            "(bounds how late a resolve, or a joining alert, is sent)")
    memory_for_s: float = Field(300.0, ge=0, description="RAM above the limit this long (the plan: 5 min)")
    memory_ratio: float = Field(0.90, gt=0, le=1)
    disk_ratio: float = Field(0.85, gt=0, le=1)

    def scaled(self, seconds: float) -> float:
        """A duration of the plans, shrunk by `time_scale` (never under 1 s: one scrape)."""
        return max(1.0, seconds * self.time_scale)


class BackupTarget(_Model):
    """Where a deployment's own backup job writes (the VPS plan's nightly job): the harness checks the
    newest set there and restores it into fresh servers of its own."""

    store: str = Field(description="file:///path, s3://bucket/prefix or gs://bucket/prefix, in the layout of "
                                   "stack/backup/backup.py (<stamp>/..., manifest.json)")
    endpoint: str | None = Field(None, description="an S3-compatible or Cloud Storage API endpoint; default: the "
                                                   "cloud's own, with the environment's credentials")
    max_age_h: float = Field(26.0, gt=0, description="the newest set must be younger (a daily job, with slack)")

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://", "gs://")):
            raise ValueError("use file:///path, s3://bucket/prefix or gs://bucket/prefix")
        return value


class EventsTarget(_Model):
    """The deployment's own event layer (VPS plan slices 7-9), reached as an operator reaches it: the stream
    its agents publish to, and the truth repository's remote its observer pushes to. The harness writes only
    events under `namespace` (a fresh aggregate per check and run), and only reads the remote."""

    redis_url: SecretStr = Field(description="the Redis holding the event stream")
    stream: str = "agent_events"
    group: str = Field("observers", description="the observer's consumer group on the stream")
    namespace: str = Field("harness-test", pattern=r"^[a-z][a-z0-9_\-]*$",
                           description="the aggregate kind of the harness's test events (`<namespace>:<run>-<check>`)")
    truth_remote: str = Field(description="the truth repository's git remote (URL or path) the harness may fetch")
    branch: str = "main"
    observer_identity: str = Field(description="the e-mail the observer commits as (GIT-1)")
    event_id_trailer: str = Field("Event-Id", description="the commit trailer naming the event a commit applies")
    audit_log: Path | None = Field(None, description="the observer's JSONL audit log, readable here (OBV-2)")
    change_requests: Path | None = Field(None, description="the folder the observer writes change requests to")
    dead_letter_stream: str | None = Field(None, description="where the pipeline puts malformed events (EV-2); "
                                                            "without one they must be acknowledged, not applied")
    settle_s: float = Field(15.0, gt=0, description="how long the observer may take to apply and push one event")


class ComposeServices(_Model):
    """Which service of the user's compose file plays each role of the plan (names as in the file)."""

    gateway: str = Field(description="the LiteLLM proxy; its config is the target's litellm_config")
    gateway_port: int = 4000
    redis: str | None = Field(None, description="the Redis the gateway caches in (reached through a fault proxy)")
    postgres: str | None = None
    router: str | None = Field(None, description="the routing webhook (n8n); it reaches the gateway by LITELLM_URL")
    router_port: int = 5678
    router_path: str = "/webhook/litellm-route"
    bot: str | None = Field(None, description="the chat bot; it reaches the router by ROUTER_URL and the Bot API by "
                                              "TELEGRAM_API_URL")
    observer: str | None = Field(None, description="the event observer (see compose.observer)")
    langfuse: str | None = Field(None, description="your Langfuse, used instead of the harness's stand-in (its "
                                                   "project keys in compose.langfuse_public_key / _secret_key)")
    langfuse_port: int = 3000


class ComposeObserver(_Model):
    """The user's observer as its compose service sees its state: the harness mounts a fresh folder on
    `state_dir` holding the truth remote (bare), a work tree cloned from it, and room for the audit log and
    change requests, so that it can read every effect the observer has and remove them after the run."""

    state_dir: str = Field(description="absolute path inside the observer's container")
    remote: str = Field("remote.git", description="the truth remote, relative to state_dir (the work tree's origin)")
    work_tree: str = Field("truth", description="the work tree the observer commits in, relative to state_dir")
    audit_log: str | None = Field("audit.jsonl", description="relative to state_dir; null: the observer keeps none")
    change_requests: str | None = Field("changes", description="relative to state_dir; null: none")
    stream: str = "agent_events"
    group: str = "observers"
    identity: str = Field(description="the e-mail the observer commits as (GIT-1)")
    event_id_trailer: str = "Event-Id"
    settle_s: float = Field(15.0, gt=0)


class ComposeTarget(_Model):
    """provider: compose: the user's compose files, started with the harness's mocks and fault proxies wired in."""

    files: list[Path] = Field(min_length=1, description="the compose files, as `docker compose -f` takes them")
    project_dir: Path | None = Field(None, description="default: the first file's folder")
    services: ComposeServices
    observer: ComposeObserver | None = Field(None, description="needed when services.observer is set")
    langfuse_public_key: str | None = Field(None, description="with services.langfuse: the project's public key")
    langfuse_secret_key: SecretStr | None = Field(None, description="with services.langfuse: its secret key")
