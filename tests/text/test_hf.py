"""Offline model resolution, weight hashing and load errors (pointdiff/text/hf.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pointdiff.errors import PointdiffError
from pointdiff.store import sha256_file
from pointdiff.text import hf


def test_resolve_local_folder(tiny_clip_dir: Path) -> None:
    assert hf.resolve_model_dir(str(tiny_clip_dir)) == tiny_clip_dir.resolve()


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="no config.json"):
        hf.resolve_model_dir(str(tmp_path))


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="does not exist"):
        hf.resolve_model_dir(str(tmp_path / "nope"), flag="--encoder")


def test_uncached_hub_id_offline_says_what_to_do(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    calls: list[dict] = []
    real = huggingface_hub.snapshot_download
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: calls.append(k) or real(*a, **k))
    with pytest.raises(PointdiffError) as e:
        hf.resolve_model_dir("someone/not-here", flag="--encoder")
    msg = str(e.value)
    assert "someone/not-here" in msg and str(hf_cache) in msg and "--encoder PATH" in msg and "hf download" in msg
    assert "downloads are off" in msg
    assert [k["local_files_only"] for k in calls] == [True]  # HF_HUB_OFFLINE=1: the cache only, never the network


def test_uncached_hub_id_is_downloaded_on_first_use(tiny_clip_dir: Path, hf_cache: Path, put_in_hf_cache, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import huggingface_hub

    calls: list[tuple[str, dict]] = []

    def download(repo_id: str, **kw: object) -> str:  # what the hub client does: fetch into the cache, return the snapshot
        calls.append((repo_id, kw))
        return str(put_in_hf_cache(repo_id, tiny_clip_dir, commit="b" * 40))

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    path = hf.resolve_model_dir("org/tiny-clip", revision="v1.0")
    assert calls == [("org/tiny-clip", {"revision": "v1.0", "local_files_only": False})]  # the pinned revision is what is fetched
    assert path == hf_cache / "models--org--tiny-clip" / "snapshots" / ("b" * 40) and (path / "config.json").exists()


def test_a_failed_download_says_what_to_do(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def no_network(repo_id: str, **kw: object) -> str:
        raise LocalEntryNotFoundError("cannot reach the hub and no cached snapshot")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    with pytest.raises(PointdiffError, match=r"could not be downloaded \(no connection to the hub\?\).*hf download someone/x"):
        hf.resolve_model_dir("someone/x")


def test_default_ids_are_pinned_to_a_commit(tiny_clip_dir: Path, put_in_hf_cache, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import huggingface_hub

    pinned = hf.PINNED_REVISIONS["openai/clip-vit-base-patch32"]
    put_in_hf_cache("openai/clip-vit-base-patch32", tiny_clip_dir, commit=pinned)
    assert hf.resolve_model_dir("openai/clip-vit-base-patch32").name == pinned  # offline: the pinned snapshot in the cache
    calls: list[dict] = []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: calls.append(kw) or str(tiny_clip_dir))
    hf.resolve_model_dir("Qwen/Qwen2.5-7B-Instruct")
    hf.resolve_model_dir("Qwen/Qwen2.5-7B-Instruct", revision="main")
    hf.resolve_model_dir("someone/else")
    assert [k["revision"] for k in calls] == [hf.PINNED_REVISIONS["Qwen/Qwen2.5-7B-Instruct"], "main", None]


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("true", True), ("ON", True), ("0", False), ("", False)])
def test_hub_offline_reads_the_variable_as_huggingface_hub_does(value: str, offline: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hf.hub_offline() is offline


def test_cached_hub_id_resolves_to_snapshot(tiny_clip_dir: Path, put_in_hf_cache) -> None:
    snapshot = put_in_hf_cache("tiny/clip", tiny_clip_dir)
    assert hf.resolve_model_dir("tiny/clip") == snapshot


def test_weights_hash_of_one_file_is_its_sha256(tiny_clip_dir: Path) -> None:
    files = hf.weights_files(tiny_clip_dir)
    assert [f.name for f in files] == ["model.safetensors"]
    assert hf.weights_sha256(files) == sha256_file(files[0])


def test_sharded_weights_follow_the_index(tmp_path: Path) -> None:
    for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        (tmp_path / name).write_bytes(name.encode())
    index = {"weight_map": {"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    files = hf.weights_files(tmp_path)
    assert [f.name for f in files] == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    digest = hf.weights_sha256(files)
    assert digest == hf.weights_sha256(list(reversed(files))) and len(digest) == 64
    (tmp_path / files[0].name).write_bytes(b"changed")
    assert hf.weights_sha256(files) != digest  # the cache notices the file changed


def test_no_weights_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="no model weights"):
        hf.weights_files(tmp_path)


def test_remote_code_needs_consent(tmp_path: Path) -> None:
    from transformers import AutoConfig

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "custom", "auto_map": {"AutoConfig": "x.Config"}}))
    with pytest.raises(PointdiffError, match="--trust-remote-code"):
        hf.load_pretrained(AutoConfig, tmp_path, name="custom/model")


def test_quiet_transformers_restores_logging() -> None:
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    with hf.quiet_transformers():
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert hf_logging.get_verbosity() == before
