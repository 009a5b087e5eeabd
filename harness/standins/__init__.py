"""Stand-ins: the harness's own servers for components that cannot run here, each speaking the real one's
public API (named as such in every report): LLM providers (`mockllm`), Langfuse, Toxiproxy, Google Cloud
Storage (`gcs`), the Telegram Bot API, and the notification sink (`alerts`) alerts post to.

Each runs as `python -m harness.standins.<name>`; clients of real services (Langfuse, Toxiproxy) live in
`harness.langfuse` and `harness.faults`, since they talk to the real ones too.
"""
