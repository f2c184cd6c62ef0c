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
and only the longer ones go to the model; when all fit, no model is loaded at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from pointdiff.data.dataset import SUMMARIES_FILE, Dataset
from pointdiff.distributed import one_process_only
from pointdiff.errors import PointdiffError
from pointdiff.progress import ProgressFn, report
from pointdiff.store import read_jsonl
from pointdiff.text.budget import TextStats, TokenBudget, dataset_encoder
from pointdiff.text.cache import LazyAppender, ResultCache, make_key, text_digest
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
) -> SummarizeResult:
    """Summarize every sample's long description within the encoder's token budget, resumably.

    Args:
        dataset: the dataset folder.
        cfg: model, instructions, retries, encoder, generation settings.
        cache_path: the JSONL cache of model answers by key (shared by runs and datasets).
        progress: called as ``progress(done, total, new=, cached=)`` as samples are decided.
        budget: how to count tokens (default: the real encoder ``cfg.encoder`` resolves to).
        summarizer: an already loaded model (else loaded only if some text needs it).

    Raises:
        PointdiffError: no dataset, a model or encoder that is not here, no chat template.
    """
    one_process_only("summarize")
    cfg = cfg or SummarizeConfig()
    cfg.check()
    if cfg.retries < 0:
        raise PointdiffError(f"retries must be 0 or more, got {cfg.retries}")
    t0 = time.perf_counter()
    ds = Dataset(dataset)
    items, missing = _inputs(ds)
    if budget is None:
        budget = TokenBudget.of_encoder(cfg.encoder or dataset_encoder(ds.root) or "minilm")
    output = ds.root / SUMMARIES_FILE
    res = SummarizeResult(ds.root, output, Path(cache_path), cfg.model, budget.encoder, budget.max_tokens, total=len(items), missing=missing)
    before_tokens = budget.count([t for _, t in items])
    res.before = TextStats([len(t.split()) for _, t in items], before_tokens)
    fits = {sid: n <= budget.max_tokens for (sid, _), n in zip(items, before_tokens)}
    needs_model = {sid for sid, _ in items if not (cfg.pass_through and fits[sid])}

    fingerprint = None
    if needs_model:
        try:
            fingerprint = summarizer.fingerprint if summarizer else cfg.fingerprint()
        except PointdiffError as e:
            if res.all_fit_before:
                hint = f" (every text already fits the {budget.max_tokens}-token budget of {budget.encoder}: --pass-through copies them without a model)"
            else:
                hint = f" ({len(needs_model)} of {len(items)} texts need it: over the {budget.max_tokens}-token budget of {budget.encoder})" if cfg.pass_through else ""
            raise PointdiffError(f"{e}{hint}") from None
    res.fingerprint = fingerprint
    settings = cfg.settings()
    strict_words = budget.strict_words()

    def row_key(sid: str, text: str) -> str:
        if sid not in needs_model:
            return make_key(task="summary", input=text_digest(text), model=PASSTHROUGH, encoder=budget.encoder, max_tokens=budget.max_tokens)
        return make_key(task="summary", input=text_digest(text), model=fingerprint, instruction=cfg.instruction, strict=cfg.strict_instruction,
                        retries=cfg.retries, words=strict_words, generation=settings.key_fields(), encoder=budget.encoder, max_tokens=budget.max_tokens)

    def attempt_key(text: str, attempt: int) -> str:
        instruction = cfg.instruction if attempt == 0 else cfg.strict_instruction.replace("{words}", str(strict_words))
        return make_key(task="summarize", input=text_digest(text), model=fingerprint, instruction=instruction, generation=settings.key_fields())

    current = {row["id"]: row for row in read_jsonl(output) if "id" in row}
    final: dict[str, str] = {}
    pending: list[tuple[str, str]] = []
    for sid, text in items:
        key = row_key(sid, text)
        if current.get(sid, {}).get("key") == key:
            res.up_to_date += 1
            final[sid] = current[sid].get("text", "")
            if current[sid].get("over_budget"):
                res.over_budget.append(sid)
        else:
            pending.append((sid, text))
    done = res.up_to_date

    with ResultCache(cache_path) as cache, LazyAppender(output) as sink:

        def decide(sid: str, text: str, short: str, model: str, attempts: int, tokens: int, stopped: bool) -> None:
            nonlocal done
            flagged = tokens > budget.max_tokens or not short
            row = {"id": sid, "text": short, "model": model, "words": len(short.split()), "tokens": tokens, "encoder": budget.encoder,
                   "max_tokens": budget.max_tokens, "over_budget": flagged, "attempts": attempts, "stopped": stopped,
                   "source_sha": text_digest(text), "key": row_key(sid, text)}
            if model != PASSTHROUGH:
                row.update(fingerprint=fingerprint, instruction_sha=text_digest(cfg.instruction))
            sink.append(row)
            final[sid] = short
            if flagged:
                res.over_budget.append(sid)
            done += 1

        todo = []
        for sid, text in pending:
            if sid in needs_model:
                todo.append((sid, text))
            else:
                decide(sid, text, text, PASSTHROUGH, 0, budget.count([text])[0], True)
                res.passed_through += 1
        report(progress, done, len(items), new=0, cached=0)
        for group in batched(todo, cfg.batch_size):
            for attempt in range(cfg.retries + 1):  # retries rewrite only what is still over budget
                keys = [attempt_key(text, attempt) for _, text in group]
                ask = {k: text for k, (_, text) in zip(keys, group) if k not in cache}  # a text asked once
                if attempt == 0:  # counted per sample: a text repeated in the batch is "made now" for each
                    res.generated += sum(k in ask for k in keys)
                    res.from_cache += sum(k not in ask for k in keys)
                if ask:
                    summarizer = summarizer or Summarizer.from_options(cfg)
                    instruction, words = (cfg.instruction, None) if attempt == 0 else (cfg.strict_instruction, strict_words)
                    answers = summarizer.answer([fill(instruction, text, words) for text in ask.values()], settings)
                    for (key, _), (short, stopped) in zip(ask.items(), answers):
                        cache.put(key, {"text": short, "stopped": stopped, "model": cfg.model, "fingerprint": fingerprint, "attempt": attempt})
                answers_now = [cache.get(k) or {} for k in keys]
                counts = budget.count([x.get("text", "") for x in answers_now])
                left = []
                for (sid, text), answer, n in zip(group, answers_now, counts):
                    short = answer.get("text", "")
                    ok = n <= budget.max_tokens and bool(short)
                    if ok or attempt == cfg.retries:
                        decide(sid, text, short, cfg.model, attempt + 1, n, bool(answer.get("stopped", True)))
                        res.example = res.example or ((sid, text, short) if ok else None)
                    else:
                        left.append((sid, text))
                        res.retried.append(sid)
                group = left
                if not group:
                    break
            report(progress, done, len(items), new=res.generated, cached=res.from_cache)

    ids = [sid for sid, _ in items]
    shorts = [final.get(sid, "") for sid in ids]
    res.after = TextStats([len(s.split()) for s in shorts], budget.count(shorts))
    res.seconds = time.perf_counter() - t0
    return res
