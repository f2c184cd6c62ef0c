"""Image loading conventions: ink threshold, transparency, coordinates, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pointdiff.data.images import ImageError, ink_pixels, load_grayscale, pixel_size, pixels_to_points, points_to_pixels


def test_threshold_127_is_ink_128_is_not(tmp_path: Path) -> None:
    gray = np.full((4, 4), 255, np.uint8)
    gray[1, 1], gray[2, 2] = 127, 128
    Image.fromarray(gray).save(tmp_path / "t.png")
    px = ink_pixels(load_grayscale(tmp_path / "t.png"), threshold=128)
    assert px.tolist() == [[1, 1]]  # (col, row) of the 127 pixel only


def test_transparent_pixels_are_paper(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)  # black everywhere...
    rgba[..., 3] = 0  # ...but fully transparent
    rgba[0, 3] = (0, 0, 0, 255)  # one opaque black pixel
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    px = ink_pixels(load_grayscale(tmp_path / "a.png"))
    assert px.tolist() == [[3, 0]]


def test_dark_top_left_pixel_maps_to_upper_left_point() -> None:
    gray = np.full((64, 64), 255, np.uint8)
    gray[0, 0] = 0  # row 0 is the top of the picture
    pts = pixels_to_points(ink_pixels(gray), 64, 64)
    assert pts.shape == (1, 2)
    assert pts[0, 0] < -2.9 and pts[0, 1] > 2.9  # x left, y up: pictures plot upright


def test_square_matches_reference_scaling() -> None:
    px = np.array([[0, 0], [255, 255], [128, 64]], np.uint16)
    pts = pixels_to_points(px, 256, 256)
    ref_x = (px[:, 0] + 0.5) / 256 * 6 - 3  # the reference's coordinate / size * 6 - 3 (pixel centre)
    ref_y = 3 - (px[:, 1] + 0.5) / 256 * 6  # ... with y flipped so up is up
    np.testing.assert_allclose(pts[:, 0], ref_x, atol=1e-6)
    np.testing.assert_allclose(pts[:, 1], ref_y, atol=1e-6)
    assert np.abs(pts).max() <= 3.0


def test_non_square_keeps_aspect_and_is_centred() -> None:
    gray = np.zeros((100, 200), np.uint8)  # 200 wide, 100 high, all ink
    pts = pixels_to_points(ink_pixels(gray), 200, 100)
    width, height = np.ptp(pts[:, 0]), np.ptp(pts[:, 1])
    assert width == pytest.approx(2 * height, rel=0.02)  # 2:1 kept, not stretched to a square
    assert pts[:, 0].min() > -3 and pts[:, 0].max() < 3 and width > 5.9  # fills x
    assert abs(pts[:, 1].mean()) < 1e-3 and pts[:, 1].max() < 1.51  # centred, half height


def test_points_to_pixels_inverts() -> None:
    px = np.array([[0, 0], [199, 99], [50, 20]], np.uint16)
    back = points_to_pixels(pixels_to_points(px, 200, 100), 200, 100)
    np.testing.assert_allclose(back, px, atol=1e-4)


def test_max_size_shrinks_longer_side_keeping_aspect(tmp_path: Path) -> None:
    Image.new("L", (1000, 400), 0).save(tmp_path / "big.png")
    gray = load_grayscale(tmp_path / "big.png", max_size=500)
    assert gray.shape == (200, 500)
    assert load_grayscale(tmp_path / "big.png", max_size=2000).shape == (400, 1000)


def test_gif_first_frame(tmp_path: Path) -> None:
    first = Image.new("L", (8, 8), 255)
    first.putpixel((2, 3), 0)
    second = Image.new("L", (8, 8), 0)
    first.save(tmp_path / "anim.gif", save_all=True, append_images=[second])
    assert ink_pixels(load_grayscale(tmp_path / "anim.gif")).tolist() == [[2, 3]]


def test_bad_files_raise_with_reason(tmp_path: Path) -> None:
    (tmp_path / "garbage.png").write_bytes(b"this is not a png")
    Image.new("L", (64, 64), 0).save(tmp_path / "ok.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    with pytest.raises(ImageError, match="not an image"):
        load_grayscale(tmp_path / "garbage.png")
    with pytest.raises(ImageError, match="corrupt|truncated"):
        load_grayscale(tmp_path / "cut.png")
    with pytest.raises(ImageError, match="not found"):
        load_grayscale(tmp_path / "missing.png")


def test_pixel_size_is_set_by_the_longer_side_for_one_image_or_many() -> None:
    assert pixel_size(200, 100) == pixel_size(100, 200) == np.float32(6 / 200)
    np.testing.assert_array_equal(pixel_size(np.array([200, 64, 77]), np.array([100, 300, 77])), np.float32([6 / 200, 6 / 300, 6 / 77]))


def test_pixels_to_points_with_a_size_per_pixel_matches_one_image_at_a_time() -> None:
    a, b = np.array([[0, 0], [199, 99]], np.uint16), np.array([[3, 299], [63, 0]], np.uint16)
    both = pixels_to_points(np.concatenate([a, b]), np.array([200, 200, 64, 64]), np.array([100, 100, 300, 300]))
    np.testing.assert_array_equal(both, np.concatenate([pixels_to_points(a, 200, 100), pixels_to_points(b, 64, 300)]))
