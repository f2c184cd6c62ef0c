"""Training runs on disk: self-describing checkpoints that rebuild a model without train.py.

Layout of a run folder::

    RUN/
      meta.json                      copy of the newest checkpoint's meta (a quick look)
      loss.png                       the loss curve
      checkpoints/step-0001000/
        meta.json                    architecture, full config, encoder (id, dim, hash), step,
                                     data fingerprint, parameter count, timing, sampling defaults
        model.safetensors            the trained weights
        ema.safetensors              their exponential moving average (what generate uses)
        state.pt                     optimizer, RNG state, loss history: for an exact --resume
                                     (tensors and plain containers only: loads with weights_only=True)

Each checkpoint folder is written under a temporary name and renamed into place, and a
folder is hidden (renamed) before it is deleted, so a killed run leaves whole checkpoints
only; the next save of the run removes what a killed one left hidden. The newest ``keep``
are kept.

With several processes (``torchrun``) only rank 0 writes, and the others wait until it is
done (:class:`Checkpointer`); their state is the same, so the checkpoint is everyone's and
resumes with any number of processes.
"""

from __future__ import annotations

import errno
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pointdiff import __version__
from pointdiff.config import to_dict
from pointdiff.errors import PointdiffError
from pointdiff.flow.model import VelocityModel, build_model
from pointdiff.store import disk_full, load_tensors, read_json, remove_temps, save_tensors, write_json
from pointdiff.text.embeddings import EncoderInfo
from pointdiff.trainer import Trainer

CHECKPOINTS_DIR = "checkpoints"
META_FILE = "meta.json"
MODEL_FILE = "model.safetensors"
EMA_FILE = "ema.safetensors"
STATE_FILE = "state.pt"
LOSS_PLOT = "loss.png"
FORMAT_VERSION = 1


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    """``RUN/checkpoints/step-NNNNNNN``."""
    return Path(run_dir) / CHECKPOINTS_DIR / f"step-{step:07d}"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """A run's complete checkpoints, oldest first."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if p.is_dir() and (p / META_FILE).exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def run_dir_of(checkpoint: str | Path) -> Path:
    """The run folder a checkpoint folder belongs to (``RUN/checkpoints/step-N`` -> ``RUN``)."""
    return Path(checkpoint).parent.parent


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder, or a run folder's newest checkpoint."""
    path = Path(path)
    if (path / META_FILE).exists() and (path / MODEL_FILE).exists():
        return path
    found = list_checkpoints(path)
    if found:
        return found[-1]
    if not path.exists():
        raise PointdiffError(f"no such run or checkpoint: {path}")
    raise PointdiffError(f"{path} holds no checkpoint (expected {CHECKPOINTS_DIR}/step-*/{META_FILE}); train one with `pointdiff train`")


def _read_meta(ckpt: Path) -> dict[str, Any]:
    """A checkpoint's meta.json, refused (PointdiffError) unless it describes a model: a JSON object with its architecture and encoder."""
    path = ckpt / META_FILE
    try:
        meta = read_json(path)
    except ValueError as e:  # bad JSON, bad UTF-8
        raise PointdiffError(f"{path} is not valid JSON ({e}); the checkpoint is damaged") from None
    if not isinstance(meta, dict):
        raise PointdiffError(f"{path} is not a checkpoint description (a JSON object)")
    missing = [k for k in ("arch", "arch_config", "encoder") if k not in meta]
    if missing:
        raise PointdiffError(f"{path} does not describe a model pointdiff can build (no {', '.join(missing)})")
    return meta


def _load_weights(model: torch.nn.Module, path: Path, device: str = "cpu") -> None:
    """Load a safetensors file into ``model``, refusing tensors of other names or shapes (a damaged or altered file)."""
    state, _ = load_tensors(path, device=device)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        why = "; ".join(line.strip() for line in str(e).splitlines()[1:] if line.strip())[:400]
        raise PointdiffError(f"{path} does not fit the model its meta.json describes ({why}); the checkpoint is damaged or was altered") from None


def _remove(folder: Path) -> None:
    """Delete a checkpoint folder so that no reader sees half of it: hide it (one rename), then delete it."""
    hidden = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    shutil.rmtree(hidden, ignore_errors=True)
    os.replace(folder, hidden)
    shutil.rmtree(hidden, ignore_errors=True)


