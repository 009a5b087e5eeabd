"""Every JSON answer of the Cloud Storage stand-in validates against Google's discovery document of the
JSON API (tests/specs/pins.toml: unknown fields refused, types checked), and every route it serves is a
method of that document; its errors are Google's JSON error. The negative control is a drifted answer."""

from __future__ import annotations

import re

import httpx
import pytest

from harness.standins.gcs.server import create_app
from tests.specs.documents import spec


def _checked(schema: str, response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    spec("gcs").check(schema, response.json())
    return response.json()


def test_every_json_answer_is_a_documented_resource(endpoint: str) -> None:
    api = f"{endpoint}/storage/v1"
    _checked("Bucket", httpx.post(f"{api}/b", params={"project": "p"}, json={"name": "spec-b"}))
    _checked("Bucket", httpx.get(f"{api}/b/spec-b"))
    upload = httpx.post(f"{endpoint}/upload/storage/v1/b/spec-b/o", params={"uploadType": "media",
                                                                          "name": "dir/a.txt"}, content=b"hello")
    _checked("Object", upload)
    _checked("Object", httpx.get(f"{api}/b/spec-b/o/dir%2Fa.txt"))
    listed = _checked("Objects", httpx.get(f"{api}/b/spec-b/o", params={"prefix": "dir/", "maxResults": 1}))
    assert [o["name"] for o in listed["items"]] == ["dir/a.txt"]
    assert httpx.get(f"{api}/b/spec-b/o/dir%2Fa.txt", params={"alt": "media"}).content == b"hello"
    missing = httpx.get(f"{api}/b/spec-b/o/none")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert isinstance(error["code"], int) and isinstance(error["message"], str) and error["errors"]


def test_every_route_is_a_method_of_the_document() -> None:
    document = spec("gcs").document
    methods = [m for resource in document["resources"].values() for m in resource.get("methods", {}).values()]
    published = {(m["httpMethod"], _shape("/" + document["servicePath"] + m["path"])) for m in methods}
    published |= {(m["httpMethod"], _shape(m["mediaUpload"]["protocols"]["simple"]["path"]))
                  for m in methods if "mediaUpload" in m}
    for route in create_app().router.routes():
        if route.method == "HEAD":  # aiohttp adds one to each GET
            continue
        info = route.resource.get_info() if route.resource else {}
        path = _shape(info.get("path") or info.get("formatter", ""))
        # `alt=media` is objects.get under /download too; a resumable upload's chunks PUT to the upload URL
        path = path.replace("/download/storage/v1/", "/storage/v1/")
        method = "POST" if route.method == "PUT" and path.startswith("/upload/") else route.method
        assert (method, path) in published, f"{route.method} {path} is not in the published API"


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_a_drifted_answer_fails() -> None:
    good = {"kind": "storage#object", "name": "a", "bucket": "b", "size": "5", "generation": "1"}
    spec("gcs").check("Object", good)
    with pytest.raises(AssertionError, match="sizeBytes"):
        spec("gcs").check("Object", {**good, "sizeBytes": 5})
