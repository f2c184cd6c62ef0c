"""What a training run reads: each sample's points beside its text vector, and their provenance.

Two sources: a dataset folder that ``pointdiff embed`` has finished (``embeddings.safetensors``
beside the manifest), or the reference system's ``data.pt``. Both become one
:class:`TrainingData`, the only thing the trainer needs to know about data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pointdiff.data.dataset import EMBEDDINGS_FILE, Dataset
from pointdiff.data.rows import DiskRows
from pointdiff.data.sampler import PointSampler
from pointdiff.errors import PointdiffError
from pointdiff.store import sha256_bytes, sha256_file
from pointdiff.text.embeddings import EncoderInfo, dataset_texts, load_dataset_embeddings


@dataclass
class TrainingData:
    """What a run trains on: points to draw from, text vectors, and provenance.

    A training item is one text vector with the picture it describes: ``cond[k]`` describes
    sampler sample ``picture[k]``. A picture with several captions is several items, so one
    pass over the items meets every picture once per caption, each time in other words.
    """

    sampler: PointSampler
    cond: Tensor | DiskRows  # [M, D] unit rows, one per text (a large dataset's stay in its embeddings file)
    encoder: EncoderInfo
    fingerprint: str  # hash of the samples (and their vectors): what the model was trained on
    source: str  # where the data came from
    texts: list[str] = field(default_factory=list)  # the text of each row, when known (for sample grids)
    picture: Tensor | None = None  # [M] sampler index of each row; None: row k is picture k

    def __post_init__(self) -> None:
        if self.picture is None:
            if len(self.sampler) != len(self.cond):
                raise PointdiffError(f"{len(self.sampler)} point sets but {len(self.cond)} condition vectors")
            self.picture = torch.arange(len(self.cond))
        elif len(self.picture) != len(self.cond) or (len(self.picture) and not 0 <= int(self.picture.min()) <= int(self.picture.max()) < len(self.sampler)):
            raise PointdiffError(f"{len(self.cond)} condition vectors do not map onto {len(self.sampler)} point sets")
        if len(self.cond) == 0:
            raise PointdiffError("no training samples")

    @property
    def num_pictures(self) -> int:
        """Distinct pictures (rows of the sampler)."""
        return len(self.sampler)


# The reference system's `model` field names a CLIP variant; we know which hub model each is.
_REFERENCE_ENCODERS = {"ViT-B/32": "openai/clip-vit-base-patch32", "ViT-B/16": "openai/clip-vit-base-patch16", "ViT-L/14": "openai/clip-vit-large-patch14"}


def load_reference_data(path: str | Path) -> TrainingData:
    """The reference system's ``.pt`` data file (read with ``weights_only=True``, no pickle).

    It holds fixed clouds ``point_clouds [N, P, 2]`` (draws resample them) and CLIP
    ``embeddings [N, 512]``. Its encoder is known by name only (``model``, e.g. "ViT-B/32"),
    so the checkpoint records ``weights_sha256 = ""`` (unknown) and generate accepts any
    encoder of the same family and dimension for it, saying so.
    """
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


def training_fingerprint(dataset_fingerprint: str, encoder: EncoderInfo, ids: list[str]) -> str:
    """The fingerprint a run records for a dataset: its samples, the encoder and the embedded ids.

    ``pointdiff inspect`` recomputes it from the files alone to tell whether a run's data changed.
    """
    return sha256_bytes((dataset_fingerprint + "|" + encoder.to_json() + "|" + ",".join(ids)).encode())[:16]


def embedded_rows(ds: Dataset, ids: list[str], first_only: bool = False) -> list[tuple[int, int]]:
    """(embedding row, dataset row) of every embedded id that is still in the dataset, in embedding order.

    A sample with several texts has several rows; ``first_only`` keeps only its first (the
    text :meth:`Dataset.texts` shows), one row per picture.
    """
    pairs = [(k, int(r)) for k, r in enumerate(_picture_rows(ds, ids)) if r >= 0]
    if not first_only:
        return pairs
    seen: set[int] = set()
    return [(k, r) for k, r in pairs if not (r in seen or seen.add(r))]


def _picture_rows(ds: Dataset, ids: list[str]) -> np.ndarray:
    """The dataset row of each embedded id, int64 [M]; -1 for an id the dataset does not have (8 bytes a row, not a tuple's 120)."""
    row = {sample_id: k for k, sample_id in enumerate(ds.ids)}
    return np.fromiter((row.get(sample_id, -1) for sample_id in ids), dtype=np.int64, count=len(ids))


def load_training_data(path: str | Path, stream: bool | None = None) -> TrainingData:
    """A dataset folder (with ``embeddings.safetensors``) or a reference ``.pt`` file.

    What it holds per sample, besides the points (:meth:`PointSampler.from_dataset`; ``stream``
    True reads a picture from disk whenever it is drawn, None decides by size): each text (for
    sample grids) and a few integers. A dataset's vectors above 32 MB stay in its embeddings
    file, read by rows as steps draw them (:class:`~pointdiff.data.rows.DiskRows`). The per-text index the
    check needs (ids, hashes) goes before the points are loaded, so it never adds to their peak.
    """
    path = Path(path)
    if path.suffix == ".pt" and path.is_file():
        return load_reference_data(path)
    ds = Dataset(path)
    if not (path / EMBEDDINGS_FILE).exists():
        raise PointdiffError(f"{path} has no text embeddings yet; run `pointdiff embed` first (training needs a vector per caption)")
    current = dataset_texts(ds)
    texts = current.texts  # load_dataset_embeddings checks that they are the embedded ones
    emb, encoder, ids = load_dataset_embeddings(path, current=current, on_disk=True)
    del current
    rows = _picture_rows(ds, ids)
    if (rows < 0).any():
        raise PointdiffError(f"{path}: embeddings name samples that are not in the dataset; run `pointdiff embed --force`")
    fingerprint = training_fingerprint(ds.fingerprint(), encoder, ids)
    del ids
    # Each picture is read once however many texts it has: its sampler row is its first appearance.
    found, first = np.unique(rows, return_index=True)
    pictures = found[np.argsort(first, kind="stable")]
    slot = np.empty(len(ds), dtype=np.int64)
    slot[pictures] = np.arange(len(pictures))
    # In embedding order; the whole dataset in its own order is read in one piece instead of per sample.
    whole = len(pictures) == len(ds) and bool((pictures == np.arange(len(ds))).all())
    sampler = PointSampler.from_dataset(ds, None if whole else pictures, stream)
    return TrainingData(
        sampler=sampler,
        cond=emb.held_if_small() if isinstance(emb, DiskRows) else emb,
        encoder=encoder,
        fingerprint=fingerprint,
        source=str(path),
        texts=texts,
        picture=torch.from_numpy(slot[rows]),
    )
