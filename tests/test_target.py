"""Target files: env substitution, secrets that never print, and one-line errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.target import REFERENCE_CONFIG, Target, TargetError, load_target, read_litellm_config

GOOD = """
name: staging
provider: external
gateway:
  url: http://127.0.0.1:4000
  master_key: ${GW_KEY}
langfuse:
  url: http://127.0.0.1:3000
  public_key: pk-lf-1
  secret_key: ${LF_SECRET:-sk-lf-default}
litellm_config: litellm.yaml
thresholds:
  OBS-1: 5
"""


@pytest.fixture
def write(tmp_path: Path):
    (tmp_path / "litellm.yaml").write_text(REFERENCE_CONFIG.read_text())

    def write(text: str) -> Path:
        path = tmp_path / "target.yaml"
        path.write_text(text)
        return path

    return write


def test_a_good_file_loads_with_env_secrets_that_never_print(write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_KEY", "sk-very-secret-master")
    target = load_target(write(GOOD))
    assert target.gateway is not None and target.gateway.master_key is not None
    assert target.gateway.master_key.get_secret_value() == "sk-very-secret-master"
    assert target.langfuse is not None and target.langfuse.secret_key.get_secret_value() == "sk-lf-default"
    for text in (repr(target), str(target), target.model_dump_json()):
        assert "sk-very-secret-master" not in text and "sk-lf-default" not in text
    assert target.threshold("OBS-1") == 5 and target.threshold("GW-1") == 60.0
    assert [m.name for m in target.chat_models()] == ["gpt-4", "claude-3", "gemini-2", "gpt-4o-mini", "gpt-4o"]
    assert target.fallbacks["gpt-4"] == ["claude-3", "gemini-2"]


@pytest.mark.parametrize(("text", "expected"), [
    ("gateway: [unclosed", "line 1"),
    ("gatway:\n  url: http://x\n", "gatway: unknown key; did you mean 'gateway'?"),
    ("gateway:\n  url: http://x\n  master_kye: k\n", "gateway.master_kye: unknown key; did you mean 'master_key'?"),
    ("provider: external\ngateway:\n  master_key: ${NOPE_NOT_SET}\n",
     "gateway.master_key: environment variable NOPE_NOT_SET is not set"),
    ("provider: external\ngateway:\n  master_key: k\n", "gateway.url: required but missing"),
    ("provider: external\n", "gateway: required for provider 'external'"),
    ("provider: kubernetes\n", "provider: Input should be 'local', 'containers', 'compose' or 'external'"),
    ("thresholds:\n  OBS-9: 3\n", "thresholds.OBS-9: unknown criterion"),
    ("- a\n- b\n", "top level must be a mapping"),
])
def test_bad_files_give_one_line_naming_the_field(write, text: str, expected: str) -> None:
    with pytest.raises(TargetError) as error:
        load_target(write(text))
    message = str(error.value)
    assert expected in message and "\n" not in message
    assert message.startswith(str(Path(write("").parent / "target.yaml")))


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="cannot read"):
        load_target(tmp_path / "absent.yaml")


@settings(max_examples=60, deadline=None)
@given(key=st.from_regex(r"[a-z_]{3,12}", fullmatch=True).filter(lambda k: k not in Target.model_fields))
def test_any_unknown_top_level_key_is_named(tmp_path_factory: pytest.TempPathFactory, key: str) -> None:
    path = tmp_path_factory.mktemp("t") / "target.yaml"
    path.write_text(f"{key}: 1\n")
    with pytest.raises(TargetError, match=f"{key}: unknown key"):
        load_target(path)


def test_reference_config_models_and_modes() -> None:
    models, fallbacks = read_litellm_config(REFERENCE_CONFIG)
    assert {m.name: m.mode for m in models} == {"gpt-4": "chat", "claude-3": "chat", "gemini-2": "chat",
                                               "gpt-4o-mini": "chat", "gpt-4o": "chat",
                                               "text-embedding-3-large": "embedding"}
    assert fallbacks == {"gpt-4": ["claude-3", "gemini-2"], "claude-3": ["gpt-4", "gemini-2"],
                         "gemini-2": ["claude-3", "gpt-4"]}
