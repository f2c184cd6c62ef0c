"""Which encoder made a vector, and the dataset's ``embeddings.safetensors``.

``DATASET/embeddings.safetensors`` holds one tensor and string metadata::

    embeddings     float32 [N, D], unit rows, in dataset order
    encoder        JSON of EncoderInfo: the encoder that made them
    ids            JSON list: the sample id of each row
    texts_sha256   JSON list: sha256 of the exact text each row encodes
    over_budget    JSON object {id: tokens} of texts longer than the encoder reads (truncated)

Samples without any text are not in the file (``pointdiff embed --allow-missing``);
consumers select samples by ``ids``, never by position alone.

A vector only means something to the encoder that made it, so :class:`EncoderInfo` travels
with the embeddings into every checkpoint, and :func:`check_encoder` refuses a mismatch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset
from pointdiff.data.rows import DiskRows
from pointdiff.errors import PointdiffError
from pointdiff.store import load_tensors, save_tensors, sha256_bytes

EMBEDDINGS_TENSOR = "embeddings"


@dataclass(frozen=True)
class EncoderInfo:
    """Identity of a text encoder: enough to rebuild it and to tell it from another."""

    id: str  # what load_encoder() takes to rebuild it: "minilm", a hub id or a local path
    family: str  # "minilm" | "clip" | "sentence" (mean-pooled AutoModel)
    dim: int  # length of its vectors
    max_tokens: int  # the most tokens it reads (special tokens included); longer texts are truncated
    weights_sha256: str  # sha256 of the weights file(s) actually loaded: the encoder's real identity

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (for a checkpoint's meta.json)."""
        return asdict(self)

    def to_json(self) -> str:
        """Compact JSON (for safetensors string metadata)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> "EncoderInfo":
        """Parse :meth:`to_dict` output; raises PointdiffError if fields are missing or of the wrong type."""
        if not isinstance(data, dict):
            raise PointdiffError(f"encoder description must be a mapping, got {data!r}")
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise PointdiffError(f"encoder description lacks {', '.join(missing)}: {data!r}")
        try:
            return cls(id=str(data["id"]), family=str(data["family"]), dim=int(data["dim"]), max_tokens=int(data["max_tokens"]), weights_sha256=str(data["weights_sha256"]))
        except (TypeError, ValueError) as e:
            raise PointdiffError(f"bad encoder description {data!r}: {e}") from None

    @classmethod
    def from_json(cls, text: str) -> "EncoderInfo":
        """Parse :meth:`to_json` output."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise PointdiffError(f"encoder description is not JSON ({e}): {text[:200]!r}") from None

    def describe(self) -> str:
        """One line for people: ``minilm (minilm, 384-d, 256 tokens, weights 53aa5117…)``."""
        return f"{self.id} ({self.family}, {self.dim}-d, {self.max_tokens} tokens, weights {self.weights_sha256[:8]}…)"


def encoder_differences(expected: EncoderInfo, actual: EncoderInfo) -> list[str]:
    """The fields in which two encoders differ, each as ``"name: expected X, got Y"``."""
    out = []
    for name in ("id", "family", "dim", "weights_sha256"):
        a, b = getattr(expected, name), getattr(actual, name)
        if a != b:
            out.append(f"{name}: expected {a}, got {b}")
    return out


def check_encoder(expected: EncoderInfo, actual: EncoderInfo, *, what: str = "this model", strict_id: bool = False) -> str | None:
    """Refuse to use ``actual`` where ``expected`` made the vectors.

    The weights hash and dimension decide: the same weights reached under another id (a
    local copy of a hub model) are the same encoder, unless ``strict_id`` is set. When the
    expected weights are unknown (``weights_sha256 = ""``: the reference's data file names its
    CLIP model but not its weights), an encoder of the same family and dimension is accepted
    and a note saying so is returned.

    Returns:
        None, or a note for the user when the match could only be assumed.

    Raises:
        PointdiffError: naming every field that differs and what to do about it.
    """
    if expected.weights_sha256 == "" and not strict_id:
        if expected.family != actual.family or expected.dim != actual.dim:
            raise PointdiffError(
                f"{what} was made with {expected.family} {expected.dim}-d vectors ({expected.id}), "
                f"but the encoder in use is {actual.describe()}; use --encoder {expected.id}"
            )
        return f"{what}'s encoder weights are unknown (reference data naming {expected.id}); assuming {actual.id} is the same model"
    diffs = encoder_differences(expected, actual)
    same = expected.dim == actual.dim and expected.weights_sha256 == actual.weights_sha256 and expected.weights_sha256 != ""
    if not diffs or (same and not strict_id):
        return None
    raise PointdiffError(
        f"{what} was made with text encoder {expected.describe()}, but the encoder in use is "
        f"{actual.describe()}; they differ in {'; '.join(diffs)}. Vectors of different encoders "
        f"are not comparable: use --encoder {expected.id}, or re-embed with the new encoder "
        "(`pointdiff embed --encoder ...`) and train again."
    )


def text_sha256(text: str) -> str:
    """sha256 of a text as encoded (UTF-8): what tells a stale embedding from a current one."""
    return sha256_bytes(text.encode("utf-8"))


