"""Which images `caption` describes, in which order, and how they are opened (pointdiff/text/caption_inputs.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pointdiff.data.dataset import Dataset
from pointdiff.errors import PointdiffError
from pointdiff.store import sha256_file
from pointdiff.text.caption_inputs import dataset_images, folder_images, ink_image, open_rgb


def _png(path: Path, colour: str = "white") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 6), colour).save(path)
    return path


def test_folder_images_in_natural_order_hidden_skipped_subfolders_only_when_recursive(tmp_path: Path) -> None:
    for name in ("frame10.png", "frame2.PNG", "frame1.jpg", ".hidden.png", "sub/frame3.png", ".cache/frame4.png"):
        _png(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    assert [it.id for it in folder_images(tmp_path, recursive=False)] == ["frame1.jpg", "frame2.PNG", "frame10.png"]
    items = folder_images(tmp_path, recursive=True)
    assert [it.id for it in items] == ["frame1.jpg", "frame2.PNG", "frame10.png", "sub/frame3.png"]
    assert items[3].sha256 == sha256_file(tmp_path / "sub/frame3.png") and not items[3].from_ink
    assert items[3].load().size == (8, 6)


def test_open_rgb_puts_transparency_on_white(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    im = open_rgb(tmp_path / "clear.png")
    assert im.mode == "RGB" and im.getpixel((0, 0)) == (255, 255, 255)


def test_unreadable_image_names_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_text("this is text")
    with pytest.raises(PointdiffError, match=r"cannot read image .*fake\.png: not an image \(unrecognised format\)$"):
        open_rgb(tmp_path / "fake.png")
    with pytest.raises(PointdiffError, match=r"cannot read image .*gone\.png: file not found$"):
        open_rgb(tmp_path / "gone.png")


def test_ink_image_draws_black_pixels_on_white() -> None:
    im = np.asarray(ink_image(np.array([[1, 0], [3, 2]], dtype=np.uint16), width=4, height=3))
    assert im.shape == (3, 4, 3)
    dark = {(int(r), int(c)) for r, c in zip(*np.nonzero(im[..., 0] == 0))}
    assert dark == {(0, 1), (2, 3)}  # (row, col) of the ink pixels (col, row)
    assert int((im[..., 0] == 255).sum()) == 10


def test_dataset_sample_reads_its_file_while_unchanged_else_its_ink(shapes_dataset: Dataset, tmp_path: Path) -> None:
    root = shapes_dataset.root
    first = shapes_dataset.records[0]
    assert all(it.from_ink for it in dataset_images(shapes_dataset))  # their sources were never here
    _png(root / first.source)  # a file with the right name but other bytes than the sample came from
    items = dataset_images(Dataset(root))
    assert items[0].from_ink and items[0].sha256 != first.sha256
    # The ink picture is the sample's own pixels; the same pixels give the same digest (one cache entry).
    assert items[0].sha256 == dataset_images(Dataset(root))[0].sha256
    assert items[0].load().size == (first.width, first.height)
