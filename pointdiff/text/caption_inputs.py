"""The images `caption` describes: a dataset's samples, or the image files of a folder.

    items = dataset_images(Dataset("pointdiff-work/dataset"))   # [ImageInput(id, sha256, load, from_ink)]
    items = folder_images(Path("photos"), recursive=True)       # ids: paths relative to the folder
    picture = items[0].load()                                    # RGB, opened only when needed

A dataset sample is read from the file it came from while that file is unchanged (checked
against its sha256); once the file is gone, from its ink pixels drawn black on white. Each
input carries the sha256 of what the model sees, which keys the result cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pointdiff.data.dataset import Dataset
from pointdiff.data.folders import natural_key
from pointdiff.data.images import IMAGE_EXTENSIONS, ImageError, open_on_white
from pointdiff.errors import PointdiffError
from pointdiff.store import sha256_bytes, sha256_file


@dataclass
class ImageInput:
    """One image to describe, opened lazily."""

    id: str  # the sample id, or the path relative to the image folder
    sha256: str  # of what the model sees: the image file, or the ink pixels
    load: Callable[[], Image.Image]
    from_ink: bool = False  # drawn from the dataset's ink pixels (its image file is gone or changed)


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as RGB, transparency composited on white (line art on a clear background stays visible).

    Raises:
        PointdiffError: the file is missing, not an image, corrupt or too large (:class:`ImageError`'s kind).
    """
    try:
        return open_on_white(path).convert("RGB")
    except ImageError as e:
        raise PointdiffError(f"cannot read image {path}: {e.kind}{f' ({e.detail})' if e.detail else ''}") from None


def ink_image(pixels: np.ndarray, width: int, height: int) -> Image.Image:
    """Black ink pixels (col, row) on white: what the dataset keeps of an image whose file is gone."""
    canvas = np.full((height, width), 255, dtype=np.uint8)
    canvas[pixels[:, 1], pixels[:, 0]] = 0
    return Image.fromarray(canvas).convert("RGB")


def dataset_images(ds: Dataset) -> list[ImageInput]:
    """Each sample's original image file if it is still there unchanged, else its ink."""
    roots = [ds.root]
    source = ds.info.get("source")
    if isinstance(source, str) and Path(source).is_absolute():
        roots.append(Path(source))
    items = []
    for i, r in enumerate(ds.records):
        path = next((root / r.source for root in roots if (root / r.source).is_file()), None)
        if path is not None and sha256_file(path) == r.sha256:
            items.append(ImageInput(r.id, r.sha256, lambda p=path: open_rgb(p)))
            continue
        pixels = ds.pixels(i)
        digest = sha256_bytes(f"ink:{r.width}x{r.height}:".encode() + np.ascontiguousarray(pixels).tobytes())
        items.append(ImageInput(r.id, digest, lambda px=pixels, w=r.width, h=r.height: ink_image(px, w, h), from_ink=True))
    return items


def folder_images(folder: Path, recursive: bool) -> list[ImageInput]:
    """Image files of ``folder`` (hidden ones skipped), ids = paths relative to it, in natural order."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        paths += [Path(dirpath) / f for f in filenames if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    paths.sort(key=lambda p: natural_key(p.relative_to(folder).as_posix()))
    return [ImageInput(p.relative_to(folder).as_posix(), sha256_file(p), lambda p=p: open_rgb(p)) for p in paths]
