"""A new dataset folder goes in whole, and only over a dataset it may replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from pointdiff.data.staging import check_out, staged
from pointdiff.errors import PointdiffError


def test_check_out_refuses_what_it_may_not_replace(tmp_path: Path) -> None:
    check_out(tmp_path / "new", overwrite=False)  # absent: fine
    (tmp_path / "empty").mkdir()
    check_out(tmp_path / "empty", overwrite=False)  # empty folder: fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(PointdiffError, match="is a file"):
        check_out(tmp_path / "file", overwrite=True)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(PointdiffError, match="not a pointdiff dataset"):
        check_out(tmp_path / "mine", overwrite=True)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset.json").write_text("{}")
    with pytest.raises(PointdiffError, match="--overwrite"):
        check_out(tmp_path / "ds", overwrite=False)
    check_out(tmp_path / "ds", overwrite=True)


def test_staged_replaces_whole_on_success_and_leaves_the_old_one_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "dataset.json").write_text("old")
    (out / "captions.jsonl").write_text("old captions")
    with pytest.raises(RuntimeError):
        with staged(out, overwrite=True) as staging:
            (staging / "dataset.json").write_text("new")
            raise RuntimeError("failed half way")
    assert sorted(p.name for p in out.iterdir()) == ["captions.jsonl", "dataset.json"] and (out / "dataset.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # the half-built folder is gone
    with staged(out, overwrite=True) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".ds.")
        (staging / "dataset.json").write_text("new")
    assert [p.name for p in out.iterdir()] == ["dataset.json"] and (out / "dataset.json").read_text() == "new"  # nothing old survives
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]
