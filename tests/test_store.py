"""pointdiff.store: atomic writes with ordinary permissions, safetensors, JSON / JSONL, hashes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from pointdiff.store import JsonlAppender, atomic_path, atomic_write_bytes, atomic_write_text, load_tensors, read_json, read_jsonl, save_tensors, sha256_bytes, sha256_file, write_json, write_jsonl


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ----------------------------------------------------------------------------- atomic writes


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    write_json(target, {"version": 1})
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(target) as tmp:
            tmp.write_text('{"version": 2, "half of it', encoding="utf-8")
            raise RuntimeError("killed mid-write")
    assert read_json(target) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    # A first write that fails leaves nothing at all.
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "new.txt") as tmp:
            tmp.write_text("partial", encoding="utf-8")
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_a_successful_write_replaces_the_file_and_creates_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "note.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second, longer than the first")
    assert target.read_text(encoding="utf-8") == "second, longer than the first"
    assert [p.name for p in target.parent.iterdir()] == ["note.txt"]


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under the umask it is parametrised with, then put the old one back."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002], indirect=True)
def test_written_files_get_the_permissions_open_would_give(tmp_path: Path, umask: int) -> None:
    # tempfile.mkstemp makes 0600; a published file must not keep that. (safetensors is left
    # out: safetensors 0.8 replaces the file it is given by a new one of its own, made 0600.)
    expected = 0o666 & ~umask
    atomic_write_text(tmp_path / "a.txt", "x")
    write_json(tmp_path / "b.json", {})
    with atomic_path(tmp_path / "c.bin") as tmp:
        assert _mode(tmp) == expected  # already while writers fill it
        tmp.write_bytes(b"c")
    for name in ("a.txt", "b.json", "c.bin"):
        assert _mode(tmp_path / name) == expected, (name, oct(_mode(tmp_path / name)))


def test_no_import_or_write_touches_the_umask(tmp_path: Path) -> None:
    # Reading the umask means setting it (process-wide, racy with threads): pointdiff must not.
    # A fresh interpreter, so the modules are really imported under the watch.
    script = textwrap.dedent(
        """
        import os, stat, sys
        real = os.umask
        real(0o027)
        calls = []
        os.umask = lambda mask: calls.append(mask) or real(mask)
        import pointdiff.config, pointdiff.export, pointdiff.plot, pointdiff.report, pointdiff.store, pointdiff.workspace
        from pointdiff.store import atomic_write_text
        path = sys.argv[1] + "/out.txt"
        atomic_write_text(path, "x")
        assert calls == [], f"os.umask called with {calls}"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640, oct(os.stat(path).st_mode)
        """
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# ----------------------------------------------------------------------------- tensors


def test_safetensors_round_trip_keeps_values_dtypes_and_metadata(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    tensors = {
        "weights": torch.randn(3, 4, generator=g),
        "ids": torch.arange(12, dtype=torch.int64).reshape(3, 4).t(),  # not contiguous: saved anyway
        "half": torch.randn(5, generator=g).to(torch.bfloat16),
    }
    meta = {"encoder": json.dumps({"id": "fake", "dim": 4}), "note": "é ✓"}
    save_tensors(tmp_path / "t.safetensors", tensors, meta)
    loaded, loaded_meta = load_tensors(tmp_path / "t.safetensors")
    assert loaded_meta == meta
    assert set(loaded) == set(tensors)
    for key, value in tensors.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value), key


def test_safetensors_without_metadata_reads_back_empty(tmp_path: Path) -> None:
    save_tensors(tmp_path / "t.safetensors", {"x": torch.ones(1)})
    assert load_tensors(tmp_path / "t.safetensors")[1] == {}


def test_a_broken_safetensors_file_is_a_clear_error(tmp_path: Path) -> None:
    from pointdiff.errors import PointdiffError

    save_tensors(tmp_path / "t.safetensors", {"x": torch.ones(100)})
    whole = (tmp_path / "t.safetensors").read_bytes()
    (tmp_path / "t.safetensors").write_bytes(whole[:40])  # a copy cut short
    with pytest.raises(PointdiffError, match="not a readable safetensors file"):
        load_tensors(tmp_path / "t.safetensors")


# ----------------------------------------------------------------------------- JSON and JSONL


def test_json_round_trip_is_readable_utf8(tmp_path: Path) -> None:
    obj = {"caption": "a café, smiling ☺", "n": [1, 2.5, None], "nested": {"ok": True}}
    write_json(tmp_path / "x.json", obj)
    text = (tmp_path / "x.json").read_text(encoding="utf-8")
    assert "café" in text and text.endswith("\n")  # written as text a person can read, not \\u escapes
    assert read_json(tmp_path / "x.json") == obj


def test_jsonl_round_trip_and_missing_file(tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "première"}, {"id": "b", "text": "two\nlines"}]
    write_jsonl(tmp_path / "x.jsonl", rows)
    assert (tmp_path / "x.jsonl").read_text(encoding="utf-8").count("\n") == 2  # one line per row
    assert read_jsonl(tmp_path / "x.jsonl") == rows
    assert read_jsonl(tmp_path / "absent.jsonl") == []


def test_read_jsonl_skips_a_torn_last_line_but_not_a_broken_middle_one(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    path.write_text('{"id": "a"}\n\n{"id": "b"}\n{"id": "c", "te', encoding="utf-8")
    assert read_jsonl(path) == [{"id": "a"}, {"id": "b"}]
    path.write_text('{"id": "a"}\nnot json\n{"id": "c"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"cache\.jsonl:2: not valid JSON"):
        read_jsonl(path)


def test_appender_cuts_a_torn_tail_and_each_row_is_on_disk_at_once(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "b", "vec')  # a writer killed mid-row
    with JsonlAppender(path) as out:
        out.append({"id": "c"})
        assert read_jsonl(path) == [{"id": "a"}, {"id": "c"}]  # durable before close
    with JsonlAppender(path) as out:
        out.append({"id": "d"})
    assert read_jsonl(path) == [{"id": "a"}, {"id": "c"}, {"id": "d"}]
    only_torn = tmp_path / "torn.jsonl"
    only_torn.write_bytes(b'{"id": "x"')
    with JsonlAppender(only_torn) as out:
        out.append({"id": "y"})
    assert read_jsonl(only_torn) == [{"id": "y"}]


# ----------------------------------------------------------------------------- hashes


def test_file_hash_reads_every_chunk(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5
    (tmp_path / "blob").write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_bytes(data) == expected
    assert sha256_file(tmp_path / "blob", chunk=100) == expected  # 13 chunks, the last one short


def test_a_full_disk_keeps_the_old_file_and_says_how_much_was_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from pointdiff.errors import PointdiffError

    target = tmp_path / "data.json"
    target.write_text("old")

    def full(fd: int) -> None:  # the disk fills as the data is flushed
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(PointdiffError, match=r"no space left on the disk of .* writing data\.json: it needs 5\.0 KB, .* free\. .*previous data\.json is unchanged"):
        atomic_write_bytes(target, b"x" * 5120)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    with pytest.raises(PointdiffError, match="it needs more than the 100 bytes written before the disk filled"):
        with atomic_path(target) as tmp:  # a writer that does not know its size
            tmp.write_bytes(b"y" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old"
    with pytest.raises(PermissionError):  # other errors pass through unchanged
        with atomic_path(target) as tmp:
            raise PermissionError(errno.EACCES, "denied")
