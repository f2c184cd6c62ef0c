"""Training a text-conditioned flow-matching model on point clouds.

Usage (the CLI wraps exactly this)::

    from pointdiff.train import TrainConfig, load_training_data, train
    data = load_training_data("pointdiff-work/dataset")        # points + embeddings + encoder
    result = train(TrainConfig(steps=3000), data, run_dir="runs/demo")
    result.model, result.ema                                    # EMA weights are what generate uses

One step (flow matching on the straight path, see ``flow/path.py``)::

    clouds i_1..i_B  (shuffled passes over the data)
    x1  = P fresh points of each cloud                [B, P, 2]
    x0  ~ N(0, σ²I), paired to x1 within each cloud    [B, P, 2]
    t   ~ U(0, 1), one per cloud                       [B]
    c   = text vector of each cloud, zeroed with probability p_drop (guidance)
    loss = ‖v(x_t, t, c) − (x1 − x0)‖²  (mean)

The loop (:class:`Trainer`) knows nothing about terminals or files: progress, checkpoints
and evaluation attach from outside as callbacks ``callback(trainer)`` after every step
(minGPT style). The model, the EMA copy and the optimizer are separate objects, and all
randomness flows from one ``torch.Generator`` plus the step number, so a resumed run
repeats an uninterrupted one exactly (and DDP could wrap ``trainer.model``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset, PointSampler
from pointdiff.device import PRECISIONS, resolve_precision
from pointdiff.errors import PointdiffError
from pointdiff.flow.model import VelocityModel, build_model
from pointdiff.flow.path import PAIRINGS, linear_path, pair_noise
from pointdiff.progress import ProgressFn, report
from pointdiff.text.embeddings import EncoderInfo


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    The defaults are our recipe, chosen by measurement (``benchmarks/flow_recipe.py``);
    ``configs/train-seed.yaml`` is the reference's recipe exactly.
    """

    # --- model ---
    arch: str = "film"  # film: Fourier features + FiLM residual blocks; reference: the plain MLP on [x, y, t, c]
    hidden: int = 256  # width per point; 256 with Fourier features beat the reference's 512 at equal steps
    depth: int = 4  # film: residual blocks (2 Linear each); reference: Linear layers (6)
    fourier_features: int = 64  # film: sin/cos pairs of random projections of (x, y): thin strokes need high frequencies
    fourier_scale: float = 1.0  # film: std of the projections' frequencies (cycles per unit; canvas 6 units); 2 was worse
    embed_dim: int = 256  # film: size of the text and time embeddings that drive FiLM
    # --- data ---
    clouds_per_step: int = 64  # captions per step: at equal points per step, 64x64 beat 16x256 and 4x1024 (Chamfer)
    points_per_cloud: int = 64  # fresh points per cloud per step (the reference: 1024 of one cloud)
    jitter: bool = False  # spread each point uniformly over its pixel (dequantisation); measured neutral
    # --- path ---
    noise_std: float = 2.0  # σ of x0 ~ N(0, σ²I); the reference's 2 covers [-3, 3]; sampling uses the same σ
    pairing: str = "chunked"  # noise-to-point pairing within a cloud: none | exact | chunked (OT, straighter paths)
    pairing_chunk: int = 16  # chunked: Hungarian on cells of this many points (16: as good as 64 here, 3x cheaper)
    cond_dropout: float = 0.1  # probability of training on the null (zero) condition, enables --guidance
    # --- optimisation ---
    steps: int = 3000  # optimizer steps: ~4 min on 2 CPU cores; faces: 70 % right picture at 3000 vs 32 % at 1000
    lr: float = 1e-3  # peak learning rate (Adam)
    warmup_steps: int = 200  # linear warm-up: large early updates diverged in probes without it
    schedule: str = "cosine"  # cosine (decay to 0 at the last step) | constant (the reference)
    weight_decay: float = 0.0  # AdamW decay; 0 = plain Adam
    grad_clip: float = 1.0  # max gradient norm (0 = off): a probe without it diverged after ~400 s
    ema_decay: float = 0.999  # EMA of the weights (0 = off); generate uses the EMA weights
    precision: str = "auto"  # auto (bf16 where the hardware has fast bf16, else fp32) | bf16 (autocast) | fp32; bf16 trained as well as fp32, 2x faster here
    seed: int = 0  # model init, data order, points, noise, t: all from this
    # --- checkpoints ---
    checkpoint_every: int = 500  # steps between checkpoints (the last step is always saved)
    keep_checkpoints: int = 3  # newest checkpoints kept on disk (0 = keep all)
    # --- sampling defaults stored with the model (generate's defaults) ---
    sample_solver: str = "midpoint"  # euler | midpoint | heun | rk4 | adaptive; midpoint beat euler at equal evaluations
    sample_steps: int = 2  # midpoint x 2 = 4 evaluations: as good as 6, 8 or 200 (docs/benchmarks.md), ~40 ms per cloud
    sample_guidance: float = 1.0  # classifier-free guidance scale (1 = off); 1.5 and 2 scored worse on the faces
    sample_precision: str = "auto"  # auto | bf16 | fp32: bf16 sampled as well as fp32 at half the time here

    def model_kwargs(self) -> dict[str, Any]:
        """The architecture's keyword arguments (for :func:`build_model`)."""
        if self.arch == "reference":
            return {"hidden": self.hidden, "layers": self.depth}
        if self.arch == "film":
            return {
                "hidden": self.hidden,
                "blocks": self.depth,
                "fourier_features": self.fourier_features,
                "fourier_scale": self.fourier_scale,
                "embed_dim": self.embed_dim,
            }
        raise PointdiffError(f"unknown arch {self.arch!r}; known: film, reference")

    def validate(self) -> None:
        """Raise PointdiffError on settings that cannot work."""
        self.model_kwargs()
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (self.clouds_per_step >= 1, "clouds_per_step must be at least 1"),
            (self.points_per_cloud >= 1, "points_per_cloud must be at least 1"),
            (self.noise_std > 0, "noise_std must be positive"),
            (self.pairing in PAIRINGS, f"pairing must be one of {', '.join(PAIRINGS)}"),
            (0 <= self.cond_dropout < 1, "cond_dropout must be in [0, 1)"),
            (self.schedule in ("cosine", "constant"), "schedule must be cosine or constant"),
            (0 <= self.ema_decay < 1, "ema_decay must be in [0, 1)"),
            (self.precision in PRECISIONS and self.sample_precision in PRECISIONS, f"precisions must be one of {', '.join(PRECISIONS)}"),
            (self.checkpoint_every >= 1, "checkpoint_every must be at least 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise PointdiffError(msg)

    def steps_for_epochs(self, epochs: int) -> int:
        """The reference's "epochs": one epoch = one cloud drawn (it trained one cloud per
        step, and called its 20000 steps epochs). So N epochs = ceil(N / clouds_per_step)
        steps: the same number of clouds seen as the reference's ``--epochs N``."""
        return max(1, math.ceil(epochs / self.clouds_per_step))


@dataclass
class TrainingData:
    """What a run trains on: points to draw from, one text vector per sample, and provenance."""

    sampler: PointSampler
    cond: Tensor  # [N, D] unit rows, row i conditions sampler sample i
    encoder: EncoderInfo
    fingerprint: str  # hash of the samples (and their vectors): what the model was trained on
    source: str  # where the data came from
    texts: list[str] = field(default_factory=list)  # the captions, when known (for sample grids)

    def __post_init__(self) -> None:
        if len(self.sampler) != len(self.cond):
            raise PointdiffError(f"{len(self.sampler)} point sets but {len(self.cond)} condition vectors")
        if len(self.cond) == 0:
            raise PointdiffError("no training samples")


# The reference system's `model` field names a CLIP variant; we know which hub model each is.
_REFERENCE_ENCODERS = {"ViT-B/32": "openai/clip-vit-base-patch32", "ViT-B/16": "openai/clip-vit-base-patch16", "ViT-L/14": "openai/clip-vit-large-patch14"}


def load_reference_data(path: str | Path) -> TrainingData:
    """The reference system's ``.pt`` data file (read with ``weights_only=True``, no pickle).

    It holds fixed clouds ``point_clouds [N, P, 2]`` (draws resample them) and CLIP
    ``embeddings [N, 512]``. Its encoder is known by name only (``model``, e.g. "ViT-B/32"),
    so the checkpoint records ``weights_sha256 = ""`` (unknown) and generate accepts any
    encoder of the same family and dimension for it, saying so.
    """
    from pointdiff.store import sha256_file

    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise PointdiffError(f"{path}: cannot read as a weights-only torch file ({type(e).__name__}: {e})") from None
    if not isinstance(blob, dict) or "embeddings" not in blob or "point_clouds" not in blob:
        raise PointdiffError(f"{path}: expected a dict with 'embeddings' and 'point_clouds' (the reference's data.pt)")
    clouds = torch.as_tensor(blob["point_clouds"]).float()
    emb = torch.as_tensor(blob["embeddings"]).float()
    if clouds.ndim != 3 or clouds.shape[-1] != 2 or emb.ndim != 2 or len(emb) != len(clouds):
        raise PointdiffError(f"{path}: point_clouds {tuple(clouds.shape)} and embeddings {tuple(emb.shape)} do not fit [N, P, 2] and [N, D]")
    name = str(blob.get("model", "ViT-B/32"))
    encoder = EncoderInfo(id=_REFERENCE_ENCODERS.get(name, name), family="clip", dim=emb.shape[1], max_tokens=77, weights_sha256="")
    return TrainingData(
        sampler=PointSampler.from_clouds(clouds),
        cond=F.normalize(emb, dim=-1),
        encoder=encoder,
        fingerprint=sha256_file(path)[:16],
        source=str(path),
        texts=[str(p) for p in blob.get("image_paths", [])],
    )


def load_training_data(path: str | Path) -> TrainingData:
    """A dataset folder (with ``embeddings.safetensors``) or a reference ``.pt`` file."""
    path = Path(path)
    if path.suffix == ".pt" and path.is_file():
        return load_reference_data(path)
    from pointdiff.text.embeddings import load_dataset_embeddings

    ds = Dataset(path)
    if not (path / EMBEDDINGS_FILE).exists():
        raise PointdiffError(f"{path} has no text embeddings yet; run `pointdiff embed` first (training needs a vector per caption)")
    emb, encoder, ids = load_dataset_embeddings(path)
    row = {sample_id: k for k, sample_id in enumerate(ds.ids)}
    keep = [row[i] for i in ids if i in row]
    if len(keep) != len(ids):
        raise PointdiffError(f"{path}: embeddings name samples that are not in the dataset; run `pointdiff embed --force`")
    full = PointSampler.from_dataset(ds)
    idx = torch.tensor(keep, dtype=torch.long)
    starts, counts = full.offsets[idx], full.counts[idx]
    points = torch.cat([full.points[s : s + c] for s, c in zip(starts.tolist(), counts.tolist())])
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    texts = dict(zip(ds.ids, (t for t, _ in ds.texts())))
    from pointdiff.store import sha256_bytes

    fingerprint = sha256_bytes((ds.fingerprint() + "|" + encoder.to_json() + "|" + ",".join(ids)).encode())[:16]
    return TrainingData(
        sampler=PointSampler(points, offsets, full.pixel_half[idx]),
        cond=emb.float(),
        encoder=encoder,
        fingerprint=fingerprint,
        source=str(path),
        texts=[texts.get(i) or i for i in ids],
    )


Callback = Callable[["Trainer"], None]


class Trainer:
    """The training loop's state and one step of it; knows nothing about the CLI or files.

    Attributes the callbacks read: ``step`` (steps done), ``model``, ``ema`` (or None),
    ``last_loss``, ``losses`` (one per step), ``elapsed`` (seconds spent in steps).
    """

    def __init__(self, cfg: TrainConfig, data: TrainingData, device: str = "cpu"):
        cfg.validate()
        self.cfg, self.data, self.device = cfg, data, torch.device(device)
        with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the global RNG alone
            torch.manual_seed(cfg.seed)
            self.model: VelocityModel = build_model(cfg.arch, data.cond.shape[1], **cfg.model_kwargs()).to(self.device)
        self.ema: VelocityModel | None = copy.deepcopy(self.model).requires_grad_(False) if cfg.ema_decay > 0 else None
        opt = torch.optim.AdamW if cfg.weight_decay > 0 else torch.optim.Adam
        self.optimizer = opt(self.model.parameters(), lr=cfg.lr, **({"weight_decay": cfg.weight_decay} if cfg.weight_decay > 0 else {}))
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.cond = data.cond.to(self.device)
        self.precision = resolve_precision(cfg.precision, self.device)  # what "auto" means on this machine
        self.step = 0
        self.losses: list[float] = []
        self.last_loss = float("nan")
        self.elapsed = 0.0
        self._order_epoch, self._order = -1, torch.empty(0, dtype=torch.long)

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
        """Sample indices of step ``step``: consecutive slots of shuffled passes over the data."""
        n, b = len(self.data.cond), self.cfg.clouds_per_step
        out = []
        for pos in range(step * b, (step + 1) * b):
            epoch, k = divmod(pos, n)
            if epoch != self._order_epoch:
                g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
                self._order_epoch, self._order = epoch, torch.randperm(n, generator=g)
            out.append(int(self._order[k]))
        return torch.tensor(out, dtype=torch.long)

    def ema_decay_at(self, step: int) -> float:
        """EMA decay, ramped up early so the average does not remember the random init."""
        return min(self.cfg.ema_decay, (1 + step) / (10 + step))

    def batch(self, step: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(x0, x1, t, cond) of step ``step``, drawn from the trainer's generator, on the device."""
        cfg, g = self.cfg, self.generator
        idx = self.clouds_at(step)
        x1 = self.data.sampler.sample(idx, cfg.points_per_cloud, g, jitter=cfg.jitter)
        x0 = torch.randn(x1.shape, generator=g) * cfg.noise_std
        x0 = pair_noise(x0, x1, cfg.pairing, cfg.pairing_chunk)
        t = torch.rand(len(idx), generator=g)
        keep = (torch.rand(len(idx), generator=g) >= cfg.cond_dropout).float() if cfg.cond_dropout > 0 else torch.ones(len(idx))
        cond = self.cond[idx.to(self.device)] * keep.to(self.device)[:, None]
        return x0.to(self.device), x1.to(self.device), t.to(self.device), cond

    def train_step(self) -> float:
        """One optimizer step; returns its loss."""
        cfg, step = self.cfg, self.step
        start = time.perf_counter()
        x0, x1, t, cond = self.batch(step)
        ps = linear_path(x0, x1, t)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(step)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            v = self.model(ps.x_t, ps.t, cond)
        loss = F.mse_loss(v.float(), ps.dx_t)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            with torch.no_grad():
                d = self.ema_decay_at(step)
                for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                    pe.lerp_(pm, 1 - d)
        self.step += 1
        self.last_loss = float(loss.detach())
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
            self.ema.load_state_dict(ema if ema is not None else model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
        self.losses = [float(x) for x in state["losses"]]
        self.last_loss = self.losses[-1] if self.losses else float("nan")
        self.elapsed = float(state["elapsed"])


@dataclass
class TrainResult:
    """A finished run."""

    trainer: Trainer
    run_dir: Path | None
    checkpoint: Path | None  # the last checkpoint written

    @property
    def model(self) -> VelocityModel:
        return self.trainer.model

    @property
    def ema(self) -> VelocityModel | None:
        return self.trainer.ema

    @property
    def losses(self) -> list[float]:
        return self.trainer.losses


def train(
    cfg: TrainConfig,
    data: TrainingData,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    progress: ProgressFn | None = None,
    device: str = "cpu",
    resume: str | Path | None = None,
) -> TrainResult:
    """Train (or resume) a run; with ``run_dir``, checkpoint into it as it goes.

    Args:
        cfg: the recipe.
        data: points, condition vectors and encoder (:func:`load_training_data`).
        run_dir: where checkpoints, ``meta.json`` and ``loss.png`` go (None: nothing written).
        callbacks: ``callback(trainer)`` after every step (evaluation, logging, early stop).
        progress: ``progress(step, steps, loss=…, steps/s=…)``.
        device: ``cpu``, ``cuda``, ``cuda:N``.
        resume: a checkpoint folder to continue from exactly (model, EMA, optimizer, RNG, step).
    """
    from pointdiff import checkpoint as ckpt

    trainer = Trainer(cfg, data, device)
    if resume is not None:
        ckpt.restore_trainer(trainer, resume)
    callbacks = list(callbacks)
    saver = None
    if run_dir is not None:
        saver = ckpt.Checkpointer(Path(run_dir), every=cfg.checkpoint_every, keep=cfg.keep_checkpoints)
        callbacks.append(saver)
    trainer.run(cfg.steps, callbacks, progress)
    last = None
    if saver is not None:
        last = saver.save(trainer)  # the final state, even between checkpoints (no-op if just saved)
        saver.plot_losses(trainer)
    return TrainResult(trainer=trainer, run_dir=Path(run_dir) if run_dir is not None else None, checkpoint=last)
