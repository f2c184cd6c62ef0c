"""The training loop: one flow-matching step, its schedule, and the state an exact resume needs.

One step (flow matching on the straight path, see ``flow/path.py``)::

    texts i_1..i_B   (shuffled passes over every (caption, picture) row)
    x1  = P fresh points of each text's picture        [B, P, d]   (d = 2, or 5 with colour)
    x0  ~ N(0, σ²I), paired to x1 within each cloud    [B, P, d]
    t   ~ U(0, 1), one per cloud                       [B]
    c   = text vector of each cloud (with noise if cond_noise > 0), zeroed with probability p_drop (guidance)
    loss = ‖v(x_t, t, c) − (x1 − x0)‖²  (mean)

:class:`Trainer` knows nothing about terminals or files: progress, checkpoints and
evaluation attach from outside as callbacks ``callback(trainer)`` after every step (minGPT
style); :mod:`pointdiff.training` wires them up. The model, the :class:`EMA` and the optimizer
are separate objects, and all randomness flows from one ``torch.Generator`` plus the step
number, so a resumed run repeats an uninterrupted one exactly.

Several processes (``torchrun``, :mod:`pointdiff.distributed`): ``clouds_per_step`` stays the
global batch. Every process draws the whole batch from the same seeded generator (cheap) and
keeps its own contiguous share of the clouds before the per-cloud noise pairing; the loss is
the mean over its share and ``DistributedDataParallel`` averages the gradients, which is the
gradient of the whole batch. Model, EMA, optimizer, generator and step are then the same in
every process, and the same as one process training the same global batch (up to float
rounding), so a checkpoint resumes with any number of processes.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pointdiff.data.training import TrainingData
from pointdiff.device import resolve_precision
from pointdiff.distributed import Distributed, current
from pointdiff.errors import PointdiffError
from pointdiff.flow.model import VelocityModel, build_model
from pointdiff.flow.path import linear_path, pair_noise
from pointdiff.progress import ProgressFn, report
from pointdiff.recipe import TrainConfig

Callback = Callable[["Trainer"], None]


class TrainingDiverged(PointdiffError):
    """The loss or the gradient stopped being a finite number; raised before that step changes any weight.

    ``hints`` says what to change in a new run, for the message the caller completes.
    """

    def __init__(self, step: int, what: str, value: float, cfg: TrainConfig):
        self.step, self.what, self.value = step, what, value
        hints = [f"a lower learning rate (--lr {cfg.lr / 10:g}; it is {cfg.lr:g})"]
        if cfg.grad_clip <= 0:
            hints.append("gradient clipping (--set grad_clip=1.0)")
        if cfg.warmup_steps < 100:
            hints.append(f"a longer warm-up (--set warmup_steps={max(200, 2 * cfg.warmup_steps)})")
        if cfg.precision != "fp32":
            hints.append("--precision fp32")
        self.hints = ", ".join(hints)
        super().__init__(f"training diverged at step {step + 1}: the {what} is {value}")


class EMA:
    """An exponential moving average of a model's weights: what generate samples with.

    The trainer calls :meth:`update` after every optimizer step. The decay ramps up early
    (``(1 + step) / (10 + step)``) so the average does not remember the random init.
    """

    def __init__(self, model: VelocityModel, decay: float):
        self.decay = decay
        self.model: VelocityModel = copy.deepcopy(model).requires_grad_(False)

    def decay_at(self, step: int) -> float:
        """The decay used after step ``step`` (0-based)."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Move the average toward ``model``'s weights after step ``step``."""
        d = self.decay_at(step)
        for pe, pm in zip(self.model.parameters(), model.parameters()):
            pe.lerp_(pm, 1 - d)


