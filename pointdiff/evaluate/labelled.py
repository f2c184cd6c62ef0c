"""The built-in sources whose pictures come with true labels: what eval needs to score a run trained on one.

An entry says which labels the scorer reads and prompt accuracy scores, which label
combinations an eval set is balanced over (one group each), how a prompt for given labels
is written (a held-out paraphrase, or the canonical form), how real pictures are rendered
(through the real ingest path, so they become points exactly as a training set's do) and
a version that keys the caches. :func:`labelled_source` picks the entry a dataset was
rendered by from its ``dataset.json``::

    from pointdiff.evaluate.labelled import GLYPHS, labelled_source
    GLYPHS.labels                      # ("character", "family", "weight", "slant")
    GLYPHS.combos()[:2]                # [("a",), ("b",)]: an eval set has per_combo of each
    sampler, labels = GLYPHS.render(62, seed=1)
    labelled_source({"source": "builtin:faces-video"}) is FACES
    labelled_source({"source": "builtin:faces-color"}) is FACES_COLOR
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import itertools
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pointdiff.data.dataset import MANIFEST_FILE, Dataset
from pointdiff.data.sampler import PointSampler
from pointdiff.progress import ProgressFn

BUILTIN = "builtin:"


class LabelledSource:
    """A built-in labelled source, as eval sees it. Subclasses fill in the words and the vocabulary."""

    name: str  # builtin:<name> renders it; also the eval's kind
    noun: str  # what its pictures are called, plural: "faces"
    labels: tuple[str, ...]  # what the scorer reads and prompt accuracy scores
    combo_labels: tuple[str, ...]  # an eval set is balanced over these labels' combinations
    package: str  # the renderer; its source keys the cached renders and scorers
    scorer_count: int  # real pictures the scorer is fitted on by default

    def classes(self) -> dict[str, tuple[str, ...]]:
        """Every value of each scored label, in a fixed order."""
        raise NotImplementedError

    def prompt_for(self, labels: dict[str, str], rng: random.Random | None = None, held_out: bool = True) -> str:
        """A prompt naming ``labels`` (held-out phrasings by default; the first ones without ``rng``)."""
        raise NotImplementedError

    def canonical_prompt(self, labels: dict[str, str]) -> str:
        """The fixed short prompt for ``labels``, in training words."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """What else than the package's source changes the pictures (installed fonts, ...); "" if nothing."""
        return ""

    def combos(self) -> list[tuple[str, ...]]:
        """Every combination of :attr:`combo_labels` values, the first label's values outermost."""
        vocab = self.classes()
        return list(itertools.product(*(vocab[n] for n in self.combo_labels)))

    def combo_of(self, labels: dict[str, Any]) -> tuple[str, ...]:
        """The combination ``labels`` belong to."""
        return tuple(str(labels.get(n)) for n in self.combo_labels)

    def builds(self, info: dict[str, Any]) -> bool:
        """Was the dataset described by ``info`` (its ``dataset.json``) rendered by this source?"""
        source = str(info.get("source", ""))
        return source == BUILTIN + self.name or source.startswith(f"{BUILTIN}{self.name}-")

    def version(self) -> str:
        """A hash of the renderer (its package's source, and :meth:`fingerprint`): cached renders and scorers are redone when it changes."""
        path = Path(importlib.import_module(self.package).__file__ or "")
        files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]  # a module or a package
        h = hashlib.sha256()
        for f in files:
            h.update(f.read_bytes())
        extra = self.fingerprint()
        if extra:
            h.update(extra.encode())
        return h.hexdigest()[:12]

    def render(self, count: int, seed: int, cache_dir: str | Path | None = None, progress: ProgressFn | None = None) -> tuple[PointSampler, list[dict[str, str]]]:
        """Render ``count`` pictures for ``seed`` through the real ingest path: (points, scored labels as strings).

        Going through :func:`pointdiff.data.ingest.ingest` makes these clouds exactly like a
        training dataset's (same image size, threshold, pixel-to-point mapping). With
        ``cache_dir`` the dataset is kept there and reused.
        """
        from pointdiff.data.ingest import IngestConfig, ingest

        tmp = None
        if cache_dir is None:
            tmp = Path(tempfile.mkdtemp(prefix=f"pointdiff-{self.name}-"))
            root = tmp / self.name
        else:
            root = Path(cache_dir) / f"{self.name}-{self.version()}-n{count}-s{seed}"
        try:
            if not (root / MANIFEST_FILE).exists():
                ingest(BUILTIN + self.name, root, IngestConfig(count=count, seed=seed, captions=1, contact_sheet=0), overwrite=True, progress=progress)
            ds = Dataset(root)
            labels = [{k: str(r.labels[k]) for k in self.labels} for r in ds.records]
            return PointSampler.from_dataset(ds), labels
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