def build_meta(trainer: Trainer) -> dict[str, Any]:
    """The readable description of a trainer's current state (meta.json)."""
    cfg, data, model = trainer.cfg, trainer.data, trainer.model
    points = cfg.clouds_per_step * cfg.points_per_cloud
    rate = trainer.step_rate()
    return {
        "format_version": FORMAT_VERSION,
        "pointdiff_version": __version__,
        "arch": model.arch,
        "arch_config": model.arch_config(),
        "num_params": model.num_params(),
        "weights": "ema" if trainer.ema is not None else "model",
        "step": trainer.step,
        "loss": trainer.last_loss,
        "config": to_dict(cfg),
        "encoder": data.encoder.to_dict(),
        "data": {"source": data.source, "fingerprint": data.fingerprint, "num_samples": data.num_pictures, "num_texts": len(data.cond)},
        "sampling": cfg.sampling_defaults(),
        "timing": {
            "train_seconds": round(trainer.elapsed, 3),
            "steps_per_s": round(rate, 3),
            "points_per_s": round(rate * points, 1),
            "device": str(trainer.device),
            "precision": trainer.precision,
            "processes": trainer.dist.world_size,  # steps/s is of the whole global batch, shared by these
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch_version": torch.__version__,
    }


def save_checkpoint(run_dir: str | Path, trainer: Trainer) -> Path:
    """Write the trainer's state as ``RUN/checkpoints/step-N`` (atomically) and ``RUN/meta.json``."""
    run_dir = Path(run_dir)
    final = checkpoint_dir(run_dir, trainer.step)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = build_meta(trainer)
    arch = {"arch": meta["arch"], "arch_config": str(meta["arch_config"])}
    try:
        save_tensors(tmp / MODEL_FILE, trainer.model.state_dict(), arch)
        if trainer.ema is not None:
            save_tensors(tmp / EMA_FILE, trainer.ema.model.state_dict(), arch)
        with open(tmp / STATE_FILE, "wb") as f:
            torch.save(trainer.state_dict(), f)
        write_json(tmp / META_FILE, meta)
    except (OSError, PointdiffError) as e:
        written = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        shutil.rmtree(tmp, ignore_errors=True)  # never leave a half checkpoint behind
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise disk_full(final, written) from None
        raise
    if final.exists():
        _remove(final)
    os.replace(tmp, final)
    write_json(run_dir / META_FILE, meta)
    return final


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (0 keeps all), and what killed runs left hidden.

    Only the run's one writer calls it (it holds the run's lock), so every hidden ``.step-*``
    folder is a dead process's half-written or half-deleted checkpoint, and every temporary
    ``meta.json`` / ``loss.png`` beside the run's a dead process's write.
    """
    for leftover in (Path(run_dir) / CHECKPOINTS_DIR).glob(".step-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for name in (META_FILE, LOSS_PLOT):
        remove_temps(Path(run_dir) / name)
    if keep <= 0:
        return
    for old in list_checkpoints(run_dir)[:-keep]:
        _remove(old)


class Checkpointer:
    """A training callback: save every ``every`` steps, keep the newest ``keep``.

    Every process calls it; with several (``trainer.dist``), rank 0 writes and the others wait
    at the same step until the checkpoint is complete (or share rank 0's error), so a
    checkpoint any of them could resume from is never half-written while training goes on.
    """

    def __init__(self, run_dir: Path, every: int, keep: int):
        self.run_dir, self.every, self.keep = Path(run_dir), every, keep
        self.last_saved: tuple[int, Path] | None = None

    def __call__(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            self.save(trainer)

    def save(self, trainer: Trainer) -> Path:
        """Save now (unless this step is already saved) and prune; rank 0 writes, every process gets the path."""
        if self.last_saved is not None and self.last_saved[0] == trainer.step:
            return self.last_saved[1]
        path = trainer.dist.on_main(lambda: self._write(trainer))
        self.last_saved = (trainer.step, path)
        return path

    def _write(self, trainer: Trainer) -> Path:
        path = save_checkpoint(self.run_dir, trainer)
        prune_checkpoints(self.run_dir, self.keep)
        self._plot(trainer)
        return path

    def plot_losses(self, trainer: Trainer) -> Path | None:
        """``RUN/loss.png``: the per-step loss and its moving average (rank 0 draws it; every process gets the path)."""
        return trainer.dist.on_main(lambda: self._plot(trainer))

    def _plot(self, trainer: Trainer) -> Path | None:
        if not trainer.losses:
            return None
        from pointdiff.plot import save_curve

        n = len(trainer.losses)
        return save_curve(self.run_dir / LOSS_PLOT, list(range(1, n + 1)), trainer.losses, "step", "flow-matching loss (MSE)", title=f"{self.run_dir.name}: loss", smooth=max(1, min(200, n // 20)))


def read_meta(path: str | Path) -> dict[str, Any]:
    """The meta.json of a checkpoint (or of a run's newest checkpoint)."""
    return _read_meta(resolve_checkpoint(path))


def restore_trainer(trainer: Trainer, path: str | Path) -> Path:
    """Load a checkpoint's full state into ``trainer`` for an exact continuation.

    Raises:
        PointdiffError: the checkpoint was made with another architecture, encoder or data.
    """
    ckpt = resolve_checkpoint(path)
    meta = _read_meta(ckpt)
    if meta["arch"] != trainer.model.arch or meta["arch_config"] != trainer.model.arch_config():
        raise PointdiffError(f"{ckpt} is a {meta['arch']} model {meta['arch_config']}, not the configured {trainer.model.arch} {trainer.model.arch_config()}")
    if meta["data"]["fingerprint"] != trainer.data.fingerprint:
        raise PointdiffError(f"{ckpt} was trained on other data ({meta['data']['source']}, fingerprint {meta['data']['fingerprint']}); resume it on the same dataset")
    if meta["encoder"] != trainer.data.encoder.to_dict():
        raise PointdiffError(f"{ckpt} was trained on vectors of another encoder ({meta['encoder']['id']}); resume it on the same embeddings")
    device = str(trainer.device)
    _load_weights(trainer.model, ckpt / MODEL_FILE, device)  # refuses weights of other shapes with the file's name
    if trainer.ema is not None and (ckpt / EMA_FILE).exists():
        _load_weights(trainer.ema.model, ckpt / EMA_FILE, device)
    model = trainer.model.state_dict()
    ema = trainer.ema.model.state_dict() if trainer.ema is not None and (ckpt / EMA_FILE).exists() else None
    try:
        with open(ckpt / STATE_FILE, "rb") as f:
            state = torch.load(f, map_location=trainer.device, weights_only=True)  # plain tensors and containers only: never runs code
        state["generator"] = state["generator"].cpu()  # the data generator always lives on the CPU
        trainer.load_state_dict(state, model, ema)
    except Exception as e:  # noqa: BLE001 - a refused pickle, a torn file, foreign contents: the user's to replace
        why = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        raise PointdiffError(
            f"{ckpt / STATE_FILE} cannot be read as a weights-only torch file of this run ({type(e).__name__}: {why}); "
            "it is damaged or is not what pointdiff wrote: resume from another checkpoint, or delete this one"
        ) from None
    return ckpt


@dataclass
class LoadedRun:
    """A trained model ready to sample: EMA weights when the run kept them."""

    model: VelocityModel
    meta: dict[str, Any]
    encoder: EncoderInfo
    path: Path  # the checkpoint folder

    @property
    def run_dir(self) -> Path:
        """The run folder this checkpoint belongs to."""
        return run_dir_of(self.path)

    @property
    def noise_std(self) -> float:
        """σ of the noise the model was trained from (sampling must start from the same)."""
        return float(self.meta["sampling"]["noise_std"])


def load_run(path: str | Path, device: str = "cpu", use_ema: bool = True) -> LoadedRun:
    """Rebuild the model of a checkpoint (or of a run's newest checkpoint), in eval mode.

    Args:
        path: a run folder or one of its ``checkpoints/step-*`` folders.
        device: where to put the model.
        use_ema: take the EMA weights when there are any (they sample better).
    """
    ckpt = resolve_checkpoint(path)
    meta = _read_meta(ckpt)
    if meta.get("format_version", 1) > FORMAT_VERSION:
        raise PointdiffError(f"{ckpt} was written by a newer pointdiff (format {meta['format_version']}); upgrade pointdiff")
    try:
        model = build_model(meta["arch"], **meta["arch_config"])
    except (KeyError, TypeError, ValueError) as e:
        raise PointdiffError(f"{ckpt}/{META_FILE} does not describe a model pointdiff can build ({e})") from None
    encoder = EncoderInfo.from_dict(meta["encoder"])
    _load_weights(model, ckpt / (EMA_FILE if use_ema and (ckpt / EMA_FILE).exists() else MODEL_FILE))
    model.to(device).eval().requires_grad_(False)
    return LoadedRun(model=model, meta=meta, encoder=encoder, path=ckpt)
