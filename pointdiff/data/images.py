"""Load any image safely and turn it into ink coordinates.

Conventions (the reference's, made precise):

* Ink is a grayscale pixel darker than ``threshold`` (default 128). Transparent pixels are
  composited on white first, so a transparent background is paper, not ink.
* A pixel (col, row) maps to the point at its centre, scaled by the image's longer side
  ``S`` so the aspect ratio is kept and the picture is centred in [-3, 3]::

      x = (col + 0.5 - W/2) / S * 6
      y = (H/2 - row - 0.5) / S * 6        # rows grow downward, y grows upward

  For a square image this is the reference's ``coordinate / size * 6 - 3`` up to half a
  pixel, and pictures come out upright when plotted with y up. A non-square image fills
  [-3, 3] along its longer side and is centred along the shorter one.

Colour (``read_ink(..., color=True)``): ink is still decided on luminance, and each ink
pixel also keeps its RGB. A colour point is (x, y, r, g, b) with each channel mapped to the
same [-3, 3] as the coordinates (``value = channel / 255 * 6 - 3``, the reference's own
scaling), so the flow's noise (std 2) covers colour as it covers position.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pointdiff.errors import PointdiffError
from pointdiff.store import sha256_file

INK_THRESHOLD = 128
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
HALF_EXTENT = 3.0  # points live in [-3, 3]


class ImageError(PointdiffError):
    """An input file that cannot be used as an image.

    ``kind`` is one of the constants below, for callers that sort rejections; ``detail`` is
    the specific reason (may be empty); the message reads "kind (detail)".
    """

    NOT_FOUND = "file not found"
    NOT_IMAGE = "not an image"
    TOO_LARGE = "image too large to open safely"
    CORRUPT = "corrupt or truncated image"

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind} ({detail})" if detail else kind)
        self.kind, self.detail = kind, detail


def open_on_white(path: str | Path) -> Image.Image:
    """Open an image (first frame of an animation), transparency composited on white paper.

    Raises:
        ImageError: the file is missing, not an image, corrupt, or absurdly large.
    """
    try:
        with Image.open(path) as im:
            im.seek(0)
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            return im.copy()
    except FileNotFoundError:
        raise ImageError(ImageError.NOT_FOUND) from None
    except UnidentifiedImageError:
        raise ImageError(ImageError.NOT_IMAGE, "unrecognised format") from None
    except Image.DecompressionBombError as e:
        raise ImageError(ImageError.TOO_LARGE, str(e)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(ImageError.CORRUPT, str(e)) from None


def load_grayscale(path: str | Path, max_size: int | None = None) -> np.ndarray:
    """Read an image (first frame of an animation) as uint8 grayscale [H, W] on white.

    ``max_size`` shrinks images whose longer side is larger (keeps the dataset small for
    photos; line art at 256-512 px keeps its strokes).

    Raises:
        ImageError: the file is missing, not an image, corrupt, or absurdly large.
    """
    return np.asarray(_shrunk(open_on_white(path).convert("L"), max_size), dtype=np.uint8)


def load_rgb(path: str | Path, max_size: int | None = None) -> np.ndarray:
    """Read an image as uint8 RGB [H, W, 3] on white, shrunk as :func:`load_grayscale` shrinks it.

    Raises:
        ImageError: the file is missing, not an image, corrupt, or absurdly large.
    """
    return np.asarray(_shrunk(open_on_white(path).convert("RGB"), max_size), dtype=np.uint8)


def _shrunk(im: Image.Image, max_size: int | None) -> Image.Image:
    if max_size is not None and max(im.size) > max_size:
        scale = max_size / max(im.size)
        new = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(new, Image.Resampling.LANCZOS)
    return im


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grayscale uint8 of RGB pixels [..., 3], exactly as PIL's ``convert("L")`` computes it (ITU-R 601-2)."""
    r, g, b = (rgb[..., k].astype(np.uint32) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def ink_pixels(gray: np.ndarray, threshold: int = INK_THRESHOLD) -> np.ndarray:
    """Coordinates (col, row) of every pixel darker than ``threshold``, uint16 [K, 2]."""
    if gray.shape[0] > 65535 or gray.shape[1] > 65535:
        raise ImageError(ImageError.TOO_LARGE, "a side over 65535 pixels")
    rows, cols = np.nonzero(gray < threshold)
    return np.stack([cols, rows], axis=1).astype(np.uint16)


@dataclass
class InkRead:
    """What :func:`read_ink` found in one file: its ink, or why it has none. Plain data, so it crosses processes.

    ``error`` is the reason the file gave no pixels: ``("unreadable", message)`` when its bytes
    could not be read, else an :class:`ImageError`'s ``(kind, detail)``. ``sha256`` is set
    whenever the bytes could be read, so a caller can spot a duplicate before anything else.
    """

    sha256: str | None = None
    pixels: np.ndarray | None = None  # uint16 [K, 2] (col, row), or [K, 5] (col, row, r, g, b) in colour; None when ``error``
    width: int = 0  # after shrinking to max_size
    height: int = 0
    darkest: int = 255  # the darkest gray level: says how far off the threshold a blank image was
    resized: bool = False  # shrunk to max_size
    error: tuple[str, str] | None = None

    UNREADABLE = "unreadable"  # error kind: the file's bytes could not be read (permissions, vanished)


def read_ink(path: str | Path, max_size: int | None, threshold: int = INK_THRESHOLD, color: bool = False) -> InkRead:
    """Hash, open, shrink and threshold one image file: all of ingest's per-image work.

    With ``color`` each ink pixel also keeps its RGB (``pixels`` is [K, 5]); which pixels are
    ink is still decided on luminance (of the shrunk RGB picture).
    A top-level function, so a worker process can be sent it by name. Never raises for a bad file (the reason is in ``error``); it does for a
    bug or a lack of memory, which must not become a rejection.
    """
    try:
        digest = sha256_file(path)
    except OSError as e:
        return InkRead(error=(InkRead.UNREADABLE, f"cannot read the file ({e.strerror or e})"))
    try:
        rgb = load_rgb(path, max_size) if color else None
        gray = load_grayscale(path, max_size) if rgb is None else luminance(rgb)
        pixels = ink_pixels(gray, threshold)  # inside: a side over 65535 px is an error too
        if rgb is not None:
            pixels = np.concatenate([pixels, rgb[pixels[:, 1], pixels[:, 0]].astype(np.uint16)], axis=1)
    except ImageError as e:
        return InkRead(sha256=digest, error=(e.kind, e.detail))
    height, width = gray.shape
    with Image.open(path) as im:  # header only: was it shrunk?
        resized = max(im.size) > max(width, height)
    return InkRead(digest, pixels, width, height, int(gray.min()), resized)


def init_worker() -> None:
    """The initializer of a pool's worker process: leave Ctrl-C to the parent, and die with it.

    Ctrl-C reaches every process of the terminal's group; a worker that took it would die
    mid-task and break the pool, so workers ignore it and the parent stops them in order.
    A pool's workers wait for work on a pipe they hold both ends of, so a parent killed with
    SIGKILL would leave them waiting forever (holding its terminal or output pipe open): a
    daemon thread waits on the parent's sentinel, which the OS readies when the parent dies.
    """
    import multiprocessing
    import multiprocessing.connection
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    parent = multiprocessing.parent_process()
    if parent is None:  # not a child: nothing to watch
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def pixel_size(width: int | np.ndarray, height: int | np.ndarray) -> np.ndarray:
    """Point units per pixel (float32) for images of this size: the longer side spans [-3, 3].

    ``width`` and ``height`` may be arrays (one per image, or one per pixel); the result has
    their shape. Half of it is the jitter that spreads a point over its pixel.
    """
    w, h = np.asarray(width, np.float32), np.asarray(height, np.float32)
    return np.float32(2 * HALF_EXTENT) / np.maximum(w, h)


def pixels_to_points(pixels: np.ndarray, width: int | np.ndarray, height: int | np.ndarray, jitter: np.ndarray | None = None) -> np.ndarray:
    """Map pixel coordinates [K, 2] (col, row) to float32 points in [-3, 3] (see module doc).

    The one place the mapping is written: the dataset's sampler maps all images at once by
    passing ``width`` and ``height`` per pixel (arrays [K]) instead of one size.
    ``jitter``, if given, is an offset in pixels added before mapping (uniform in
    [-0.5, 0.5) spreads each point over its pixel instead of its centre).
    """
    w, h = np.asarray(width, np.float32), np.asarray(height, np.float32)
    p = pixels.astype(np.float32) + np.float32(0.5)  # pixel centres
    if jitter is not None:
        p = p + jitter
    scale = pixel_size(w, h)
    x = (p[:, 0] - w / 2) * scale
    y = (h / 2 - p[:, 1]) * scale
    return np.stack([x, y], axis=1).astype(np.float32, copy=False)


def rgb_to_values(rgb: np.ndarray) -> np.ndarray:
    """Colour channels 0..255 [..., 3] as float32 values in [-3, 3] (the coordinates' range)."""
    return (np.asarray(rgb, np.float32) * np.float32(2 * HALF_EXTENT / 255) - np.float32(HALF_EXTENT)).astype(np.float32, copy=False)


def values_to_rgb(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_values`: colour values [..., 3] as RGB in [0, 1] (clipped), for plotting."""
    return np.clip((np.asarray(values, np.float32) + HALF_EXTENT) / (2 * HALF_EXTENT), 0.0, 1.0)


def points_to_pixels(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`pixels_to_points` (float pixel coordinates, col and row)."""
    scale = pixel_size(width, height)
    col = points[:, 0] / scale + width / 2 - 0.5
    row = height / 2 - points[:, 1] / scale - 0.5
    return np.stack([col, row], axis=1)
