"""Long descriptions -> short summaries that fit the text encoder's token budget.

    from pointdiff.text.summarize import SummarizeConfig, summarize
    result = summarize("pointdiff-work/dataset", SummarizeConfig(), cache_path="pointdiff-work/cache/summarize.jsonl")

CLIP reads at most 77 tokens, so the reference had an instruction-tuned LLM (Qwen2.5-7B-Instruct)
rewrite each 200+ word description as 2-3 short sentences that keep orientation and
expression (about 29 CLIP tokens). Here any chat model transformers loads with
``AutoModelForCausalLM`` works (:mod:`pointdiff.text.summarizer`: the model and its
instructions), with the model, device and decoding settings `caption` shares
(:class:`~pointdiff.text.generation.GenerationOptions`).

Every summary is counted with the tokenizer of the encoder that will embed it
(:mod:`pointdiff.text.budget`; ``--encoder``, default: the dataset's embeddings encoder, else MiniLM). One over budget is rewritten again
with a stricter instruction (``retries`` times); one still over budget is written *and
flagged* (``"over_budget": true`` in its row, listed in the result), never cut.

Reads each sample's generated caption (``captions.jsonl``), else the caption it came with;
appends ``{"id", "text", "model", "words", "tokens", ...}`` rows to ``DATASET/summaries.jsonl``
(the last row per id wins) as each is decided, through the same resumable cache as `caption`.
With ``pass_through``, texts that already fit are copied unchanged (model ``"passthrough"``)
and only the longer ones go to the model; when all fit, no model is loaded at all. Samples
that share a text are summarized once, together.

Under ``torchrun`` (:mod:`pointdiff.distributed`) each process rewrites a contiguous share of
the batches still to do, each batch sent with what the cache holds for its texts; rank 0
stores every answer in the cache the round it is made and writes summaries.jsonl in the order
one process would, so the file is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from pointdiff.data.dataset import SUMMARIES_FILE, Dataset
from pointdiff.device import resolve_device
from pointdiff.distributed import Distributed, joined
from pointdiff.errors import PointdiffError
from pointdiff.progress import ProgressFn, report
from pointdiff.store import read_jsonl
from pointdiff.text.budget import TextStats, TokenBudget, dataset_encoder
from pointdiff.text.cache import InOrder, LazyAppender, ResultCache, make_key, text_digest
from pointdiff.text.generation import GenerationOptions, batched
from pointdiff.text.summarizer import DEFAULT_MODEL, REFERENCE_INSTRUCTION, STRICT_INSTRUCTION, Summarizer, fill

PASSTHROUGH = "passthrough"  # the "model" of a text copied unchanged because it already fits


@dataclass
class SummarizeConfig(GenerationOptions):
    """Settings of `pointdiff summarize` (YAML section ``summarize:``; flags override).

    Model, device, dtype, decoding and seed are :class:`GenerationOptions`, shared with `caption`.
    """

    model: str = DEFAULT_MODEL  # hub id (downloaded on first use) or folder; Qwen/Qwen2.5-{0.5,1.5,3}B-Instruct are faster
    max_new_tokens: int = 128  # 50 words are ~70 tokens; a runaway answer is cut, counted and retried
    batch_size: int = 8  # descriptions per generate call
    instruction: str = REFERENCE_INSTRUCTION  # the reference's; {text} is replaced by the long description
    strict_instruction: str = STRICT_INSTRUCTION  # for retries; {text} and {words} (from the budget)
    retries: int = 1  # rewrites of a summary over the token budget before it is flagged
    encoder: str | None = None  # whose token budget: None = the dataset's embeddings encoder, else minilm
    pass_through: bool = False  # copy texts that already fit the budget unchanged (no model for them)


@dataclass
class SummarizeResult:
    """What a summarize run did (the CLI renders it)."""

    dataset: Path
    output: Path
    cache: Path
    model: str
    encoder: str
    budget: int
    fingerprint: str | None = None  # None when no model was needed
    total: int = 0  # samples with a text to summarize
    generated: int = 0  # samples whose summary the model made in this run
    from_cache: int = 0  # taken from the cache (an interrupted run, a duplicate text)
    up_to_date: int = 0  # already in summaries.jsonl with these settings
    passed_through: int = 0  # copied unchanged (fit the budget, --pass-through)
    retried: list[str] = field(default_factory=list)  # ids rewritten with the strict instruction (once per retry)
    over_budget: list[str] = field(default_factory=list)  # ids still over budget (or empty): flagged, not cut
    missing: list[str] = field(default_factory=list)  # ids with no text at all
    before: TextStats = field(default_factory=TextStats)
    after: TextStats = field(default_factory=TextStats)
    seconds: float = 0.0
    example: tuple[str, str, str] | None = None  # (id, long, short) of one summary made in this run

    @property
    def all_fit_before(self) -> bool:
        """Whether every input text already fit the budget."""
        return self.before.over(self.budget) == 0

    @property
    def nothing_to_do(self) -> bool:
        """True when every summary was already written: nothing was written now."""
        return self.up_to_date == self.total


def _inputs(ds: Dataset) -> tuple[list[tuple[str, str]], list[str]]:
    """(id, long text) per sample: its generated caption, else the caption it came with; ids without text."""
    captions = ds.captions()
    items, missing = [], []
    for r in ds.records:
        text = captions.get(r.id) or r.caption
        if text and text.strip():
            items.append((r.id, text.strip()))
        else:
            missing.append(r.id)
    return items, missing


def summarize(
    dataset: str | Path,
    cfg: SummarizeConfig | None = None,
    *,
    cache_path: str | Path,
    progress: ProgressFn | None = None,
    budget: TokenBudget | None = None,
    summarizer: Summarizer | None = None,
    dist: Distributed | None = None,
) -> SummarizeResult:
    """Summarize every sample's long description within the encoder's token budget, resumably.

    Under torchrun every process calls this alike: each rewrites a contiguous share of the
    batches still to do (:meth:`Distributed.in_rounds`), retries included, on its own device
    (:meth:`Distributed.place`); rank 0 alone reads and writes the cache and summaries.jsonl.
    The batches, and what each one finds in the cache, are the ones a single process has,
    so the output is the one a single process writes, row for row.

    Args:
        dataset: the dataset folder.
        cfg: model, instructions, retries, encoder, generation settings.
        cache_path: the JSONL cache of model answers by key (shared by runs and datasets).
        progress: called as ``progress(done, total, new=, cached=)`` as samples are decided
            (under torchrun: on rank 0, counting every process's batches).
        budget: how to count tokens (default: the real encoder ``cfg.encoder`` resolves to).
        summarizer: an already loaded model (else loaded only if some text needs it).
        dist: this process's place among several that share the work; default: the process
            group this process joined, if any (:func:`pointdiff.distributed.joined`: a torchrun
            process of several that joined none is refused).

    Returns:
        What the run did (rank 0's account, on every process).

    Raises:
        PointdiffError: no dataset, a model or encoder that is not here, no chat template.
    """
    dist = dist if dist is not None else joined("summarize")
    cfg = cfg or SummarizeConfig()
    cfg.check()
    if cfg.retries < 0:
        raise PointdiffError(f"retries must be 0 or more, got {cfg.retries}")
    t0 = time.perf_counter()
    ds = Dataset(dataset)
    if budget is None:  # every process counts the tokens of the answers it makes
        budget = TokenBudget.of_encoder(cfg.encoder or dataset_encoder(ds.root) or "minilm")
    ledger = _Ledger(ds, cfg, budget, Path(cache_path), progress)
    model = summarizer

    def ask(prompts: list[str]) -> list[tuple[str, bool]]:
        nonlocal model
        model = model or Summarizer.from_options(replace(cfg, device=dist.place(resolve_device(cfg.device))))
        return model.answer(prompts, cfg.settings())

    def rewrite(batch: list[_Todo]) -> _Rewritten:
        return _rewrite(batch, ask, cfg, budget)

    with ExitStack() as held:
        batches = dist.on_main(lambda: ledger.open(held, summarizer.fingerprint if summarizer else None))
        for finished in dist.in_rounds(batches, rewrite):
            dist.on_main(partial(ledger.record, finished))
        return dist.on_main(lambda: ledger.finish(time.perf_counter() - t0))


@dataclass
class _Todo:
    """One distinct text for the model (every sample that has it gets its summary), with what the cache knew."""

    text: str
    known: list[tuple[str, bool] | None]  # per attempt: the cached (answer, stopped), or None (ask the model)


@dataclass
class _Rewritten:
    """What a batch of texts came to: the model's new answers, and each text's outcome in the order decided."""

    answers: list[tuple[int, int, str, bool]] = field(default_factory=list)  # (text in batch, attempt, answer, stopped)
    decided: list[tuple[int, int, str, bool, int]] = field(default_factory=list)  # (text in batch, attempts, summary, stopped, tokens)


def _rewrite(batch: list[_Todo], ask: Callable[[list[str]], list[tuple[str, bool]]], cfg: SummarizeConfig, budget: TokenBudget) -> _Rewritten:
    """Summarize one batch, rewriting what is over budget with the strict instruction (``cfg.retries`` times).

    Pure but for ``ask`` (the model): what the cache had comes in ``batch``, so any process
    can do any batch and get what one process gets.
    """
    out = _Rewritten()
    strict_words = budget.strict_words()
    group = list(range(len(batch)))
    for attempt in range(cfg.retries + 1):  # retries rewrite only what is still over budget
        answers = {i: known for i in group if (known := batch[i].known[attempt]) is not None}
        asking = [i for i in group if i not in answers]
        if asking:
            instruction, words = (cfg.instruction, None) if attempt == 0 else (cfg.strict_instruction, strict_words)
            for i, (short, stopped) in zip(asking, ask([fill(instruction, batch[i].text, words) for i in asking])):
                answers[i] = (short, stopped)
                out.answers.append((i, attempt, short, stopped))
        counts = budget.count([answers[i][0] for i in group])
        left = []
        for i, n in zip(group, counts):
            short, stopped = answers[i]
            if (n <= budget.max_tokens and bool(short)) or attempt == cfg.retries:
                out.decided.append((i, attempt + 1, short, stopped, n))
            else:
                left.append(i)
        group = left
        if not group:
            break
    return out


class _Ledger:
    """Rank 0's side of a summarize run: what is summarized already, each new answer stored in the
    cache the moment it arrives, and the rows of summaries.jsonl in the order one process writes them.

    Every process builds one (nothing is read or opened before :meth:`open`); only rank 0
    calls its methods, through :meth:`Distributed.on_main`, so a failed write stops every
    process. Samples that share a text are one piece of work: the model sees each text once.
    """

    def __init__(self, ds: Dataset, cfg: SummarizeConfig, budget: TokenBudget, cache_path: Path, progress: ProgressFn | None):
        self.ds, self.cfg, self.budget, self.cache_path, self.progress = ds, cfg, budget, cache_path, progress
        self.final: dict[str, str] = {}
        self.batches: list[list[_Todo]] = []
        self.sids: list[list[list[str]]] = []  # per batch, per text: the samples it summarizes
        self.in_order: InOrder[_Rewritten] = InOrder()  # each batch's outcome, until the batches before it are written
        self.done = 0

    def open(self, held: ExitStack, fingerprint: str | None) -> list[list[_Todo]]:
        """Read summaries.jsonl and the cache (kept open in ``held``), write what needs no model
        (up to date, passed through), and return the batches for the model (the same for every process)."""
        cfg, budget = self.cfg, self.budget
        items, missing = _inputs(self.ds)
        self.items = items
        self.res = res = SummarizeResult(self.ds.root, self.ds.root / SUMMARIES_FILE, self.cache_path, cfg.model, budget.encoder, budget.max_tokens,
                                         total=len(items), missing=missing)
        before_tokens = budget.count([t for _, t in items])
        res.before = TextStats([len(t.split()) for _, t in items], before_tokens)
        fits = {sid: n <= budget.max_tokens for (sid, _), n in zip(items, before_tokens)}
        self.needs_model = {sid for sid, _ in items if not (cfg.pass_through and fits[sid])}
        self.fingerprint: str | None = None  # None when no model is needed
        if self.needs_model:
            try:
                self.fingerprint = fingerprint or cfg.fingerprint()
            except PointdiffError as e:
                if res.all_fit_before:
                    hint = f" (every text already fits the {budget.max_tokens}-token budget of {budget.encoder}: --pass-through copies them without a model)"
                else:
                    hint = f" ({len(self.needs_model)} of {len(items)} texts need it: over the {budget.max_tokens}-token budget of {budget.encoder})" if cfg.pass_through else ""
                raise PointdiffError(f"{e}{hint}") from None
        res.fingerprint = self.fingerprint
        self.strict_words = budget.strict_words()

        current = {row["id"]: row for row in read_jsonl(res.output) if "id" in row}
        pending: list[tuple[str, str]] = []
        for sid, text in items:
            if current.get(sid, {}).get("key") == self._row_key(sid, text):
                res.up_to_date += 1
                self.final[sid] = current[sid].get("text", "")
                if current[sid].get("over_budget"):
                    res.over_budget.append(sid)
            else:
                pending.append((sid, text))
        self.done = res.up_to_date
        self.cache = held.enter_context(ResultCache(self.cache_path))
        self.sink = held.enter_context(LazyAppender(res.output))

        todo: dict[str, list[str]] = {}  # text -> the samples that have it
        for sid, text in pending:
            if sid in self.needs_model:
                todo.setdefault(text, []).append(sid)
            else:
                self._decide(sid, text, text, PASSTHROUGH, 0, budget.count([text])[0], True)
                res.passed_through += 1
                self.done += 1
        report(self.progress, self.done, len(items), new=0, cached=0)
        texts = list(todo)
        for batch in batched(texts, cfg.batch_size):
            self.batches.append([_Todo(text, [self._cached(text, a) for a in range(cfg.retries + 1)]) for text in batch])
            self.sids.append([todo[text] for text in batch])
        return self.batches

    def record(self, finished: list[tuple[int, _Rewritten]]) -> None:
        """Store the answers of the batches ``finished`` (by index) in the cache now, and write every batch whose turn has come."""
        res = self.res
        for b, outcome in finished:
            for i, attempt, short, stopped in outcome.answers:
                self.cache.put(self._attempt_key(self.batches[b][i].text, attempt),
                               {"text": short, "stopped": stopped, "model": self.cfg.model, "fingerprint": self.fingerprint, "attempt": attempt})
            for todo, sids in zip(self.batches[b], self.sids[b]):  # counted per sample: a text shared by several is "made now" for each
                res.from_cache += len(sids) if todo.known[0] is not None else 0
                res.generated += len(sids) if todo.known[0] is None else 0
                self.done += len(sids)
            for ready, ready_outcome in self.in_order.add(b, outcome):  # under torchrun a later share can arrive first: it waits for its turn
                for i, attempts, short, stopped, tokens in ready_outcome.decided:
                    text = self.batches[ready][i].text
                    for sid in self.sids[ready][i]:
                        res.retried += [sid] * (attempts - 1)
                        self._decide(sid, text, short, self.cfg.model, attempts, tokens, stopped)
                        if tokens <= self.budget.max_tokens and short:
                            res.example = res.example or (sid, text, short)
        report(self.progress, self.done, len(self.items), new=res.generated, cached=res.from_cache)

    def finish(self, seconds: float) -> SummarizeResult:
        """Words and tokens after, and what the run did."""
        shorts = [self.final.get(sid, "") for sid, _ in self.items]
        self.res.after = TextStats([len(s.split()) for s in shorts], self.budget.count(shorts))
        self.res.seconds = seconds
        return self.res

    def _row_key(self, sid: str, text: str) -> str:
        """What decides a sample's row: its text and, unless passed through, the model and every setting."""
        cfg, budget = self.cfg, self.budget
        if sid not in self.needs_model:
            return make_key(task="summary", input=text_digest(text), model=PASSTHROUGH, encoder=budget.encoder, max_tokens=budget.max_tokens)
        return make_key(task="summary", input=text_digest(text), model=self.fingerprint, instruction=cfg.instruction, strict=cfg.strict_instruction,
                        retries=cfg.retries, words=self.strict_words, generation=cfg.settings().key_fields(), encoder=budget.encoder, max_tokens=budget.max_tokens)

    def _attempt_key(self, text: str, attempt: int) -> str:
        """What decides one model answer: the text, the instruction of that attempt, the model and the decoding."""
        instruction = self.cfg.instruction if attempt == 0 else self.cfg.strict_instruction.replace("{words}", str(self.strict_words))
        return make_key(task="summarize", input=text_digest(text), model=self.fingerprint, instruction=instruction, generation=self.cfg.settings().key_fields())

    def _cached(self, text: str, attempt: int) -> tuple[str, bool] | None:
        row = self.cache.get(self._attempt_key(text, attempt))
        return None if row is None else (row.get("text", ""), bool(row.get("stopped", True)))

    def _decide(self, sid: str, text: str, short: str, model: str, attempts: int, tokens: int, stopped: bool) -> None:
        flagged = tokens > self.budget.max_tokens or not short
        row = {"id": sid, "text": short, "model": model, "words": len(short.split()), "tokens": tokens, "encoder": self.budget.encoder,
               "max_tokens": self.budget.max_tokens, "over_budget": flagged, "attempts": attempts, "stopped": stopped,
               "source_sha": text_digest(text), "key": self._row_key(sid, text)}
        if model != PASSTHROUGH:
            row.update(fingerprint=self.fingerprint, instruction_sha=text_digest(self.cfg.instruction))
        self.sink.append(row)
        self.final[sid] = short
        if flagged:
            self.res.over_budget.append(sid)
