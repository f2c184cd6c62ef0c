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


def test_uncached_hub_id_says_what_to_do(hf_cache: Path) -> None:
    with pytest.raises(PointdiffError) as e:
        hf.resolve_model_dir("someone/not-here", flag="--encoder")
    msg = str(e.value)
    assert "someone/not-here" in msg and str(hf_cache) in msg and "--encoder PATH" in msg and "hf download" in msg


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
