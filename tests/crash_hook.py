"""Run one ``pointdiff`` command in this process and SIGKILL it at a chosen moment: the crash tests' fault.

    python tests/crash_hook.py SPEC [--stand-in-encoder] pointdiff-arguments...

``SPEC`` is ``none`` or ``EVENT[@N][:REGEX]``: the process kills itself (SIGKILL, no cleanup, no
``finally``) at the N-th (default: first) EVENT whose path matches REGEX (``re.search``; default:
any path). The events are the steps every write protocol of pointdiff is made of:

* ``write``: a file's bytes have just been written (``os.fsync``, ``torch.save``, safetensors'
  ``save_file``); the file is cut to half its size, then the process dies: a torn file.
* ``rename``: ``os.replace`` / ``os.rename`` is about to move a file or folder into place
  (REGEX is matched against the destination); the process dies before it.
* ``delete``: ``shutil.rmtree`` is about to remove a folder that exists; every file in it except the ones
  readers look for first (``meta.json``, ``dataset.json``, ``manifest.jsonl``) is removed,
  then the process dies: a half-deleted folder, the worst a reader can meet.
* ``step``: training step N has just finished (REGEX unused).

Every finished training step prints ``@step N`` on stdout (flushed), so the parent can also kill
at a step of its own choosing; on a normal exit the hook prints ``@events write=.. rename=..
delete=..`` (what a calibration run counts). ``--stand-in-encoder`` replaces the text encoder of
``pointdiff embed`` by a tiny deterministic one (no model load), reporting itself as tiny_runs.FAKE.

This file is test code: pointdiff itself has no hook for it. Only the functions named above are
wrapped, in this process.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path

COUNTS: Counter[str] = Counter()
KEEP = {"meta.json", "dataset.json", "manifest.jsonl"}  # what a reader checks first: left for last


def parse(spec: str) -> tuple[str, int, re.Pattern[str]] | None:
    """``EVENT[@N][:REGEX]`` -> (event, n, regex); ``none`` -> None."""
    if spec == "none":
        return None
    head, _, regex = spec.partition(":")
    event, _, n = head.partition("@")
    if event not in ("write", "rename", "delete", "step"):
        raise SystemExit(f"unknown event {event!r}")
    return event, int(n or 1), re.compile(regex)


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(target: tuple[str, int, re.Pattern[str]] | None) -> None:
    """Wrap the file-system operations (and the training step) to count them and die at the target."""
    seen: Counter[str] = Counter()

    def hit(event: str, path: object) -> bool:
        COUNTS[event] += 1
        if target is None or target[0] != event or not target[2].search(str(path)):
            return False
        seen[event] += 1
        return seen[event] == target[1]

    def torn(path: str | os.PathLike) -> None:
        size = os.path.getsize(path)
        os.truncate(path, size // 2)
        die()

    real_fsync, real_replace, real_rename, real_rmtree = os.fsync, os.replace, os.rename, shutil.rmtree

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        real_fsync(fd)
        if hit("write", path):
            torn(path)

    def replace(src: object, dst: object, *a: object, **k: object) -> None:
        if hit("rename", dst):
            die()
        real_replace(src, dst, *a, **k)

    def rename(src: object, dst: object, *a: object, **k: object) -> None:
        if hit("rename", dst):
            die()
        real_rename(src, dst, *a, **k)

    def rmtree(path: object, *a: object, **k: object) -> None:
        if os.path.isdir(path) and hit("delete", path):  # only a folder that is there counts
            for root, _, files in os.walk(path):
                for name in files:
                    if name not in KEEP:
                        os.unlink(os.path.join(root, name))
            die()
        real_rmtree(path, *a, **k)

    os.fsync, os.replace, os.rename, shutil.rmtree = fsync, replace, rename, rmtree

    import safetensors.torch
    import torch

    real_save, real_save_file = torch.save, safetensors.torch.save_file

    def save(obj: object, f: object, *a: object, **k: object) -> None:
        real_save(obj, f, *a, **k)
        path = getattr(f, "name", f)
        if hit("write", path):
            f.flush() if hasattr(f, "flush") else None  # type: ignore[union-attr]
            torn(path)  # type: ignore[arg-type]

    def save_file(tensors: object, filename: object, *a: object, **k: object) -> None:
        real_save_file(tensors, filename, *a, **k)
        if hit("write", filename):
            torn(filename)  # type: ignore[arg-type]

    torch.save, safetensors.torch.save_file = save, save_file

    from pointdiff.trainer import Trainer

    real_step = Trainer.train_step

    def train_step(self: Trainer) -> float:
        loss = real_step(self)
        sys.stdout.write(f"@step {self.step}\n")
        sys.stdout.flush()
        if target is not None and target[0] == "step" and self.step == target[1]:
            die()
        return loss

    Trainer.train_step = train_step  # type: ignore[method-assign]


class StandInEncoder:
    """Unit vectors from a hash of each text: what ``embed`` needs of an encoder, without a model."""

    def __init__(self) -> None:
        from tiny_runs import FAKE

        self.info = FAKE

    def encode(self, texts: list[str], batch_size: int = 64, progress: object = None) -> object:
        import torch

        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            rows.append(torch.randn(self.info.dim, generator=torch.Generator().manual_seed(seed)))
        return torch.nn.functional.normalize(torch.stack(rows), dim=1)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def stand_in_encoder() -> None:
    from types import SimpleNamespace

    import pointdiff.embedding as embedding

    enc = StandInEncoder()
    embedding.resolve_encoder = lambda name=None: SimpleNamespace(info=enc.info)  # type: ignore[assignment]
    embedding.load_encoder = lambda *a, **k: enc  # type: ignore[assignment]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))  # tiny_runs
    args = sys.argv[1:]
    target = parse(args.pop(0))
    install(target)
    if args and args[0] == "--stand-in-encoder":
        args.pop(0)
        stand_in_encoder()
    atexit.register(lambda: print("@events " + " ".join(f"{k}={COUNTS[k]}" for k in ("write", "rename", "delete")), flush=True))
    from pointdiff.cli.app import main as pointdiff

    sys.argv = ["pointdiff", *args]
    pointdiff()


if __name__ == "__main__":
    main()
