"""One training step's parts: the schedule, the data order and the EMA are pure functions of the step."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tiny_runs import TINY

from pointdiff.data.training import TrainingData
from pointdiff.trainer import EMA, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def test_lr_warms_up_then_decays_to_zero(train_data: TrainingData) -> None:
    t = Trainer(replace(TINY, lr=1e-2, warmup_steps=10, steps=110), train_data)
    assert t.lr_at(0) == pytest.approx(1e-3) and t.lr_at(9) == pytest.approx(1e-2)
    assert t.lr_at(60) == pytest.approx(5e-3) and t.lr_at(110) == pytest.approx(0.0, abs=1e-12)
    flat = Trainer(replace(TINY, lr=1e-2, warmup_steps=0, schedule="constant"), train_data)
    assert {flat.lr_at(s) for s in (0, 50, 500)} == {1e-2}


def test_each_pass_visits_every_sample_once(train_data: TrainingData) -> None:
    n = len(train_data.cond)  # 8 samples, 4 clouds per step: one pass every 2 steps
    t = Trainer(TINY, train_data)
    for first in (0, 2, 6):
        seen = torch.cat([t.clouds_at(first), t.clouds_at(first + 1)])
        assert sorted(seen.tolist()) == list(range(n))
    assert not torch.equal(torch.cat([t.clouds_at(0), t.clouds_at(1)]), torch.cat([t.clouds_at(2), t.clouds_at(3)]))  # reshuffled
    assert torch.equal(Trainer(TINY, train_data).clouds_at(5), t.clouds_at(5))  # a function of the step alone


def test_text_noise_moves_each_vector_to_a_nearby_unit_vector_and_leaves_the_null_condition_alone(train_data: TrainingData) -> None:
    plain = Trainer(replace(TINY, clouds_per_step=8, cond_dropout=0.5), train_data)
    noisy = Trainer(replace(TINY, clouds_per_step=8, cond_dropout=0.5, cond_noise=0.5), train_data)
    dropped_total = 0
    for step in range(3):
        a, b = plain.batch(step), noisy.batch(step)
        if step == 0:  # points, noise and times: the same draws as without it (later steps: the generator has moved on)
            assert all(torch.equal(a[k], b[k]) for k in range(3))
        rows = noisy.cond[noisy.clouds_at(step)]  # the clean vectors of this step's texts
        dropped = b[3].abs().sum(1) == 0  # dropout still zeroes whole vectors
        dropped_total += int(dropped.sum())
        kept_a, kept_b = rows[~dropped], b[3][~dropped]
        torch.testing.assert_close(kept_b.norm(dim=1), torch.ones(len(kept_b)))
        cos = (kept_a * kept_b).sum(1)
        assert (cos < 0.999).all() and (cos > 0.6).all()  # moved, but stays near (1 / √(1 + σ²) ≈ 0.89 on average)
    assert 0 < dropped_total < 24


def test_ema_ramps_up_and_follows_the_model() -> None:
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, decay=0.999)
    assert ema.decay_at(0) == pytest.approx(0.1) and ema.decay_at(10_000) == 0.999
    assert not any(p.requires_grad for p in ema.model.parameters())
    with torch.no_grad():
        model.weight.add_(1.0)
    before = ema.model.weight.clone()
    ema.update(model, step=0)  # 90 % of the way at the first step
    torch.testing.assert_close(ema.model.weight, before + 0.9 * (model.weight - before))


def test_sampling_model_is_the_ema_when_kept(train_data: TrainingData) -> None:
    with_ema = Trainer(TINY, train_data)
    assert with_ema.ema is not None and with_ema.sampling_model() is with_ema.ema.model
    without = Trainer(replace(TINY, ema_decay=0.0), train_data)
    assert without.ema is None and without.sampling_model() is without.model


def test_a_non_finite_gradient_stops_the_step_before_it_changes_anything(train_data: TrainingData) -> None:
    from pointdiff.trainer import TrainingDiverged

    t = Trainer(replace(TINY, grad_clip=0.0), train_data)
    t.run(until=5)
    before = [p.detach().clone() for p in t.model.parameters()]
    ema_before = [p.detach().clone() for p in t.ema.model.parameters()]  # type: ignore[union-attr]
    next(t.model.parameters()).register_hook(lambda g: g * float("inf"))  # a finite loss whose gradient overflows
    with pytest.raises(TrainingDiverged, match="diverged at step 6: the gradient norm is (inf|nan)") as err:
        t.train_step()
    assert "grad_clip=1.0" in err.value.hints
    assert t.step == 5 and len(t.losses) == 5
    assert all(torch.equal(a, b) for a, b in zip(before, t.model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(ema_before, t.ema.model.parameters()))  # type: ignore[union-attr]


@pytest.mark.parametrize("arch", ["film", "latent-map", "density"])
def test_each_process_draws_the_whole_batch_and_keeps_its_own_clouds(train_data: TrainingData, arch: str) -> None:
    from pointdiff.distributed import Distributed

    cfg = replace(TINY, cond_dropout=0.5, cond_noise=0.5, arch=arch)  # every draw of a step matters: points, noise, pairing, t, dropout, text noise
    whole = Trainer(cfg, train_data)
    shares = [Trainer(cfg, train_data, dist=Distributed(rank=r, world_size=2)) for r in (0, 1)]
    for step in range(3):
        full = whole.batch(step)
        parts = [t.batch(step) for t in shares]
        for k in range(4):  # x0 (paired within each cloud), x1, t, cond: rank r's are clouds 2r, 2r + 1, bit for bit
            assert torch.equal(torch.cat([parts[0][k], parts[1][k]]), full[k])
        if arch == "film":
            assert full[4] is None and parts[0][4] is None
        else:  # the encoder's picture draw (the density model: the pictures) and the model's noise are shared out the same way
            for k in range(2):
                assert torch.equal(torch.cat([parts[0][4][k], parts[1][4][k]]), full[4][k])
        assert all(torch.equal(t.generator.get_state(), whole.generator.get_state()) for t in shares)  # the generators move alike
