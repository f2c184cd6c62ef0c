"""`caption` end to end with a tiny Llava-layout VLM loaded through the same code as real model ids."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.data.dataset import CAPTIONS_FILE, Dataset
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.errors import PointdiffError
from pointdiff.store import read_jsonl
from pointdiff.text.caption import CaptionConfig, caption
from pointdiff.text.caption_inputs import open_rgb
from pointdiff.text.captioner import Captioner

runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
REPO = Path(__file__).resolve().parents[2]


def draw_faces(folder: Path, n: int) -> Path:
    """``n`` different line drawings (an ellipse that moves and grows) as PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        im = Image.new("RGB", (64, 64), "white")
        d = ImageDraw.Draw(im)
        d.ellipse((4 + 3 * k, 6 + k, 36 + 2 * k, 50), outline="black", width=3)
        d.line((10, 58 - k, 50, 40 + k), fill="black", width=2)
        im.save(folder / f"face{k}.png")
    return folder


def make_dataset(tmp_path: Path, n: int = 5) -> Path:
    src = draw_faces(tmp_path / "faces", n)
    ingest(src, tmp_path / "ds", IngestConfig(contact_sheet=0))
    return tmp_path / "ds"


def cfg_for(model: Path, **kw) -> CaptionConfig:
    return CaptionConfig(model=str(model), **{"max_new_tokens": 8, "batch_size": 2, **kw})


def last_rows(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_jsonl(path)}


