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
(:meth:`Distributed.shard`, or :meth:`Distributed.in_rounds` for work done batch by batch),
results come back to everyone (:meth:`Distributed.all_gather`, :meth:`Distributed.on_each`),
and a loss is averaged (:meth:`Distributed.mean`). Gradient averaging is
``torch.nn.parallel.DistributedDataParallel``'s job (see :mod:`pointdiff.trainer`).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import torch

from pointdiff.errors import PointdiffError

T = TypeVar("T")
R = TypeVar("R")
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

    def on_each(self, fn: Callable[[], T]) -> list[T]:
        """Run ``fn`` on every process; every process gets all the results, in rank order, or every one raises.

        Each process's own error is raised on it; the others raise a PointdiffError with the
        first failing process's message, so a process that fails (a model that cannot be
        loaded, an unreadable image) stops the job instead of leaving the others waiting.
        """
        if not self.active:
            return [fn()]
        result, error, failure = None, None, None
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - re-raised below, after the others are told
            error = e
            failure = str(e) if isinstance(e, PointdiffError) else f"process {self.rank} failed: {type(e).__name__}: {e}"
        gathered = self.all_gather((result, failure))
        if error is not None:
            raise error
        failures = [f for _, f in gathered if f is not None]
        if failures:
            raise PointdiffError(failures[0])
        return [r for r, _ in gathered]  # type: ignore[misc]

    def in_rounds(self, tasks: Sequence[T], work: Callable[[T], R]) -> Iterator[list[tuple[int, R]]]:
        """``work`` on every task, each process on its contiguous share (:meth:`bounds`), one task per round.

        Every process yields, once per round, the ``(index, result)`` pairs that round
        finished, in rank order (:meth:`on_each`: an error anywhere is raised everywhere). The
        rounds are as many as the longest share, so every process takes part in each; one
        whose share is done just waits. One process yields its tasks' results one by one, in
        order. Results are pickled between processes; ``work`` itself never travels.
        """
        lo, hi = self.bounds(len(tasks))

        def step(k: int) -> tuple[int, R] | None:
            return (k, work(tasks[k])) if k < hi else None

        rounds = -(-len(tasks) // self.world_size)  # the longest share (shares differ by at most one)
        for r in range(rounds):
            yield [pair for pair in self.on_each(partial(step, lo + r)) if pair is not None]

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


def joined(command: str) -> Distributed:
    """:func:`current`, refusing a process that torchrun started as one of several but that joined no group.

    Alone, such a process would do every process's work and write the files the others
    write too; ``pointdiff`` commands join through :func:`launch`. What ``caption`` and
    ``summarize`` call when no ``dist`` is given (``train`` and ``embed`` take :func:`current`).

    Raises:
        PointdiffError: this process is one of several and has joined no process group.
    """
    dist = current()
    env = from_env() if not dist.active else dist
    if env.active and not dist.active:
        raise PointdiffError(
            f"`{command}` runs in process {env.rank} of the {env.world_size} torchrun started, which joined no process group: "
            "each would do all the work and write the same files. Join the group first "
            "(`with pointdiff.distributed.launch(device):`), as the pointdiff command does"
        )
    return dist


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
