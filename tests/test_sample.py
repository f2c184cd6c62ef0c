"""Sampling: settings resolve from a run, seeds repeat, guidance behaves; exports have the right shapes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pointdiff.checkpoint import LoadedRun
from pointdiff.errors import PointdiffError
from pointdiff.export import save_animation, save_points
from pointdiff.flow.model import build_model
from pointdiff.pipeline import Pipeline
from pointdiff.sample import SamplingSettings, make_noise, prompt_noise, sample
from pointdiff.text.embeddings import EncoderInfo, check_encoder

INFO = EncoderInfo(id="fake", family="sentence", dim=8, max_tokens=32, weights_sha256="a" * 64)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture
def run() -> LoadedRun:
    """A small random film model dressed as a loaded run (sampling does not care that it is untrained)."""
    torch.manual_seed(0)
    model = build_model("film", 8, hidden=32, blocks=2, fourier_features=8, embed_dim=16)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    meta = {"step": 0, "sampling": {"solver": "midpoint", "steps": 4, "guidance": 1.0, "noise_std": 2.0}}
    return LoadedRun(model=model.eval(), meta=meta, encoder=INFO, path=Path("."))


class FakeEncoder:
    def __init__(self, info: EncoderInfo = INFO):
        self.info = info

    def encode(self, texts: list[str]) -> torch.Tensor:
        rows = [torch.nn.functional.normalize(torch.randn(self.info.dim, generator=torch.Generator().manual_seed(len(t))), dim=0) for t in texts]
        return torch.stack(rows)


def test_settings_come_from_the_run_and_overrides_win() -> None:
    meta = {"sampling": {"solver": "midpoint", "steps": 4, "guidance": 1.5, "noise_std": 1.0, "precision": "fp32"}}
    st = SamplingSettings.from_meta(meta)
    assert (st.solver, st.steps, st.guidance, st.noise_std, st.precision) == ("midpoint", 4, 1.5, 1.0, "fp32")
    over = SamplingSettings.from_meta(meta, steps=8, solver=None, guidance=1.0)  # None keeps the run's
    assert (over.solver, over.steps, over.guidance) == ("midpoint", 8, 1.0)
    old = SamplingSettings.from_meta({})  # a run that stored nothing samples like the reference
    assert (old.solver, old.steps, old.noise_std, old.precision) == ("euler", 200, 2.0, "fp32")
    with pytest.raises(PointdiffError, match="unknown sampling settings"):
        SamplingSettings.from_meta(meta, step=3)
    with pytest.raises(PointdiffError, match="unknown solver"):
        SamplingSettings.from_meta(meta, solver="leapfrog")
    with pytest.raises(PointdiffError, match="precision"):
        SamplingSettings.from_meta(meta, precision="fp16")


def test_auto_precision_is_resolved_for_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from pointdiff import device

    meta = {"sampling": {"precision": "auto"}}
    monkeypatch.setattr(device, "fast_bf16", lambda kind: True)
    assert SamplingSettings.from_meta(meta, "cpu").precision == "bf16"
    monkeypatch.setattr(device, "fast_bf16", lambda kind: False)
    assert SamplingSettings.from_meta(meta, "cpu").precision == "fp32"


def test_same_seed_same_samples_other_seed_other_samples(run: LoadedRun) -> None:
    cond, st = torch.randn(3, 8), SamplingSettings(solver="euler", steps=5)
    a = sample(run.model, cond, make_noise(3, 100, 7, 2.0), st).x
    b = sample(run.model, cond, make_noise(3, 100, 7, 2.0), st).x
    c = sample(run.model, cond, make_noise(3, 100, 8, 2.0), st).x
    assert a.shape == (3, 100, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_batches_do_not_change_the_clouds(run: LoadedRun) -> None:
    cond, noise, st = torch.randn(5, 8), make_noise(5, 64, 0, 2.0), SamplingSettings(steps=2)
    whole = sample(run.model, cond, noise, st, batch=64).x
    torch.testing.assert_close(sample(run.model, cond, noise, st, batch=2).x, whole, rtol=1e-4, atol=1e-4)  # float rounding only


def test_prompt_noise_shared_or_independent() -> None:
    shared = prompt_noise(3, 2, 16, seed=4, noise_std=2.0)
    assert shared.shape == (6, 16, 2) and torch.equal(shared[0], shared[2]) and torch.equal(shared[1], shared[5])
    own = prompt_noise(3, 2, 16, seed=4, noise_std=2.0, shared=False)
    assert torch.equal(own[:2], shared[:2]) and not torch.equal(own[2], own[0])  # prompt 0 draws the same either way
    assert torch.equal(own, make_noise(6, 16, 4, 2.0))


def test_pipeline_uses_run_defaults_and_shares_noise_across_prompts(run: LoadedRun) -> None:
    pipe = Pipeline(run, encoder=FakeEncoder())
    gen = pipe(["one", "three"], num_points=37, num_samples=2, seed=3)
    assert gen.points.shape == (2, 2, 37, 2)
    assert gen.settings["solver"] == "midpoint" and gen.settings["steps"] == 4 and gen.nfe == 8
    assert torch.equal(gen.points, pipe(["one", "three"], num_points=37, num_samples=2, seed=3).points)
    alone = pipe("three", num_points=37, num_samples=2, seed=3)
    torch.testing.assert_close(alone.points[0], gen.points[1], rtol=1e-4, atol=1e-4)  # a prompt's picture does not depend on its neighbours
    euler = pipe(["one"], steps=3, solver="euler", num_points=10, keep_path=True)
    assert euler.nfe == 3 and len(euler.path) == 4 and euler.path[0].shape == (1, 1, 10, 2)


def test_guidance_one_equals_conditional(run: LoadedRun) -> None:
    cond, noise = torch.randn(2, 8), make_noise(2, 50, 1, 2.0)
    plain = sample(run.model, cond, noise, SamplingSettings(solver="heun", steps=3, guidance=1.0)).x
    guided = sample(run.model, cond, noise, SamplingSettings(solver="heun", steps=3, guidance=3.0)).x
    assert not torch.allclose(plain, guided)
    direct = run.model.field(cond, 1.0)(torch.zeros(2, 5, 2), 0.5)
    torch.testing.assert_close(direct, run.model(torch.zeros(2, 5, 2), torch.full((2,), 0.5), cond))


def test_wrong_encoder_is_refused(run: LoadedRun) -> None:
    other = replace(INFO, weights_sha256="b" * 64)
    with pytest.raises(PointdiffError, match="encoder"):
        Pipeline(run, encoder=FakeEncoder(other))
    with pytest.raises(PointdiffError, match="encoder"):
        check_encoder(INFO, replace(INFO, dim=16, id="bigger"))
    assert check_encoder(INFO, replace(INFO, id="/local/copy")) is None  # same weights elsewhere: fine
    unknown = EncoderInfo("openai/clip-vit-base-patch32", "clip", 512, 77, "")  # the reference's .pt data
    assert "unknown" in (check_encoder(unknown, EncoderInfo("/models/clip", "clip", 512, 77, "c" * 64)) or "")
    with pytest.raises(PointdiffError, match="clip 512-d"):
        check_encoder(unknown, EncoderInfo("minilm", "minilm", 384, 256, "d" * 64))


def test_exports_write_the_right_shapes(tmp_path: Path) -> None:
    pts = torch.rand(2, 3, 50, 2) * 6 - 3
    save_points(tmp_path / "p.npy", pts, ["a", "b"])
    arr = np.load(tmp_path / "p.npy", allow_pickle=False)
    assert arr.shape == (2, 3, 50, 2) and arr.dtype == np.float32
    np.testing.assert_allclose(arr, pts.numpy())
    save_points(tmp_path / "p.csv", pts, ["a", "b"])
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "prompt,sample,x,y" and len(rows) == 1 + 2 * 3 * 50
    table = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 2:].reshape(2, 3, 50, 2), pts.numpy(), atol=1e-5)
    save_points(tmp_path / "p.ply", pts, ["a", "b"])
    text = (tmp_path / "p.ply").read_text().splitlines()
    assert text[0] == "ply" and "element vertex 300" in text
    body = text[text.index("end_header") + 1 :]
    assert len(body) == 300 and len(body[0].split()) == 5
    save_points(tmp_path / "p.png", pts, ["a", "b"])
    assert Image.open(tmp_path / "p.png").size[0] > 100
    save_animation(tmp_path / "f.gif", [pts * s for s in (0.0, 0.5, 1.0)], ["a", "b"], [0.0, 0.5, 1.0], min_frames=5)
    gif = Image.open(tmp_path / "f.gif")
    assert gif.n_frames == 5  # 3 solver states, 2 frames between each pair of them
    with pytest.raises(PointdiffError, match="format"):
        save_points(tmp_path / "p.txt", pts)


