"""The vendor documents in use are the pinned bytes (tests/specs/pins.toml), and a changed one is refused."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.specs.documents import PINS, Spec, SpecDrift, spec


@pytest.mark.parametrize("name", sorted(PINS))
def test_each_pinned_document_is_the_installed_one(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    pin = PINS[name]
    with capsys.disabled():  # the figures a re-pin copies
        print(f"\n{name}: {pin.package}=={pin.version} {pin.member} sha256={pin.digest()}")
    document = spec(name)
    assert isinstance(document, Spec) and document.pin.sha256 == pin.digest()
    sidecar = pin.path().with_name("metadata.json")
    if sidecar.exists():  # the package's record of what it synced: the vendor's own bytes, unmodified
        recorded = json.loads(sidecar.read_text())
        assert recorded["hash"] == f"sha256:{pin.sha256}" and recorded["version"] == pin.upstream_version


def test_a_document_that_is_not_the_pinned_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PINS, "openai-drifted", dataclasses.replace(PINS["openai"], name="openai-drifted",
                                                                     sha256="0" * 64))
    with pytest.raises(SpecDrift, match="is pinned"):
        spec("openai-drifted")
    monkeypatch.setitem(PINS, "openai-other", dataclasses.replace(PINS["openai"], name="openai-other",
                                                                   version="9.9.9"))
    with pytest.raises(SpecDrift, match="make venv"):
        spec("openai-other")