def local_clouds(cfg: TrainConfig, dist: Distributed) -> slice:
    """This process's clouds of every step's global batch: a contiguous, equal share.

    Raises:
        PointdiffError: ``clouds_per_step`` cannot be shared equally by the processes.
    """
    b, n = cfg.clouds_per_step, dist.world_size
    if b % n:
        up = -(-b // n) * n
        raise PointdiffError(
            f"clouds_per_step ({b}) is the batch of all {n} processes together and must be divisible by {n}: "
            f"use --clouds-per-step {up}{f' or {b // n * n}' if b > n else ''}, or a number of processes that divides {b}"
        )
    share = b // n
    return slice(dist.rank * share, (dist.rank + 1) * share)


class Trainer:
    """The training loop's state and one step of it; knows nothing about the CLI or files.

    Attributes the callbacks read: ``step`` (steps done), ``model`` (the network itself, never
    a DDP wrapper), ``ema`` (an :class:`EMA` or None), ``last_loss`` (of the whole global
    batch), ``losses`` (one per step), ``elapsed`` (seconds spent in steps), ``dist`` (this
    process's place among the processes; :data:`~pointdiff.distributed.SINGLE` alone).
    """

    def __init__(self, cfg: TrainConfig, data: TrainingData, device: str = "cpu", dist: Distributed | None = None):
        cfg.validate()
        self.dist = dist if dist is not None else current()  # the process group torchrun set up, if any
        self.local = local_clouds(cfg, self.dist)  # this process's clouds of each step's batch (all of them alone)
        self.cfg, self.data, self.device = cfg, data, torch.device(self.dist.place(device))  # plain "cuda": this process's GPU
        with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the global RNG alone
            torch.manual_seed(cfg.seed)
            # point_dim from the data: a colour dataset's points are (x, y, r, g, b)
            self.model: VelocityModel = build_model(cfg.arch, data.cond.shape[1], point_dim=data.sampler.dim, **cfg.model_kwargs()).to(self.device)
        if self.model.learns_codes:  # before the EMA copies the model: both keep the fitted basis
            self.model.fit(data.sampler)
        self.ema = EMA(self.model, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self._ddp: torch.nn.parallel.DistributedDataParallel | None = None  # made by the first step with several processes
        opt = torch.optim.AdamW if cfg.weight_decay > 0 else torch.optim.Adam
        self.optimizer = opt(self.model.parameters(), lr=cfg.lr, **({"weight_decay": cfg.weight_decay} if cfg.weight_decay > 0 else {}))
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.cond = data.cond.to(self.device)  # a large dataset's vectors stay in their file (DiskRows.to): a step reads its batch's rows
        self.precision = resolve_precision(cfg.precision, self.device)  # what "auto" means on this machine
        self.step = 0
        self.losses: list[float] = []
        self.last_loss = float("nan")
        self.elapsed = 0.0
        self._order_epoch, self._order = -1, torch.empty(0, dtype=torch.long)

    def net(self) -> torch.nn.Module:
        """What a step calls: the model, or with several processes its DDP wrapper (made on first use).

        DDP averages the gradients over the processes in backward; the EMA, the optimizer and
        checkpoints keep using ``self.model``, the module it wraps (the same parameter tensors).
        Buffers are built from the seed and never change, so nothing is sent before a forward.
        """
        if not self.dist.active:
            return self.model
        if self._ddp is None:  # a collective: every process makes it at the same step
            ids = [self.device] if self.device.type == "cuda" else None
            self._ddp = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids, forward_sync_buffers=False)
        return self._ddp

    def release(self) -> None:
        """Drop the DDP wrapper, and with it its hold on the process group (a later step makes a new one).

        :func:`pointdiff.training.train` calls it when training ends: a wrapper still alive when
        the process leaves the group can abort the process at exit (gloo's threads).
        """
        self._ddp = None

    def sampling_model(self) -> VelocityModel:
        """The weights generate would use: the EMA's when the run keeps one."""
        return self.ema.model if self.ema is not None else self.model

    # --- schedule and data order: pure functions of the step, so resuming needs no extra state ---
    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based): linear warm-up, then cosine to 0 or constant."""
        cfg = self.cfg
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return cfg.lr
        span = max(1, cfg.steps - cfg.warmup_steps)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / span)))

    def clouds_at(self, step: int) -> Tensor:
        """Text rows of step ``step``: consecutive slots of shuffled passes over the rows."""
        n, b = len(self.data.cond), self.cfg.clouds_per_step
        out = []
        for pos in range(step * b, (step + 1) * b):
            epoch, k = divmod(pos, n)
            if epoch != self._order_epoch:
                g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
                self._order_epoch, self._order = epoch, torch.randperm(n, generator=g)
            out.append(int(self._order[k]))
        return torch.tensor(out, dtype=torch.long)

    def batch(self, step: int) -> tuple[Tensor, Tensor, Tensor, Tensor, tuple[Tensor, Tensor] | None]:
        """(x0, x1, t, cond, encoder) of this process's clouds of step ``step`` (all of them in one process), on the device.

        ``encoder``: for a model with an encoder, (another, larger draw of each cloud's
        picture, ``model.picture_points`` points; ``model.train_noise`` standard-normal
        numbers per cloud); None for a model without one.

        The whole global batch is drawn from the trainer's generator in every process, so the
        generator moves alike everywhere; each keeps its own slice before the pairing, which
        is per cloud and so gives each cloud what pairing the whole batch would.
        """
        cfg, g = self.cfg, self.generator
        idx = self.clouds_at(step)  # text rows; a picture with k captions has k rows
        if self.model.learns_codes:  # no points to learn from: empty clouds, nothing drawn, nothing paired
            x1 = torch.empty(len(idx), 0, self.data.sampler.dim)
        else:
            x1 = self.data.sampler.sample(self.data.picture[idx], cfg.points_per_cloud, g, jitter=cfg.jitter)
        x0 = torch.randn(x1.shape, generator=g) * cfg.noise_std
        t = torch.rand(len(idx), generator=g)
        keep = (torch.rand(len(idx), generator=g) >= cfg.cond_dropout).float() if cfg.cond_dropout > 0 else torch.ones(len(idx))
        encoder = None
        if self.model.picture_points:  # drawn last: a model without an encoder sees the numbers it always did
            picture = self.data.sampler.sample(self.data.picture[idx], self.model.picture_points, g)
            encoder = (picture, torch.randn(len(idx), self.model.train_noise, generator=g))
        elif self.model.learns_codes:  # the pictures themselves (their codes are the model's)
            encoder = (self.data.picture[idx], torch.randn(len(idx), self.model.train_noise, generator=g))
        # drawn after everything else, and only when asked: a run without it sees the numbers it always did
        wobble = torch.randn(len(idx), self.cond.shape[1], generator=g) * (cfg.cond_noise / math.sqrt(self.cond.shape[1])) if cfg.cond_noise > 0 else None
        mine = self.local
        idx, x0, x1, t, keep = idx[mine], x0[mine], x1[mine], t[mine], keep[mine]
        if x1.shape[1]:  # draws nothing: its place after t and keep changes no number
            x0 = pair_noise(x0, x1, cfg.pairing, cfg.pairing_chunk)
        cond = self.cond[idx.to(self.cond.device)].to(self.device)  # gathered where the vectors are: the device, or disk
        if wobble is not None:  # a nearby direction of the text space, still a unit vector (zero stays the null condition)
            cond = F.normalize(cond + wobble[mine].to(self.device), dim=1)
        cond = cond * keep.to(self.device)[:, None]
        if encoder is not None:
            encoder = (encoder[0][mine].to(self.device), encoder[1][mine].to(self.device))
        return x0.to(self.device), x1.to(self.device), t.to(self.device), cond, encoder

    def train_step(self) -> float:
        """One optimizer step; returns its loss."""
        cfg, step = self.cfg, self.step
        start = time.perf_counter()
        x0, x1, t, cond, encoder = self.batch(step)
        ps = linear_path(x0, x1, t)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(step)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            if encoder is None:
                v, extra = self.net()(ps.x_t, ps.t, cond), None
            else:  # a model with an encoder, and its own loss terms
                v, extra = self.net()(ps.x_t, ps.t, cond, picture=encoder[0], noise=encoder[1])
        if v is None:  # a model without a point flow (the density model): its own loss only
            loss = extra.float()
        else:
            loss = F.mse_loss(v.float(), ps.dx_t)  # mean over this process's clouds
            if extra is not None:
                loss = loss + extra.float()
        # The whole batch's loss (equal shares: the mean of the processes' means), the same
        # number in every process, so all of them stop together on a non-finite one.
        batch_loss = self.dist.mean(loss.detach())
        if not torch.isfinite(batch_loss):  # stop before the bad step touches the weights, the EMA or a checkpoint
            raise TrainingDiverged(step, "loss", float(batch_loss), cfg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # with DDP, the gradients are averaged over the processes here
        if cfg.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters() if p.grad is not None])
        if not torch.isfinite(norm):
            raise TrainingDiverged(step, "gradient norm", float(norm), cfg)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model, step)
        self.step += 1
        self.last_loss = float(batch_loss)
        self.losses.append(self.last_loss)
        self.elapsed += time.perf_counter() - start
        return self.last_loss

    def run(self, until: int | None = None, callbacks: Sequence[Callback] = (), progress: ProgressFn | None = None) -> None:
        """Train until ``until`` steps are done (default: ``cfg.steps``), calling callbacks after each."""
        until = self.cfg.steps if until is None else until
        smooth = None
        while self.step < until:
            loss = self.train_step()
            smooth = loss if smooth is None else 0.98 * smooth + 0.02 * loss
            for cb in callbacks:
                cb(self)
            report(progress, self.step, until, loss=smooth, **{"steps/s": self.step_rate()})

    def step_rate(self) -> float:
        """Steps per second so far."""
        return len(self.losses) / self.elapsed if self.elapsed > 0 else 0.0

    # --- state for exact resume ---
    def state_dict(self) -> dict[str, Any]:
        """Everything besides the weights that a resumed run needs (tensors and plain data only)."""
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "losses": torch.tensor(self.losses, dtype=torch.float64),
            "elapsed": self.elapsed,
        }

    def load_state_dict(self, state: dict[str, Any], model: dict[str, Tensor], ema: dict[str, Tensor] | None) -> None:
        """Restore weights, EMA, optimizer, generator and history (the inverse of saving)."""
        self.model.load_state_dict(model)
        if self.ema is not None:
            self.ema.model.load_state_dict(ema if ema is not None else model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
        self.losses = [float(x) for x in state["losses"]]
        self.last_loss = self.losses[-1] if self.losses else float("nan")
        self.elapsed = float(state["elapsed"])
