"""Image-folder conventions shared by ingest and caption."""

from __future__ import annotations

import random

from pointdiff.data.folders import natural_bytes, natural_key


def test_natural_sort_key() -> None:
    names = ["frame10.png", "frame2.png", "frame1.png", "Frame3.png"]
    assert sorted(names, key=natural_key) == ["frame1.png", "frame2.png", "Frame3.png", "frame10.png"]


def test_natural_bytes_sort_as_the_key_does() -> None:
    rng = random.Random(0)
    alphabet = ["a", "B", "b", "0", "1", "2", "9", "07", "10", "-", ".", "é", "²", "٣", "_", "\udcff"]  # ٣: Arabic-Indic 3
    names = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(3000)]
    for a, b in zip(names, names[1:]):
        ka, kb = natural_key(a), natural_key(b)
        assert (ka < kb, ka == kb) == (natural_bytes(a) < natural_bytes(b), natural_bytes(a) == natural_bytes(b)), (a, b)
    assert natural_key("x1²") == ["x", 1, "²"]  # isdigit says "²" is a digit; int() does not
