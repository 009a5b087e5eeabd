"""Run by the gateway's Python (LiteLLM's callback uses the Langfuse 2.x SDK): the 2.x SDK, unchanged, against
the stand-in whose URL and keys are in argv. It writes through ingestion and reads every v1 route back
through its own Fern-generated models (which raise on a missing required field or a wrong type), and
checks request bodies: each event in the JSON file `argv[4]` is parsed with the SDK's `IngestionEvent`
model, printing which it accepts. Prints one JSON object; exits 1 with the SDK's error on a failure.

Standalone on purpose: it imports only the 2.x `langfuse` package, which the harness's venv does not have.
"""

from __future__ import annotations

import json
import sys
import traceback
import uuid
from pathlib import Path


def main() -> int:
    host, public_key, secret_key = sys.argv[1:4]
    from langfuse import Langfuse
    from langfuse.api.core.pydantic_utilities import pydantic_v1
    from langfuse.api.resources.ingestion.types.ingestion_event import IngestionEvent

    out: dict = {"sdk": __import__("langfuse").version.__version__}
    if len(sys.argv) > 4:
        verdicts = []
        for event in json.loads(Path(sys.argv[4]).read_text()):
            try:
                pydantic_v1.parse_obj_as(IngestionEvent, event)
                verdicts.append(True)
            except Exception:  # the SDK's model refuses it
                verdicts.append(False)
        out["accepted"] = verdicts
        print(json.dumps(out))
        return 0
    client = Langfuse(public_key=public_key, secret_key=secret_key, host=host, flush_at=50, max_retries=0)
    name = f"probe-{uuid.uuid4().hex[:8]}"
    trace = client.trace(name=name, user_id="u-probe", session_id="s-probe", tags=["probe"], input="hi")
    generation = trace.generation(name="llm", model="gpt-4o", input=[{"role": "user", "content": "hi"}],
                                  output="hello", usage={"input": 12, "output": 30, "unit": "TOKENS"})
    generation.end()
    trace.span(name="tool", input={"q": 1}, output={"a": 2}).end()
    trace.event(name="note", level="WARNING")
    client.flush()
    api = client.client
    out["health"] = api.health.health().status
    out["projects"] = [p.id for p in api.projects.get().data]
    full = client.fetch_trace(trace.id).data
    out["trace"] = {"id": full.id, "name": full.name, "observations": len(full.observations),
                    "latency": full.latency, "html_path": full.html_path}
    listed = client.fetch_traces(name=name).data
    out["traces_listed"] = [t.id for t in listed]
    observations = client.fetch_observations(trace_id=trace.id).data
    out["observations"] = sorted(o.type for o in observations)
    one = client.fetch_observation(generation.id).data
    out["generation"] = {"model": one.model, "input_tokens": one.usage.input, "output_tokens": one.usage.output}
    created = api.models.create(request={"modelName": f"m-{name}", "matchPattern": f"(?i)^{name}$", "unit": "TOKENS",
                                         "inputPrice": 0.000001, "outputPrice": 0.000002})
    out["models"] = [m.id for m in api.models.list().data if m.id == created.id]
    client.shutdown()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # the SDK's own error is the finding: print it whole
        traceback.print_exc()
        sys.exit(1)
