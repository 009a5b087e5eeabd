"""The Cloud Storage stand-in: the JSON API paths `google-cloud-storage` uses for a backup store.

Buckets (insert, get), objects (multipart and resumable uploads, list with prefix and pages, get,
`alt=media` download with `x-goog-hash`, delete), and GCS's error body. An upload whose client-side
CRC32C or MD5 disagrees with the bytes is refused with 400, as GCS does. Objects live in memory.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import quote

import google_crc32c
from aiohttp import web

__all__ = ["FAULTS", "create_app"]

# Broken variants for the backup checks' negative controls (--fault)
FAULTS = {"truncate-uploads": "keeps only the first half of every object, and answers as if all was stored"}
_PAGE = 1000  # GCS's default maxResults for objects.list


@dataclass
class _Object:
    bucket: str
    name: str
    data: bytes
    content_type: str
    generation: int
    created: float

    def resource(self, base: str) -> dict[str, Any]:
        millis = int(self.created * 1000) % 1000
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.created)) + f".{millis:03d}Z"
        path = f"b/{self.bucket}/o/{quote(self.name, safe='')}"
        return {"kind": "storage#object", "id": f"{self.bucket}/{self.name}/{self.generation}",
                "selfLink": f"{base}/storage/v1/{path}", "mediaLink": f"{base}/download/storage/v1/{path}"
                f"?generation={self.generation}&alt=media", "name": self.name, "bucket": self.bucket,
                "generation": str(self.generation), "metageneration": "1", "contentType": self.content_type,
                "storageClass": "STANDARD", "size": str(len(self.data)), "md5Hash": _md5(self.data),
                "crc32c": _crc32c(self.data), "etag": f"CL{self.generation}EAE=", "timeCreated": stamp,
                "updated": stamp, "timeStorageClassUpdated": stamp}


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def _error(status: int, message: str, reason: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message,
                                        "errors": [{"message": message, "domain": "global", "reason": reason}]}},
                             status=status)


class _Store:
    def __init__(self, faults: frozenset[str]) -> None:
        self.faults = faults
        self.buckets: dict[str, dict[str, Any]] = {}
        self.objects: dict[tuple[str, str], _Object] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.generations = itertools.count(int(time.time() * 1_000_000))

    def put(self, bucket: str, metadata: dict[str, Any], data: bytes, content_type: str) -> _Object | web.Response:
        if bucket not in self.buckets:
            return _error(404, "The specified bucket does not exist.", "notFound")
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            return _error(400, "Required", "required")
        for field, digest in (("crc32c", _crc32c), ("md5Hash", _md5)):
            claimed = metadata.get(field)
            if claimed and claimed != digest(data):
                label = "CRC32C" if field == "crc32c" else "MD5"
                return _error(400, f"Provided {label} \"{claimed}\" doesn't match calculated {label} "
                                   f"\"{digest(data)}\".", "invalid")
        if "truncate-uploads" in self.faults:
            data = data[: len(data) // 2]
        stored = _Object(bucket, name, data, str(metadata.get("contentType") or content_type or
                                                 "application/octet-stream"), next(self.generations), time.time())
        self.objects[(bucket, name)] = stored
        return stored


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _stored(stored: _Object | web.Response, request: web.Request) -> web.Response:
    """The object resource of an upload, or the error `put` refused it with."""
    return stored if isinstance(stored, web.Response) else web.json_response(stored.resource(_base(request)))


def _multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], bytes, str]:
    """The metadata part and the media part of a `multipart/related` upload."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = list(message.iter_parts())
    if len(parts) != 2:
        raise ValueError(f"a multipart upload has 2 parts (metadata, media), not {len(parts)}")
    metadata = json.loads(parts[0].get_payload(decode=True) or b"{}")
    media = parts[1].get_payload(decode=True) or b""
    return metadata, media, parts[1].get_content_type()


