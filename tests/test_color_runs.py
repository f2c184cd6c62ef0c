"""Colour points (x, y, r, g, b) through the models, the path, sampling, training, export and the scorer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_runs import TINY, add_embeddings
from torch import nn

import pointdiff
from pointdiff.checkpoint import load_run
from pointdiff.data.dataset import Dataset
from pointdiff.data.sampler import PointSampler
from pointdiff.data.images import values_to_rgb
from pointdiff.data.ingest import IngestConfig, ingest
from pointdiff.evaluate import EvalConfig, evaluate_run
from pointdiff.export import save_points
from pointdiff.flow.model import FiLMResNet, ReferenceMLP, build_model
from pointdiff.flow.path import pair_noise
from pointdiff.metrics.scorer import ClassifierConfig, ClassifierScorer, rasterize, train_classifier
from pointdiff.sample import SamplingSettings, make_noise, sample
from pointdiff.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.mark.parametrize("arch", ["film", "reference"])
def test_a_colour_model_moves_all_five_values_and_rebuilds(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, 6, hidden=32, point_dim=5, **({"blocks": 2, "fourier_features": 8, "embed_dim": 16} if arch == "film" else {"layers": 3}))
    x, t, c = torch.randn(2, 40, 5), torch.rand(2), torch.randn(2, 6)
    if isinstance(model, FiLMResNet):
        nn.init.normal_(model.out.weight)  # starts at zero: give the output layer something to say
    v = model(x, t, c)
    assert v.shape == (2, 40, 5) and (v[..., 2:].abs() > 0).all()
    cfg = model.arch_config()
    assert cfg["point_dim"] == 5
    again = build_model(arch, **cfg)
    again.load_state_dict(model.state_dict())
    torch.testing.assert_close(again(x, t, c), v)


def test_a_grey_model_describes_itself_as_before() -> None:
    # point_dim is left out at 2, so the arch_config of every grey checkpoint written before colour still matches
    assert "point_dim" not in FiLMResNet(4, hidden=8, blocks=1, fourier_features=4, embed_dim=8).arch_config()
    assert "point_dim" not in ReferenceMLP(4, hidden=8, layers=2).arch_config()
    with pytest.raises(ValueError, match="point_dim"):
        ReferenceMLP(4, point_dim=3)


def test_the_colour_reference_mlp_is_the_plain_mlp_on_x_y_r_g_b_t_c() -> None:
    torch.manual_seed(0)
    model = ReferenceMLP(cond_dim=7, hidden=32, layers=4, point_dim=5)
    x, t, c = torch.randn(3, 50, 5), torch.rand(3), torch.randn(3, 7)
    inputs = torch.cat([x, t[:, None, None].expand(3, 50, 1), c[:, None, :].expand(3, 50, 7)], dim=-1)
    torch.testing.assert_close(model(x, t, c), model.net(inputs), rtol=1e-5, atol=1e-5)


def test_fourier_features_read_position_only() -> None:
    model = FiLMResNet(4, hidden=16, blocks=1, fourier_features=8, embed_dim=8, point_dim=5)
    seen: list[torch.Tensor] = []
    model.inp.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    x = torch.randn(1, 30, 5)
    shifted = x.clone()
    shifted[..., 2:] += 1.0
    model(x, torch.rand(1), torch.randn(1, 4))
    model(shifted, torch.rand(1), torch.randn(1, 4))
    a, b = seen
    assert a.shape[-1] == 5 + 2 * 8  # the point's five values, then sin and cos of 8 frequencies of (x, y)
    torch.testing.assert_close(b[..., :5] - a[..., :5], torch.tensor([0.0, 0, 1, 1, 1]).expand(1, 30, 5))
    assert torch.equal(a[..., 5:], b[..., 5:])  # colour does not move the position features


@pytest.mark.parametrize("method", ["exact", "chunked"])
def test_pairing_colour_clouds_permutes_whole_points(method: str) -> None:
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(2, 64, 5, generator=g), torch.randn(2, 64, 5, generator=g)
    paired = pair_noise(x0, x1, method, chunk=16)
    for b in range(2):  # the same five-value rows, reordered
        assert sorted(map(tuple, paired[b].tolist())) == sorted(map(tuple, x0[b].tolist()))
    assert ((paired - x1) ** 2).sum() < ((x0 - x1) ** 2).sum()


def test_sampling_refuses_noise_of_the_wrong_width() -> None:
    model = FiLMResNet(4, hidden=8, blocks=1, fourier_features=4, embed_dim=8, point_dim=5)
    with pytest.raises(pointdiff.PointdiffError, match="5"):
        sample(model, torch.randn(1, 4), make_noise(1, 10, 0, 2.0), SamplingSettings(steps=2))
    assert sample(model, torch.randn(1, 4), make_noise(1, 10, 0, 2.0, dim=5), SamplingSettings(steps=2)).x.shape == (1, 10, 5)


@pytest.fixture
def color_dataset(tmp_path: Path) -> Dataset:
    """Four 32×32 pictures: a bar across or down, in red or in blue, with captions that say so."""
    src = tmp_path / "src"
    src.mkdir()
    rows = []
    for name, rgb in (("red", (200, 20, 20)), ("blue", (20, 40, 200))):
        for shape in ("horizontal", "vertical"):
            a = np.full((32, 32, 3), 255, np.uint8)
            if shape == "horizontal":
                a[14:18, 4:28] = rgb
            else:
                a[4:28, 14:18] = rgb
            Image.fromarray(a).save(src / f"{name}-{shape}.png")
            rows.append({"file_name": f"{name}-{shape}.png", "text": f"a {name} {shape} bar"})
    (src / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest(src, tmp_path / "data", IngestConfig(color=True, workers=1, contact_sheet=0))
    ds = Dataset(tmp_path / "data")
    add_embeddings(ds)
    return ds


def test_a_colour_run_trains_resumes_generates_and_exports(color_dataset: Dataset, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(replace(TINY, steps=30, checkpoint_every=15), color_dataset.root, run_dir=run)
    loaded = load_run(run)
    assert loaded.model.point_dim == 5 and loaded.meta["arch_config"]["point_dim"] == 5
    pipe = pointdiff.load(run, device="cpu")
    cond = torch.nn.functional.normalize(torch.randn(2, 16), dim=1)
    gen = pipe(["a", "b"], num_points=64, num_samples=2, seed=3, prompt_embeds=cond, keep_path=True)
    assert gen.points.shape == (2, 2, 64, 5) and torch.isfinite(gen.points).all()
    assert torch.equal(gen.points, pipe(["a", "b"], num_points=64, num_samples=2, seed=3, prompt_embeds=cond).points)  # seeded
    csv = save_points(tmp_path / "out.csv", gen.points).read_text().splitlines()
    assert csv[0] == "prompt,sample,x,y,r,g,b" and len(csv) == 1 + 2 * 2 * 64
    first = gen.points[0, 0, 0].numpy()
    assert [int(v) for v in csv[1].split(",")[4:]] == np.round(values_to_rgb(first[2:]) * 255).astype(int).tolist()
    ply = save_points(tmp_path / "out.ply", gen.points).read_text()
    assert "property uchar red" in ply and ply.count("\n") > 256
    assert save_points(tmp_path / "out.png", gen.points).stat().st_size > 0
    assert gen.save_animation(tmp_path / "flow.gif").stat().st_size > 0


def test_eval_of_a_colour_run_compares_colour_clouds(color_dataset: Dataset, tmp_path: Path) -> None:
    train(replace(TINY, steps=10), color_dataset.root, run_dir=tmp_path / "run")
    pipe = pointdiff.load(tmp_path / "run", device="cpu")
    res = evaluate_run(pipe, EvalConfig(num_samples=2, max_prompts=2, seed=1, emd=False))
    assert res.clouds.shape[-1] == 5


def test_the_colour_raster_carries_density_and_colour() -> None:
    cloud = torch.tensor([[[0.0, 0.0, 3.0, -3.0, 0.0]] * 10 + [[1.5, 1.5, -3.0, -3.0, 3.0]] * 30])  # a red spot, a blue spot
    img = rasterize(cloud, 4)
    assert img.shape == (1, 4, 4, 4)
    torch.testing.assert_close(img[:, :1], rasterize(cloud[..., :2], 4))  # channel 0 is the grey raster
    dens = img[0, 0]
    mean = img[0, 1:] / dens.clamp_min(1e-9)
    red_cell, blue_cell = (1, 1), (0, 3)  # (row, col): the red spot sits on four cells' corner, the blue one in a cell
    assert dens.sum().item() == pytest.approx(16.0)
    torch.testing.assert_close(mean[:, blue_cell[0], blue_cell[1]], torch.tensor([-1.0, -1.0, 1.0]))
    torch.testing.assert_close(mean[:, red_cell[0], red_cell[1]], torch.tensor([1.0, -1.0, 0.0]))


def test_a_colour_scorer_tells_colours_a_grey_one_cannot(color_dataset: Dataset, tmp_path: Path) -> None:
    sampler = PointSampler.from_dataset(color_dataset)
    labels = [{"colour": r.id.split("-")[0]} for r in color_dataset.records]
    cfg = ClassifierConfig(grid=16, width=8, epochs=30, batch_size=4, num_points=256)
    scorer = train_classifier(sampler, labels, ["colour"], cfg)
    assert scorer.config.point_dim == 5
    test = sampler.sample_all(256, seed=9)
    assert [p["colour"] for p in scorer.predict(test)] == [lab["colour"] for lab in labels]
    scorer.save(tmp_path / "s.safetensors")
    again = ClassifierScorer.load(tmp_path / "s.safetensors")
    assert again.predict(test) == scorer.predict(test)
    # the same pictures without colour: red and blue bars are the same shapes, so the grey scorer cannot tell them apart
    grey = train_classifier(PointSampler.from_clouds(sampler.sample_all(512, seed=2)[..., :2]), labels, ["colour"], cfg)
    grey_guess = [p["colour"] for p in grey.predict(test)]  # it reads a colour cloud's (x, y) alone
    assert grey_guess[0] == grey_guess[2] and grey_guess[1] == grey_guess[3]  # same shape, same answer


def test_the_default_recipe_on_colour_data_trains_the_film_model_and_says_so(color_dataset: Dataset, tmp_path: Path) -> None:
    from pointdiff.errors import PointdiffError
    from pointdiff.training import plan_training
    from pointdiff.workspace import find_workspace

    ws = find_workspace(tmp_path / "ws")
    plan = plan_training(ws, data=color_dataset.root, out=tmp_path / "run")
    assert plan.cfg.arch == "film" and plan.cfg.clouds_per_step == 64  # the film preset, not just its arch
    assert plan.recipe_note is not None and "--preset film" in plan.recipe_note
    with pytest.raises(PointdiffError, match="colour clouds with --preset film"):
        plan_training(ws, data=color_dataset.root, overrides={"arch": "density"}, out=tmp_path / "run2")
    grey = plan_training(ws, data=color_dataset.root, overrides={"arch": "film"}, out=tmp_path / "run3")
    assert grey.recipe_note is None
