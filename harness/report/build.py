"""Builds `reports/<run>/index.html`: one self-contained page a person can read, print and sign.

Everything comes from the run folder (results.json, load.json, overhead.json, samples, logs), so
`harness report RUN` rebuilds it any time; values pass through the Masker before they are written.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2

from harness.criteria import CATALOGUE
from harness.report import _plots
from harness.report._mask import Masker
from harness.results import RunResults, plain

__all__ = ["GROUPS", "build_report"]

GROUPS = {"GW": "Gateway", "OBS": "Observability", "MOD": "Models", "ESC": "Routing and escalation",
          "RT": "Routing and escalation", "E2E": "Routing and escalation", "FB": "Fallbacks and faults",
          "QT": "Quotas and budgets", "BUD": "Quotas and budgets", "CA": "Cache", "EV": "Events and observer",
          "OBV": "Events and observer", "GIT": "Events and observer", "BK": "Backup and restore", "AL": "Alerts",
          "LD": "Load", "SEC": "Security", "COST": "Cost audit", "RTY": "Retry discipline"}
_PLANS = {"000": "VPS plan", "002": "Fly.io plan", "beyond": "beyond the plans"}
_ORDER = {ident: i for i, ident in enumerate(CATALOGUE)}
_EVIDENCE_CHARS = 4000


def _source(source: str) -> str:
    """'000 s1, 002 smoke' -> 'VPS plan s1; Fly.io plan smoke'."""
    parts = []
    for item in source.split(","):
        head, _, rest = item.strip().partition(" ")
        parts.append(f"{_PLANS.get(head, head)} {rest}".strip())
    return "; ".join(parts)


def _log_tail(run_dir: Path, lines: int = 15) -> str:
    for name in ("litellm.log", "load-runner.log"):
        path = run_dir / "logs" / name
        if path.exists():
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _records(run: RunResults, run_dir: Path, mask: Masker) -> list[dict[str, Any]]:
    rows = []
    tail = None
    for rec in sorted((r.model_dump() for r in run.records), key=lambda r: (_ORDER.get(r["id"], 999), r["case"])):
        evidence = mask.data(rec.get("evidence") or {})
        timeline = evidence.pop("timeline", None)
        if rec["status"] in ("FAIL", "ERROR") and tail is None:
            tail = mask.text(_log_tail(run_dir))
        rows.append({**rec, "group": GROUPS.get(rec["id"].split("-")[0], "Other"), "plan": _source(rec["source"]),
                     "measured_text": mask.text(f"{plain(rec.get('measured'))} {rec.get('unit') or ''}".strip()),
                     "threshold_text": mask.text(plain(rec.get("threshold"))), "detail": mask.text(rec["detail"]),
                     "evidence_json": json.dumps(evidence, indent=1, default=str)[:_EVIDENCE_CHARS] if evidence
                     else "", "trace_id": evidence.get("trace_id") if isinstance(evidence, dict) else None,
                     "log_tail": tail if rec["status"] in ("FAIL", "ERROR") else "", "timeline": timeline})
    return rows


def _load_sections(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "load.json"
    if not path.exists():
        return []
    sections = []
    for name, run in json.loads(path.read_text()).items():
        samples = _samples(run_dir / "load" / name / "samples.jsonl")
        start = min((s.get("intended") or s["sent"] for s in samples), default=0.0)
        per_second: dict[int, list[bool]] = defaultdict(list)
        for s in samples:
            per_second[int((s.get("intended") or s["sent"]) - start)].append(s["status"] == 200 and not s["error"])
        errors = [(t, 1 - sum(oks) / len(oks)) for t, oks in sorted(per_second.items())]
        ttft = [s["ttft_s"] * 1000 for s in samples if s.get("ttft_s") is not None]
        itl = [gap * 1000 for s in samples for gap in s.get("itl_s") or []]
        summary = run["summary"]
        sections.append({"name": name, "profile": run["profile"], "summary": summary, "workers": run["workers"],
                         "interrupted": run["interrupted"], "resources": run["resources"], "knee": run.get("knee"),
                         "over_time": _plots.load_over_time(name, summary, errors),
                         "streaming": _plots.stream_latencies(name, ttft, itl)})
    return sections


def _samples(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _chaos(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per chaos case: a case is one test (the same chain and variant recur across scenarios)."""
    seen, cases = set(), []
    for row in rows:
        if row["timeline"] and row["test"] not in seen:
            seen.add(row["test"])
            verdicts = [r for r in rows if r["test"] == row["test"]]
            cases.append({"case": row["case"], "statuses": Counter(r["status"] for r in verdicts),
                          "latency": row["evidence"].get("latency"),
                          "plot": _plots.chaos_timeline(row["case"], row["timeline"])})
    return cases


def _retries(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """RTY records: each client request's attempts as the providers saw them (with the wait before the next
    attempt on the same deployment), and the amplification of a total outage."""
    timelines, amplification = [], []
    for row in rows:
        evidence = row["evidence"] or {}
        if not row["id"].startswith("RTY-") or "requests" not in evidence:
            continue
        for index, request in enumerate(evidence["requests"]):
            attempts = [dict(a) for a in request["attempts"]]
            for a in attempts:
                later = [b["at_s"] for b in attempts if b["model"] == a["model"] and b["at_s"] > a["at_s"]]
                a["wait_s"] = round(min(later) - a["at_s"], 3) if later else None
            timelines.append({"id": row["id"], "status": row["status"], "case": row["case"], "request": index + 1,
                              "client_status": request["client_status"], "retry_after": request["retry_after"],
                              "num_retries": evidence.get("num_retries"), "attempts": attempts})
        if "amplification" in evidence:
            amplification.append({"case": row["case"], "status": row["status"], **evidence["amplification"]})
    return {"timelines": timelines, "amplification": amplification}


def _environment(run: RunResults) -> dict[str, Any]:
    try:
        harness = version("gateway-harness")
    except PackageNotFoundError:
        harness = "unknown (not installed)"
    return {"harness": harness, "provider": run.provider, "target": run.target, "versions": run.versions,
            "machine": run.machine, "standins": run.standins, "started": run.started, "finished": run.finished}


def build_report(run_dir: Path, secrets: Iterable[str] = ()) -> Path:
    """Writes `index.html` into the run folder from what the run left there; returns its path."""
    results = run_dir / "results.json"
    if not results.exists():
        raise FileNotFoundError(f"{run_dir}: no results.json; is this a run folder under reports/?")
    run = RunResults.read(results)
    mask = Masker(secrets)
    rows = _records(run, run_dir, mask)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(row)
    overhead = run_dir / "overhead.json"
    upgrade = run_dir / "upgrade.json"  # written by `harness upgrade-check` into a candidate's run
    attribution = run_dir / "attribution.json"  # harness load --profile attribution
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = plain
    counts = Counter(r["status"] for r in rows)
    html = env.get_template("report.html.j2").render(
        run=run, verdict="DIAGNOSTIC" if run.diagnostic and not run.records else run.verdict, groups=groups,
        counts=counts, rows=rows,
        skips=[r for r in rows if r["status"] == "SKIP"], load=_load_sections(run_dir), chaos=_chaos(rows),
        retries=_retries(rows),
        overhead=json.loads(overhead.read_text()) if overhead.exists() else None, environment=_environment(run),
        upgrade=mask.data(json.loads(upgrade.read_text())) if upgrade.exists() else None,
        attribution=json.loads(attribution.read_text()) if attribution.exists() else None,
        results_sha256=hashlib.sha256(results.read_bytes()).hexdigest())
    out = run_dir / "index.html"
    out.write_text(mask.text(html))
    return out