def test_dataset_captions_written_per_image_and_match_the_model(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    ds = make_dataset(tmp_path)
    cfg = cfg_for(tiny_vlm_dir)
    seen = []
    res = caption(ds, cfg, cache_path=tmp_path / "cache.jsonl", progress=lambda d, t, **f: seen.append((d, t)))
    assert (res.total, res.generated, res.from_cache, res.up_to_date) == (5, 5, 0, 0)
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    rows = read_jsonl(ds / CAPTIONS_FILE)
    assert [r["id"] for r in rows] == [f"face{k}" for k in range(5)]
    for r in rows:
        assert r["model"] == str(tiny_vlm_dir) and r["prompt_sha"] == res.prompt_sha and r["image"] == "file" and len(r["key"]) == 64
    # Each text is what the model says about *that* image, alone (batching mixes nothing up).
    captioner = Captioner.load(str(tiny_vlm_dir))
    for r in rows:
        [(alone, _)] = captioner.describe([open_rgb(tmp_path / "faces" / f"{r['id']}.png")], cfg.prompt, cfg.settings())
        assert r["text"] == alone
    assert len({r["text"] for r in rows}) > 1  # different images, different words
    # The dataset now reads these as its texts.
    assert {where for _, where in Dataset(ds).texts()} == {"caption"}


def test_deterministic_and_batch_size_is_not_part_of_the_key(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    ds = make_dataset(tmp_path, n=4)
    a = caption(ds, cfg_for(tiny_vlm_dir, batch_size=3), cache_path=tmp_path / "a.jsonl")
    texts_a = {i: r["text"] for i, r in last_rows(ds / CAPTIONS_FILE).items()}
    (ds / CAPTIONS_FILE).unlink()
    b = caption(ds, cfg_for(tiny_vlm_dir, batch_size=1), cache_path=tmp_path / "b.jsonl")
    texts_b = {i: r["text"] for i, r in last_rows(ds / CAPTIONS_FILE).items()}
    assert a.generated == b.generated == 4 and texts_a == texts_b
    assert [r["key"] for r in read_jsonl(tmp_path / "a.jsonl")] == [r["key"] for r in read_jsonl(tmp_path / "b.jsonl")]


def test_finished_run_does_nothing_and_loads_no_model(tmp_path: Path, tiny_vlm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = make_dataset(tmp_path, n=3)
    caption(ds, cfg_for(tiny_vlm_dir), cache_path=tmp_path / "cache.jsonl")
    before = (ds / CAPTIONS_FILE).read_bytes()
    monkeypatch.setattr(Captioner, "load", classmethod(lambda *a, **k: pytest.fail("a finished run must not load the model")))
    res = caption(ds, cfg_for(tiny_vlm_dir, batch_size=1, device="cpu"), cache_path=tmp_path / "cache.jsonl")
    assert res.nothing_to_do and res.up_to_date == 3
    assert (ds / CAPTIONS_FILE).read_bytes() == before


def test_cache_key_follows_prompt_and_generation_settings(tmp_path: Path, tiny_vlm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = make_dataset(tmp_path, n=3)
    cache = tmp_path / "cache.jsonl"
    first = caption(ds, cfg_for(tiny_vlm_dir), cache_path=cache)
    other = caption(ds, cfg_for(tiny_vlm_dir, prompt="Describe the face in one sentence."), cache_path=cache)
    assert other.generated == 3 and other.prompt_sha != first.prompt_sha
    assert {r["prompt_sha"] for r in last_rows(ds / CAPTIONS_FILE).values()} == {other.prompt_sha}  # the last row per id wins
    longer = caption(ds, cfg_for(tiny_vlm_dir, max_new_tokens=12), cache_path=cache)
    assert longer.generated == 3
    # Back to the first prompt: every answer comes from the cache, no model is loaded.
    monkeypatch.setattr(Captioner, "load", classmethod(lambda *a, **k: pytest.fail("cached answers need no model")))
    back = caption(ds, cfg_for(tiny_vlm_dir), cache_path=cache)
    assert (back.generated, back.from_cache) == (0, 3)
    assert {r["prompt_sha"] for r in last_rows(ds / CAPTIONS_FILE).values()} == {first.prompt_sha}
    assert len(read_jsonl(cache)) == 9  # three settings x three images, nothing twice


def test_image_folder_gets_metadata_jsonl_that_ingest_reads(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    folder = draw_faces(tmp_path / "imgs", 3)
    res = caption(folder, cfg_for(tiny_vlm_dir), cache_path=tmp_path / "cache.jsonl")
    rows = read_jsonl(folder / "metadata.jsonl")
    assert res.generated == 3 and [r["file_name"] for r in rows] == ["face0.png", "face1.png", "face2.png"]
    again = caption(folder, cfg_for(tiny_vlm_dir), cache_path=tmp_path / "cache.jsonl")
    assert again.nothing_to_do
    ingest(folder, tmp_path / "ds", IngestConfig(contact_sheet=0))
    assert {r.id: r.caption for r in Dataset(tmp_path / "ds").records} == {r["file_name"][:-4]: r["text"] for r in rows}


def test_someone_elses_metadata_jsonl_is_never_replaced(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    folder = draw_faces(tmp_path / "imgs", 2)
    mine = '{"file_name": "face0.png", "text": "my own caption"}\n'
    (folder / "metadata.jsonl").write_text(mine)
    with pytest.raises(PointdiffError, match="not written by `pointdiff caption`"):
        caption(folder, cfg_for(tiny_vlm_dir), cache_path=tmp_path / "cache.jsonl")
    assert (folder / "metadata.jsonl").read_text() == mine
    res = caption(folder, cfg_for(tiny_vlm_dir), cache_path=tmp_path / "cache.jsonl", out=tmp_path / "generated.jsonl")
    assert res.generated == 2 and len(read_jsonl(tmp_path / "generated.jsonl")) == 2


def test_sample_whose_image_file_is_gone_is_described_from_its_ink(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    ds = make_dataset(tmp_path, n=2)
    (tmp_path / "faces" / "face1.png").unlink()
    res = caption(ds, cfg_for(tiny_vlm_dir), cache_path=tmp_path / "cache.jsonl")
    assert res.generated == 2 and res.from_ink == ["face1"]
    assert last_rows(ds / CAPTIONS_FILE)["face1"]["image"] == "ink"


_DRIVER = """
import sys, time
from pointdiff.text.caption import CaptionConfig, caption
ds, model, cache = sys.argv[1:4]
# A slow progress callback stands in for a slow model, so the parent can kill us mid-run.
caption(ds, CaptionConfig(model=model, max_new_tokens=8, batch_size=1), cache_path=cache, progress=lambda d, t, **f: time.sleep(0.25))
"""


def test_killed_run_resumes_without_captioning_an_image_twice_or_losing_one(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    n = 8
    ds = make_dataset(tmp_path, n=n)
    cache = tmp_path / "cache.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(ds), str(tiny_vlm_dir), str(cache)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(read_jsonl(cache)) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the captioning run never got going"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(read_jsonl(cache))
    assert 3 <= done_before < n, "killed too late to test resuming"

    res = caption(ds, CaptionConfig(model=str(tiny_vlm_dir), max_new_tokens=8, batch_size=1), cache_path=cache)
    assert res.generated == n - done_before  # only what was missing
    keys = Counter(r["key"] for r in read_jsonl(cache))
    assert len(keys) == n and max(keys.values()) == 1  # no image captioned twice
    rows = last_rows(ds / CAPTIONS_FILE)
    assert sorted(rows) == sorted(f"face{k}" for k in range(n))  # none lost
    # The same texts as a run that was never interrupted.
    (tmp_path / "whole").mkdir()
    fresh = make_dataset(tmp_path / "whole", n=n)
    caption(fresh, CaptionConfig(model=str(tiny_vlm_dir), max_new_tokens=8, batch_size=n), cache_path=tmp_path / "whole.jsonl")
    assert {i: r["text"] for i, r in rows.items()} == {i: r["text"] for i, r in last_rows(fresh / CAPTIONS_FILE).items()}


def test_model_not_on_this_machine_is_one_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ds = make_dataset(tmp_path, n=1)
    result = runner.invoke(app, ["caption", str(ds), "--model", "someone/not-cached-vlm", "-w", str(tmp_path / "ws")])
    # main() prints a PointdiffError as one "error: ..." line and exits 1, without a traceback
    assert result.exit_code != 0 and isinstance(result.exception, PointdiffError)
    assert "Traceback" not in result.output
    msg = str(result.exception)
    for words in ("someone/not-cached-vlm", "not on this machine", "Hugging Face cache", "hf download", "--model PATH"):
        assert words in msg


def test_model_folder_that_does_not_exist_via_cli(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, n=1)
    result = runner.invoke(app, ["caption", str(ds), "--model", str(tmp_path / "nowhere"), "-w", str(tmp_path / "ws")])
    assert result.exit_code != 0 and isinstance(result.exception, PointdiffError)
    assert "does not exist" in str(result.exception) and "--model" in str(result.exception)


def test_cli_caption_renders_and_second_run_says_nothing_to_do(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    ds = make_dataset(tmp_path, n=2)
    args = ["caption", str(ds), "--model", str(tiny_vlm_dir), "--max-new-tokens", "6", "-w", str(tmp_path / "ws")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "described now" in first.output and "pointdiff summarize" in first.output
    assert len(read_jsonl(tmp_path / "ws" / "cache" / "caption.jsonl")) == 2
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "nothing to do" in second.output


def test_prompt_from_yaml_config(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    from pointdiff.text.cache import text_digest

    ds = make_dataset(tmp_path, n=1)
    prompt = "Is the face turned left, right, up or down?"
    (tmp_path / "caption.yaml").write_text(f"prompt: {prompt!r}\nmax_new_tokens: 4\n")
    result = runner.invoke(app, ["caption", str(ds), "--model", str(tiny_vlm_dir), "--config", str(tmp_path / "caption.yaml"), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert last_rows(ds / CAPTIONS_FILE)["face0"]["prompt_sha"] == text_digest(prompt)


def test_summaries_are_outdated_only_after_new_descriptions_of_a_summarized_dataset(tmp_path: Path, tiny_vlm_dir: Path) -> None:
    ds = make_dataset(tmp_path, n=2)
    cache = tmp_path / "cache.jsonl"
    first = caption(ds, cfg_for(tiny_vlm_dir), cache_path=cache)
    assert not first.summaries_outdated() and not first.feeds_ingest  # no summaries yet
    (ds / "summaries.jsonl").write_text('{"id": "face0", "text": "short"}\n')
    assert not caption(ds, cfg_for(tiny_vlm_dir), cache_path=cache).summaries_outdated()  # nothing new was written
    assert caption(ds, cfg_for(tiny_vlm_dir, prompt="Another prompt."), cache_path=cache).summaries_outdated()
    folder = draw_faces(tmp_path / "imgs", 1)
    (folder / "summaries.jsonl").write_text("")  # an image folder has no summaries to outdate
    res = caption(folder, cfg_for(tiny_vlm_dir), cache_path=cache)
    assert res.feeds_ingest and not res.summaries_outdated()


def test_results_out_of_order_are_released_in_batch_order() -> None:
    from pointdiff.text.cache import InOrder

    order: InOrder[str] = InOrder()
    assert order.add(1, "b") == []  # batch 0 is not in yet: batch 1 waits
    assert order.add(2, "c") == []
    assert order.add(0, "a") == [(0, "a"), (1, "b"), (2, "c")]
    assert order.add(3, "d") == [(3, "d")]