def create_app(faults: frozenset[str] = frozenset()) -> web.Application:
    store = _Store(faults)
    app = web.Application(client_max_size=1024 * 1024 * 1024)

    async def insert_bucket(request: web.Request) -> web.Response:
        body = await request.json()
        name = body.get("name") if isinstance(body, dict) else None
        if not name:
            return _error(400, "Required", "required")
        if name in store.buckets:
            return _error(409, "Your previous request to create the named bucket succeeded and you already own it.",
                          "conflict")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        store.buckets[name] = {"kind": "storage#bucket", "id": name, "name": name, "location": "US",
                               "storageClass": "STANDARD", "timeCreated": stamp, "updated": stamp,
                               "projectNumber": "0", "metageneration": "1", "etag": "CAE="}
        return web.json_response(store.buckets[name])

    async def get_bucket(request: web.Request) -> web.Response:
        bucket = store.buckets.get(request.match_info["bucket"])
        return web.json_response(bucket) if bucket else _error(404, "The specified bucket does not exist.",
                                                               "notFound")

    async def list_objects(request: web.Request) -> web.Response:
        bucket = request.match_info["bucket"]
        if bucket not in store.buckets:
            return _error(404, "The specified bucket does not exist.", "notFound")
        prefix = request.query.get("prefix", "")
        size = min(int(request.query.get("maxResults", _PAGE)), _PAGE)
        after = request.query.get("pageToken", "")
        names = sorted(n for b, n in store.objects if b == bucket and n.startswith(prefix) and n > after)
        page = names[:size]
        body: dict[str, Any] = {"kind": "storage#objects"}
        if page:  # GCS leaves out "items" when nothing matched
            body["items"] = [store.objects[(bucket, n)].resource(_base(request)) for n in page]
        if len(names) > size:
            body["nextPageToken"] = page[-1]
        return web.json_response(body)

    def _found(request: web.Request) -> _Object | web.Response:
        bucket, name = request.match_info["bucket"], request.match_info["name"]
        found = store.objects.get((bucket, name))
        return found if found else _error(404, f"No such object: {bucket}/{name}", "notFound")

    async def get_object(request: web.Request) -> web.StreamResponse:
        found = _found(request)
        if isinstance(found, web.Response):
            return found
        if request.query.get("alt") != "media":
            return web.json_response(found.resource(_base(request)))
        headers = {"x-goog-hash": f"crc32c={_crc32c(found.data)},md5={_md5(found.data)}",
                   "x-goog-generation": str(found.generation), "x-goog-stored-content-length": str(len(found.data)),
                   "Content-Type": found.content_type}
        data, status = found.data, 200
        if "Range" in request.headers:  # the client resumes a broken download with a range
            spec = request.headers["Range"].removeprefix("bytes=")
            start_s, _, end_s = spec.partition("-")
            start, end = int(start_s or 0), int(end_s) if end_s else len(found.data) - 1
            data, status = found.data[start:end + 1], 206
            headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{len(found.data)}"
        return web.Response(body=data, status=status, headers=headers)

    async def delete_object(request: web.Request) -> web.Response:
        found = _found(request)
        if isinstance(found, web.Response):
            return found
        del store.objects[(found.bucket, found.name)]
        return web.Response(status=204)

    async def upload(request: web.Request) -> web.Response:
        bucket, kind = request.match_info["bucket"], request.query.get("uploadType", "")
        if kind == "multipart":
            try:
                metadata, media, media_type = _multipart(await request.read(), request.headers["Content-Type"])
            except (KeyError, ValueError) as exc:
                return _error(400, f"Invalid multipart request: {exc}", "badRequest")
            stored = store.put(bucket, metadata, media, media_type)
            return _stored(stored, request)
        if kind == "media":
            name = request.query.get("name", "")
            stored = store.put(bucket, {"name": name}, await request.read(), request.content_type)
            return _stored(stored, request)
        if kind == "resumable":
            if bucket not in store.buckets:
                return _error(404, "The specified bucket does not exist.", "notFound")
            metadata = await request.json() if request.can_read_body else {}
            upload_id = uuid.uuid4().hex
            store.uploads[upload_id] = {"bucket": bucket, "metadata": metadata or {"name": request.query.get("name")},
                                        "content_type": request.headers.get("X-Upload-Content-Type", ""),
                                        "data": bytearray()}
            location = f"{_base(request)}{request.path}?uploadType=resumable&upload_id={upload_id}"
            return web.Response(status=200, headers={"Location": location})
        return _error(400, f"Invalid upload type: {kind!r}", "invalidParameter")

    async def upload_chunk(request: web.Request) -> web.Response:
        state = store.uploads.get(request.query.get("upload_id", ""))
        if state is None:
            return _error(404, "No such upload session", "notFound")
        data, chunk = state["data"], await request.read()
        spec = request.headers.get("Content-Range", "").removeprefix("bytes ")
        span, _, total = spec.partition("/")
        if span != "*":
            start = int(span.split("-")[0])
            if start != len(data):  # the client must resume where the stand-in says it is
                return web.Response(status=308, headers={"Range": f"bytes=0-{len(data) - 1}"} if data else {})
            data.extend(chunk)
        if total != "*" and len(data) == int(total):
            del store.uploads[request.query["upload_id"]]
            # the client sends the whole object's checksum with the last chunk: `x-goog-hash: crc32c=...`
            claimed = dict(part.strip().split("=", 1) for part in request.headers.get("x-goog-hash", "").split(",")
                           if "=" in part)
            metadata = {**state["metadata"], **({"crc32c": claimed["crc32c"]} if "crc32c" in claimed else {}),
                        **({"md5Hash": claimed["md5"]} if "md5" in claimed else {})}
            stored = store.put(state["bucket"], metadata, bytes(data), state["content_type"])
            return _stored(stored, request)
        return web.Response(status=308, headers={"Range": f"bytes=0-{len(data) - 1}"} if data else {})

    app.router.add_post("/storage/v1/b", insert_bucket)
    app.router.add_get("/storage/v1/b/{bucket}", get_bucket)
    app.router.add_get("/storage/v1/b/{bucket}/o", list_objects)
    app.router.add_get("/storage/v1/b/{bucket}/o/{name:.+}", get_object)
    app.router.add_get("/download/storage/v1/b/{bucket}/o/{name:.+}", get_object)
    app.router.add_delete("/storage/v1/b/{bucket}/o/{name:.+}", delete_object)
    app.router.add_post("/upload/storage/v1/b/{bucket}/o", upload)
    app.router.add_put("/upload/storage/v1/b/{bucket}/o", upload_chunk)
    return app
