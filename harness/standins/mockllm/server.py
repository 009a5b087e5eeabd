"""The mock provider server: OpenAI, Anthropic and Gemini APIs plus the `/_control` API."""

from __future__ import annotations

from harness._http import App, Request, Response, json_response
from harness.standins.mockllm import _anthropic, _gemini, _openai, _responses
from harness.standins.mockllm.behaviour import Behaviour
from harness.standins.mockllm.state import MockState

__all__ = ["create_app"]


def bad_request(request: Request, message: str) -> Response:
    """A body the vendor cannot read: that vendor's 400 (the route names the vendor)."""
    if request.path.startswith("/v1/messages"):
        return _anthropic.error(400, message)
    if request.path.startswith("/v1beta/"):
        return _gemini.error(400, message)
    return _openai.error(400, message)


def create_app(state: MockState | None = None) -> App:
    state = state or MockState()
    app = App(bad_request=bad_request)
    _openai.register(app, state)
    _responses.register(app, state)
    _anthropic.register(app, state)
    _gemini.register(app, state)

    @app.route("GET", "/_control/health")
    async def health(request: Request) -> Response:
        return json_response({"status": "ok", "requests": len(state.log)})

    @app.route("GET", "/_control/behaviour")
    async def behaviours(request: Request) -> Response:
        return json_response(state.behaviours.dump())

    @app.route("PUT", "/_control/behaviour/{key}")
    async def put_behaviour(request: Request) -> Response:
        try:
            behaviour = Behaviour.model_validate(request.json() or {})
        except ValueError as exc:
            return json_response({"error": "invalid behaviour", "message": str(exc)}, 422)
        state.behaviours.set(request.params["key"], behaviour)
        state.forced_reset()
        return json_response(behaviour.model_dump(exclude_defaults=True))

    @app.route("DELETE", "/_control/behaviour/{key}")
    async def delete_behaviour(request: Request) -> Response:
        state.behaviours.reset(request.params["key"])
        state.forced_reset()
        return json_response({})

    @app.route("DELETE", "/_control/behaviour")
    async def reset_behaviours(request: Request) -> Response:
        state.behaviours.reset()
        state.forced_reset()
        return json_response({})

    @app.route("POST", "/_control/pause")
    async def pause(request: Request) -> Response:
        seconds = float((request.json() or {})["seconds"])
        if not 0 <= seconds <= 600:
            return json_response({"error": "seconds must be between 0 and 600"}, 422)
        state.pause(seconds)
        return json_response({"paused_s": seconds})

    @app.route("GET", "/_control/requests")
    async def requests(request: Request) -> Response:
        query = request.query
        entries = state.requests(int(query.get("since", 0)), query.get("model"))
        last = state.log[-1]["seq"] if state.log else 0
        return json_response({"last_seq": last, "data": entries})

    @app.route("DELETE", "/_control/requests")
    async def clear_requests(request: Request) -> Response:
        state.log.clear()
        return json_response({})

    return app