@dataclass
class StoredEmbeddings:
    """The contents of an embeddings file."""

    embeddings: torch.Tensor | DiskRows  # float32 [N, D], unit rows (DiskRows: still in the file)
    encoder: EncoderInfo
    ids: list[str]
    texts_sha256: list[str]
    over_budget: dict[str, int] = field(default_factory=dict)  # id -> tokens, for truncated texts

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != n or len(self.texts_sha256) != n:
            raise PointdiffError(
                f"embeddings {tuple(self.embeddings.shape)} do not match {n} ids and {len(self.texts_sha256)} text hashes"
            )
        if self.embeddings.shape[1] != self.encoder.dim:
            raise PointdiffError(f"embeddings are {self.embeddings.shape[1]}-d but encoder {self.encoder.id} is {self.encoder.dim}-d")


def write_embeddings(path: str | Path, stored: StoredEmbeddings) -> None:
    """Write an embeddings file atomically."""
    metadata = {
        "encoder": stored.encoder.to_json(),
        "ids": json.dumps(stored.ids, ensure_ascii=False),
        "texts_sha256": json.dumps(stored.texts_sha256),
        "over_budget": json.dumps(stored.over_budget, ensure_ascii=False),
    }
    save_tensors(path, {EMBEDDINGS_TENSOR: stored.embeddings.detach().to("cpu", torch.float32)}, metadata)


def read_embeddings(path: str | Path, on_disk: bool = False) -> StoredEmbeddings:
    """Read an embeddings file; raises PointdiffError if it is missing or malformed.

    ``on_disk``: the vectors stay in the file, read by rows when asked for
    (:class:`~pointdiff.data.rows.DiskRows`): what training does, so that a large dataset's
    vectors never sit in its memory.
    """
    path = Path(path)
    if not path.exists():
        raise PointdiffError(f"no embeddings at {path}; make them with `pointdiff embed`")
    try:
        if on_disk:
            vectors: Any = DiskRows.from_safetensors(path, EMBEDDINGS_TENSOR)
            meta = vectors.metadata
        else:
            tensors, meta = load_tensors(path)
            vectors = tensors[EMBEDDINGS_TENSOR]
        return StoredEmbeddings(
            embeddings=vectors,
            encoder=EncoderInfo.from_json(meta["encoder"]),
            ids=list(json.loads(meta["ids"])),
            texts_sha256=list(json.loads(meta["texts_sha256"])),
            over_budget=dict(json.loads(meta.get("over_budget", "{}"))),
        )
    except (KeyError, ValueError, OSError, PointdiffError) as e:  # json errors are ValueErrors
        raise PointdiffError(f"{path} is not a pointdiff embeddings file ({type(e).__name__}: {e}); rerun `pointdiff embed --force`") from None


@dataclass
class DatasetTexts:
    """What `embed` would encode now: one row per text, and the samples that have none.

    A sample with several captions has several rows, its id repeated (in dataset order).
    """

    ids: list[str]
    texts: list[str]
    sources: list[str]  # per text: "summary" | "caption" | "source"
    missing: list[str]  # ids of samples without any text

    @property
    def hashes(self) -> list[str]:
        """sha256 of each text."""
        return [text_sha256(t) for t in self.texts]


def dataset_texts(ds: Dataset) -> DatasetTexts:
    """Each sample's texts (summary > generated caption > source captions), split from those without."""
    out = DatasetTexts([], [], [], [])
    for sample_id, (texts, source) in zip(ds.ids, ds.iter_text_lists()):
        if not texts:
            out.missing.append(sample_id)
        for text in texts:
            out.ids.append(sample_id)
            out.texts.append(text)
            out.sources.append(source)
    return out


def staleness(stored: StoredEmbeddings, ids: list[str], hashes: list[str]) -> str | None:
    """Why ``stored`` does not match the texts ``ids``/``hashes``, or None if it does."""
    if stored.ids == ids and stored.texts_sha256 == hashes:
        return None
    old, new = _texts_by_id(stored.ids, stored.texts_sha256), _texts_by_id(ids, hashes)
    added = sum(1 for i in new if i not in old)
    removed = sum(1 for i in old if i not in new)
    changed = sum(1 for i, h in new.items() if i in old and old[i] != h)
    parts = [f"{n} {word}" for n, word in ((changed, "changed"), (added, "new"), (removed, "gone")) if n]
    return ("texts: " + ", ".join(parts)) if parts else "samples reordered"


def _texts_by_id(ids: list[str], hashes: list[str]) -> dict[str, tuple[str, ...]]:
    """Each id's text hashes in order (a sample with several captions has several)."""
    out: dict[str, tuple[str, ...]] = {}
    for i, h in zip(ids, hashes):
        out[i] = out.get(i, ()) + (h,)
    return out


def load_dataset_embeddings(
    dataset_root: str | Path, check_current: bool = True, current: DatasetTexts | None = None, on_disk: bool = False
) -> tuple[torch.Tensor | DiskRows, EncoderInfo, list[str]]:
    """The dataset's embeddings ``[M, D]``, their encoder, and the sample id of each row.

    One row per text: rows follow dataset order, a sample with several captions has several
    rows (its id repeated) and one without text has none, so select samples by id.
    With ``check_current``, refuse embeddings whose texts no longer match the dataset's
    (captions or summaries changed since `pointdiff embed`); ``current`` is the dataset's
    :func:`dataset_texts` when the caller has it already (the dataset is then not read again);
    ``on_disk`` leaves the vectors in the file (:func:`read_embeddings`).
    """
    root = Path(dataset_root)
    stored = read_embeddings(root / EMBEDDINGS_FILE, on_disk)
    if check_current:
        now = current if current is not None else dataset_texts(Dataset(root))
        why = staleness(stored, now.ids, now.hashes)
        if why:
            raise PointdiffError(f"{root / EMBEDDINGS_FILE} is out of date ({why}); run `pointdiff embed` again")
    return stored.embeddings, stored.encoder, stored.ids
