"""Several processes, one job: what ``torchrun`` tells each process, and the few collectives pointdiff uses.

    torchrun --nproc_per_node 2 -m pointdiff train ...          # one machine, 2 processes
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 4 \\
             --rdzv-endpoint host0:29500 -m pointdiff train ...  # two machines (run on each, --node-rank 1 on the other)

``torchrun`` starts each process with ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (and where
to meet, ``MASTER_ADDR``/``MASTER_PORT``) in its environment. :func:`launch` turns them into a
process group (NCCL for CUDA, gloo for the CPU) and a :class:`Distributed`, the one object
the core receives. Without them (a plain ``pointdiff train``) nothing is initialised and
:data:`SINGLE` stands for the lone process: every collective then returns its input
unchanged, so callers keep one code path and a single process behaves as if this module did
not exist.

What pointdiff asks of the group is small: rank 0 writes every file while the others wait
(:meth:`Distributed.on_main`), work lists are cut into contiguous shares
(:meth:`Distributed.shard`), results come back to everyone (:meth:`Distributed.all_gather`),
and a loss is averaged (:meth:`Distributed.mean`). Gradient averaging is
``torch.nn.parallel.DistributedDataParallel``'s job (see :mod:`pointdiff.trainer`).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from pointdiff.errors import PointdiffError

T = TypeVar("T")
ENV_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK")  # what torchrun sets in every process it starts


@dataclass(frozen=True)
class Distributed:
    """This process's place among the processes of one job, and the collectives between them.

    Attributes:
        rank: this process's number, 0 .. world_size − 1 (0 writes the files).
        world_size: how many processes share the job (1: a plain single process).
        local_rank: its number on its own machine: which GPU it takes.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """Whether there are other processes to talk to (collectives are no-ops otherwise)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0: the process that writes files and talks to the user."""
        return self.rank == 0

    def place(self, device: str) -> str:
        """The device this process uses when the user asked for ``device``.

        Plain ``cuda`` becomes ``cuda:LOCAL_RANK`` when there are several processes (one GPU
        each on a machine); anything else, an explicit ``cuda:N`` included, is kept as given.
        """
        return f"cuda:{self.local_rank}" if self.active and device == "cuda" else device

    def bounds(self, n: int) -> tuple[int, int]:
        """``(lo, hi)``: this process's contiguous share of ``n`` items (shares differ by at most one)."""
        return n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's contiguous share of ``items``; the shares of ranks 0, 1, … concatenate back to ``items``."""
        lo, hi = self.bounds(len(items))
        return list(items[lo:hi])

    def all_gather(self, obj: T) -> list[T]:
        """Every process's ``obj`` (picklable), in rank order, on every process."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` (picklable) on every process; the other ranks' ``obj`` is ignored."""
        if not self.active:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The average of ``value`` over the processes (the same number on each); ``value`` itself alone."""
        if not self.active:
            return value
        total = value.detach().clone()
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
        return total / self.world_size

    def on_main(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 only while the others wait; every process gets its result or its error.

        This is how files are written: one writer, and nobody continues before the write is
        complete (a checkpoint another process may resume from, a run folder it will use).
        An error on rank 0 is raised on every rank (a PointdiffError with the same message on
        the others), so all processes stop together instead of the others waiting for ever.
        """
        if not self.active:
            return fn()
        result, error, failure = None, None, None
        if self.is_main:
            try:
                result = fn()
            except Exception as e:  # noqa: BLE001 - re-raised below, after the others are told
                error = e
                failure = str(e) if isinstance(e, PointdiffError) else f"process 0 failed: {type(e).__name__}: {e}"
        result, failure = self.broadcast((result, failure))
        if error is not None:
            raise error
        if failure is not None:
            raise PointdiffError(failure)
        return result

    def close(self) -> None:
        """Leave the process group (what :func:`launch` does at the end of its block)."""
        if self.active and torch.distributed.is_initialized():
            # A DDP wrapper lives in reference cycles; one collected only after the group is gone
            # can abort the process at exit (gloo's threads), so collect released ones first.
            gc.collect()
            torch.distributed.destroy_process_group()


SINGLE = Distributed()  # one plain process: no group, every collective a no-op


def from_env(environ: Mapping[str, str] | None = None) -> Distributed:
    """What torchrun says about this process (nothing is initialised); :data:`SINGLE` outside torchrun.

    Raises:
        PointdiffError: the variables are there but make no sense (a hand-set environment).
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return SINGLE
    try:
        world, rank, local = (int(env.get(name, "0")) for name in ENV_VARS)
    except ValueError:
        shown = ", ".join(f"{n}={env.get(n)!r}" for n in ENV_VARS)
        raise PointdiffError(f"torchrun's variables must be whole numbers ({shown}); start the processes with torchrun") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise PointdiffError(f"RANK {rank} / WORLD_SIZE {world} / LOCAL_RANK {local} do not fit together; start the processes with torchrun")
    return Distributed(rank=rank, world_size=world, local_rank=local)


def one_process_only(command: str) -> None:
    """Refuse to run ``command`` under torchrun with several processes.

    ``caption`` and ``summarize`` do not share their work yet: every process would describe
    every image and append to the same cache and files.

    Raises:
        PointdiffError: this process is one of several.
    """
    dist = current()
    if not dist.active:  # a torchrun process that has not joined the group yet
        dist = from_env()
    if dist.active:
        raise PointdiffError(
            f"`pointdiff {command}` runs in one process; under torchrun each of the {dist.world_size} processes "
            "would do all the work and write the same files. Run it without torchrun (train and embed do share their work)."
        )


def current() -> Distributed:
    """The process group this process has joined (by :func:`launch` or the caller's own
    ``torch.distributed.init_process_group``), or :data:`SINGLE` when it has joined none.

    The core's default: ``train()`` or ``embed_dataset()`` called inside a torchrun script
    that initialised the group shares the work without being told.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return SINGLE
    world = torch.distributed.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return Distributed(rank=torch.distributed.get_rank(), world_size=world, local_rank=local)


def backend_for(device: str) -> str:
    """``nccl`` for CUDA tensors (GPU to GPU), ``gloo`` for everything else (the CPU)."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


@contextmanager
def launch(device: str = "cpu") -> Iterator[Distributed]:
    """Join the process group torchrun describes for the block, and leave it after.

    ``device`` is what the user asked for (``cpu``, ``cuda``): it picks the backend and, for
    CUDA, this process's GPU (:meth:`Distributed.place`). Outside torchrun, or with one
    process, nothing is initialised and the block gets :data:`SINGLE`. A group the caller
    initialised already is used as it is and left open.

    Raises:
        PointdiffError: several processes were asked for but this torch cannot talk between them.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        yield current()  # the caller's group: theirs to close
        return
    dist = from_env()
    if not dist.active:
        yield dist
        return
    if not torch.distributed.is_available():
        raise PointdiffError("torchrun started several processes, but this torch build has no torch.distributed; run one process")
    placed = torch.device(dist.place(device))
    if placed.type == "cuda":
        torch.cuda.set_device(placed)  # NCCL and the object collectives work on the current GPU
    # env:// rendezvous: MASTER_ADDR / MASTER_PORT come from torchrun
    torch.distributed.init_process_group(backend_for(str(placed)), rank=dist.rank, world_size=dist.world_size)
    try:
        yield dist
    finally:
        dist.close()
