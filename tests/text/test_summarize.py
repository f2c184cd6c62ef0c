"""`summarize` end to end with a tiny Qwen2 chat LM loaded through the same code as real model ids."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pointdiff.cli.app import app
from pointdiff.data.dataset import CAPTIONS_FILE, SUMMARIES_FILE, Dataset, DatasetWriter, Record
from pointdiff.errors import PointdiffError
from pointdiff.store import read_jsonl, write_jsonl
from pointdiff.text.budget import TokenBudget
from pointdiff.text.summarize import PASSTHROUGH, SummarizeConfig, summarize
from pointdiff.text.summarizer import REFERENCE_INSTRUCTION, STRICT_INSTRUCTION, Summarizer, fill

runner = CliRunner(env={"COLUMNS": "200", "POINTDIFF_WORKSPACE": ""})
LONG = (
    "The image shows a cartoon face drawn in black lines on a white background. The face is turned to the {side}, "
    "so the nose points {side} and the far ear is hidden. The expression is {mood}: the mouth curves and the eyes "
    "are narrowed. The hair is short and parted, the brows are thick, and there are round glasses. " * 2
)


def make_dataset(root: Path, long: int = 4, short: int = 1, bare: int = 1) -> Path:
    """``long`` samples with generated long captions, ``short`` with only a source caption, ``bare`` with none."""
    pixels = __import__("numpy").array([[1, 1], [2, 2]], dtype="uint16")
    w = DatasetWriter(root, {"source": "test"})
    ids = []
    for k in range(long + short + bare):
        sid = f"s{k}"
        ids.append(sid)
        src_caption = f"turned {'left' if k % 2 else 'right'}, smiling" if long <= k < long + short else None
        w.add(Record(id=sid, source=f"{sid}.png", sha256=f"{k:064x}", width=8, height=8, ink_count=0, caption=src_caption), pixels)
    w.close()
    sides, moods = ("left", "right", "up", "down"), ("happy", "sad", "surprised", "neutral")
    write_jsonl(root / CAPTIONS_FILE, [{"id": ids[k], "text": LONG.format(side=sides[k % 4], mood=moods[k % 4])} for k in range(long)])
    return root


@pytest.fixture(scope="module")
def minilm():
    """The real default encoder (the product path counts tokens with it)."""
    from pointdiff.text.encoders import load_encoder

    return load_encoder("minilm")


def cfg_for(model: Path, **kw) -> SummarizeConfig:
    return SummarizeConfig(model=str(model), **{"max_new_tokens": 16, "batch_size": 4, **kw})


def rows_by_id(ds: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_jsonl(ds / SUMMARIES_FILE)}


def test_summaries_written_with_words_and_real_encoder_tokens(tmp_path: Path, tiny_lm_dir: Path, minilm) -> None:
    ds = make_dataset(tmp_path / "ds")
    seen = []
    res = summarize(ds, cfg_for(tiny_lm_dir), cache_path=tmp_path / "cache.jsonl", progress=lambda d, t, **f: seen.append((d, t)))
    assert res.encoder == "minilm" and res.budget == minilm.info.max_tokens  # the product path: the real default encoder
    assert (res.total, res.generated, res.missing) == (5, 5, ["s5"])
    assert seen[-1] == (5, 5)
    rows = rows_by_id(ds)
    assert sorted(rows) == ["s0", "s1", "s2", "s3", "s4"]
    lm = Summarizer.load(str(tiny_lm_dir))
    long_texts = {**Dataset(ds).captions(), "s4": Dataset(ds).records[4].caption}
    long_texts = {k: v.strip() for k, v in long_texts.items()}  # descriptions are read stripped
    for sid, row in rows.items():
        [(expected, _)] = lm.answer([fill(REFERENCE_INSTRUCTION, long_texts[sid])], cfg_for(tiny_lm_dir).settings())
        assert row["text"] == expected  # deterministic, and the answer to *this* description
        assert row["tokens"] == minilm.count_tokens([row["text"]])[0] and row["words"] == len(row["text"].split())
        assert row["model"] == str(tiny_lm_dir) and row["over_budget"] is False and row["attempts"] == 1
    assert res.before.describe(res.before.words)[2] > 100 and res.after.describe(res.after.words)[2] < 50
    assert {where for _, where in Dataset(ds).texts()} == {"summary", "none"}


def test_finished_run_does_nothing_and_loads_no_model(tmp_path: Path, tiny_lm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = make_dataset(tmp_path / "ds", long=2, short=0, bare=0)
    budget = TokenBudget("words", 1000, lambda ts: [len(t.split()) for t in ts])
    summarize(ds, cfg_for(tiny_lm_dir), cache_path=tmp_path / "cache.jsonl", budget=budget)
    before = (ds / SUMMARIES_FILE).read_bytes()
    monkeypatch.setattr(Summarizer, "load", classmethod(lambda *a, **k: pytest.fail("a finished run must not load the model")))
    res = summarize(ds, cfg_for(tiny_lm_dir, batch_size=1), cache_path=tmp_path / "cache.jsonl", budget=budget)
    assert res.nothing_to_do and (ds / SUMMARIES_FILE).read_bytes() == before


def test_interrupted_run_keeps_every_answer_it_made(tmp_path: Path, tiny_lm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = make_dataset(tmp_path / "ds", long=6, short=0, bare=0)
    cache = tmp_path / "cache.jsonl"
    budget = TokenBudget("words", 1000, lambda ts: [len(t.split()) for t in ts])

    def stop_after_first_batch(done: int, total: int, **fields) -> None:
        if fields.get("new", 0) >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        summarize(ds, cfg_for(tiny_lm_dir, batch_size=2), cache_path=cache, budget=budget, progress=stop_after_first_batch)
    # s4, s5 repeat the texts of s0, s1 (four templates): the first batch's two answers summarize all four
    assert len(read_jsonl(cache)) == 2 and [r["id"] for r in read_jsonl(ds / SUMMARIES_FILE)] == ["s0", "s4", "s1", "s5"]
    res = summarize(ds, cfg_for(tiny_lm_dir, batch_size=2), cache_path=cache, budget=budget)
    assert (res.generated, res.from_cache, res.up_to_date) == (2, 0, 4)  # only s2, s3 were left
    assert max(Counter(r["key"] for r in read_jsonl(cache)).values()) == 1 and len(rows_by_id(ds)) == 6
    # With summaries.jsonl gone, every sample is summarized from the cache alone: no model is loaded.
    (ds / SUMMARIES_FILE).unlink()
    monkeypatch.setattr(Summarizer, "load", classmethod(lambda *a, **k: pytest.fail("cached answers need no model")))
    again = summarize(ds, cfg_for(tiny_lm_dir, batch_size=2), cache_path=cache, budget=budget)
    assert (again.generated, again.from_cache, again.up_to_date) == (0, 6, 0) and len(read_jsonl(cache)) == 4


def test_over_budget_is_retried_then_flagged_never_truncated(tmp_path: Path, tiny_lm_dir: Path) -> None:
    ds = make_dataset(tmp_path / "ds", long=3, short=0, bare=0)
    tiny = TokenBudget("tiny", 3, lambda ts: [len(t) for t in ts])  # 3 characters: nothing fits
    res = summarize(ds, cfg_for(tiny_lm_dir, max_new_tokens=12), cache_path=tmp_path / "cache.jsonl", budget=tiny)
    assert sorted(res.retried) == sorted(res.over_budget) == ["s0", "s1", "s2"]
    cache = read_jsonl(tmp_path / "cache.jsonl")
    assert Counter(r["attempt"] for r in cache) == {0: 3, 1: 3}
    strict = {r["text"] for r in cache if r["attempt"] == 1}
    for row in rows_by_id(ds).values():
        assert row["over_budget"] is True and row["attempts"] == 2
        assert row["text"] in strict and row["tokens"] == len(row["text"]) > 3  # written whole, flagged
    assert res.after.over(3) == 3


def test_retry_with_the_strict_instruction_can_succeed(tmp_path: Path, tiny_lm_dir: Path) -> None:
    ds = make_dataset(tmp_path / "ds", long=2, short=0, bare=0)
    lm = Summarizer.load(str(tiny_lm_dir))
    settings = cfg_for(tiny_lm_dir).settings()
    firsts = {a for a, _ in lm.answer([fill(REFERENCE_INSTRUCTION, t.strip()) for t in Dataset(ds).captions().values()], settings)}
    picky = TokenBudget("picky", 10, lambda ts: [99 if t in firsts else 1 for t in ts])  # first answers too long, later ones fine
    res = summarize(ds, cfg_for(tiny_lm_dir), cache_path=tmp_path / "cache.jsonl", budget=picky, summarizer=lm)
    assert sorted(res.retried) == ["s0", "s1"] and res.over_budget == []
    words = picky.strict_words()
    for sid, row in rows_by_id(ds).items():
        [(strict, _)] = lm.answer([fill(STRICT_INSTRUCTION, Dataset(ds).captions()[sid].strip(), words)], settings)
        assert row["text"] == strict and row["attempts"] == 2 and row["over_budget"] is False


def test_pass_through_copies_texts_that_fit_without_a_model(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", long=0, short=3, bare=0)
    roomy = TokenBudget("roomy", 50, lambda ts: [len(t.split()) for t in ts])
    cfg = SummarizeConfig(model="nobody/no-such-model", pass_through=True)
    res = summarize(ds, cfg, cache_path=tmp_path / "cache.jsonl", budget=roomy)
    assert res.all_fit_before and res.passed_through == 3 and res.fingerprint is None
    sources = {r.id: r.caption for r in Dataset(ds).records}
    for sid, row in rows_by_id(ds).items():
        assert row["model"] == PASSTHROUGH and row["text"] == sources[sid]
    # Without --pass-through the model is needed; its absence says that pass-through would do.
    with pytest.raises(PointdiffError, match="--pass-through"):
        summarize(ds, SummarizeConfig(model="nobody/no-such-model"), cache_path=tmp_path / "cache.jsonl", budget=roomy)


def test_pass_through_sends_only_the_long_texts_to_the_model(tmp_path: Path, tiny_lm_dir: Path) -> None:
    ds = make_dataset(tmp_path / "ds", long=2, short=2, bare=0)
    budget = TokenBudget("words", 60, lambda ts: [len(t.split()) for t in ts])
    res = summarize(ds, cfg_for(tiny_lm_dir, pass_through=True), cache_path=tmp_path / "cache.jsonl", budget=budget)
    assert (res.passed_through, res.generated) == (2, 2)
    assert {sid: r["model"] for sid, r in rows_by_id(ds).items()} == {"s0": str(tiny_lm_dir), "s1": str(tiny_lm_dir), "s2": PASSTHROUGH, "s3": PASSTHROUGH}


def test_cli_shows_words_and_tokens_before_and_after(tmp_path: Path, tiny_lm_dir: Path) -> None:
    ds = make_dataset(tmp_path / "ds", long=2, short=0, bare=1)
    args = ["summarize", str(ds), "--model", str(tiny_lm_dir), "--max-new-tokens", "12", "--encoder", "minilm", "-w", str(tmp_path / "ws")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    long_words = len(LONG.format(side="left", mood="happy").split())
    out = " ".join(result.output.split())
    for phrase in ("tokens mean", "over budget", "minilm tokens (budget 256)", f"before │ {long_words}.0", "after │", "1 samples have no text"):
        assert phrase in out, phrase
    assert len(read_jsonl(tmp_path / "ws" / "cache" / "summarize.jsonl")) == 2
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_cli_missing_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ds = make_dataset(tmp_path / "ds", long=1, short=0, bare=0)
    result = runner.invoke(app, ["summarize", str(ds), "--model", str(tmp_path / "no-model"), "--encoder", "minilm", "-w", str(tmp_path / "ws")])
    assert result.exit_code != 0 and isinstance(result.exception, PointdiffError)
    assert "does not exist" in str(result.exception) and "--model" in str(result.exception)