class _Faces(LabelledSource):
    name, noun = "faces", "faces"
    labels = combo_labels = ("orientation", "expression")
    package = "pointdiff.data.faces"
    scorer_count = 1050  # 30 per orientation × expression (docs/measurement.md)

    def classes(self) -> dict[str, tuple[str, ...]]:
        from pointdiff.data.faces import EXPRESSIONS, ORIENTATIONS

        return {"orientation": ORIENTATIONS, "expression": EXPRESSIONS}

    def prompt_for(self, labels: dict[str, str], rng: random.Random | None = None, held_out: bool = True) -> str:
        from pointdiff.data.faces import prompt_for

        return prompt_for(labels["orientation"], labels["expression"], rng, held_out=held_out)

    def canonical_prompt(self, labels: dict[str, str]) -> str:
        from pointdiff.data.faces import canonical_prompt

        return canonical_prompt(labels["orientation"], labels["expression"])


class _FacesColor(LabelledSource):
    """The colour faces: scored on the colours their prompts name (shape is the grey faces' eval)."""

    name, noun = "faces-color", "colour faces"
    labels = combo_labels = ("hair_color", "eye_color", "skin")
    package = "pointdiff.data.faces"
    scorer_count = 1080  # 30 per hair × eye × skin combination, as the grey faces' 30 per orientation × expression

    def classes(self) -> dict[str, tuple[str, ...]]:
        from pointdiff.data.faces import EYE_COLORS, HAIR_COLORS, SKIN_TONES

        return {"hair_color": HAIR_COLORS, "eye_color": EYE_COLORS, "skin": SKIN_TONES}

    def prompt_for(self, labels: dict[str, str], rng: random.Random | None = None, held_out: bool = True) -> str:
        from pointdiff.data.faces import color_prompt_for

        return color_prompt_for(labels, rng, held_out=held_out)

    def canonical_prompt(self, labels: dict[str, str]) -> str:
        from pointdiff.data.faces import canonical_color_prompt

        return canonical_color_prompt(labels)


class _Glyphs(LabelledSource):
    name, noun = "glyphs", "glyphs"
    labels = ("character", "family", "weight", "slant")  # case follows from the character
    combo_labels = ("character",)  # one prompt per character, in a random style
    package = "pointdiff.data.glyphs"
    # 40 per character. Not tuned: measure the real held-out ceiling before trusting a smaller one.
    scorer_count = 2480

    def classes(self) -> dict[str, tuple[str, ...]]:
        from pointdiff.data.glyphs import FAMILIES, SLANTS, WEIGHTS, drawable_characters

        return {"character": tuple(drawable_characters()), "family": FAMILIES, "weight": WEIGHTS, "slant": SLANTS}

    def prompt_for(self, labels: dict[str, str], rng: random.Random | None = None, held_out: bool = True) -> str:
        from pointdiff.data.glyphs import prompt_for

        return prompt_for(labels, rng, held_out=held_out)

    def canonical_prompt(self, labels: dict[str, str]) -> str:
        from pointdiff.data.glyphs import canonical_prompt

        return canonical_prompt(labels)

    def fingerprint(self) -> str:
        return _fonts_fingerprint()


@functools.cache
def _fonts_fingerprint() -> str:
    """The glyphs depend on the font files matplotlib ships and on PIL's FreeType too (hashed once per process)."""
    import PIL
    from PIL import features

    from pointdiff.data.glyphs import font_report

    h = hashlib.sha256(f"PIL {PIL.__version__} freetype {features.version('freetype2')}".encode())
    for s in font_report():
        h.update(f"{s.font.file}:{s.characters}:{s.error}".encode())
        if s.path is not None:
            h.update(hashlib.sha256(s.path.read_bytes()).digest())
    return h.hexdigest()


FACES: LabelledSource = _Faces()
FACES_COLOR: LabelledSource = _FacesColor()
GLYPHS: LabelledSource = _Glyphs()
# The colour faces first: "builtin:faces-color" also starts as the grey faces' variants do.
LABELLED_SOURCES: dict[str, LabelledSource] = {s.name: s for s in (FACES_COLOR, FACES, GLYPHS)}


def labelled_source(info: dict[str, Any]) -> LabelledSource | None:
    """The labelled source a dataset was rendered by (from its ``dataset.json``), or None (no true labels)."""
    return next((s for s in LABELLED_SOURCES.values() if s.builds(info)), None)
