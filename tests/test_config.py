"""pointdiff.config: sources merge in a fixed order, and a typo or a wrong type is an error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pointdiff.config import apply, load_config, preset_path, read_yaml, to_dict
from pointdiff.errors import PointdiffError


@dataclass
class Settings:
    """A stand-in for a stage's config: one field of each kind of type the stages use."""

    steps: int = 10
    lr: float = 0.1
    name: str = "base"
    jitter: bool = True
    out: Path = Path("out")
    seed: int | None = None
    sizes: list[int] = field(default_factory=lambda: [1])
    pair: tuple[str, ...] = ("a",)
    extra: dict[str, int] = field(default_factory=dict)


def _yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize("source", ["preset", "workspace_section", "config_file", "overrides"])
def test_an_unknown_key_is_an_error_in_every_source(tmp_path: Path, source: str) -> None:
    typo = {"stpes": 5}  # a typo must not silently fall back to the default
    kwargs = {
        "preset": {"preset": _yaml(tmp_path / "train-x.yaml", "stpes: 5\n")},
        "workspace_section": {"workspace_section": typo},
        "config_file": {"config_file": _yaml(tmp_path / "mine.yaml", "stpes: 5\n")},
        "overrides": {"overrides": typo},
    }[source]
    where = {"preset": "train-x.yaml", "workspace_section": "pointdiff.yaml", "config_file": "mine.yaml", "overrides": "command-line flags"}[source]
    with pytest.raises(PointdiffError, match=r"unknown setting\(s\) stpes for Settings; known: ") as err:
        load_config(Settings, **kwargs)
    assert where in str(err.value)  # says which file (or the flags) to fix
    assert "steps" in str(err.value).split("known:")[1]  # and lists what would have been right


def test_an_unknown_key_is_an_error_even_with_a_none_value() -> None:
    # Unset flags arrive as None and are skipped, but only for names the config has.
    with pytest.raises(PointdiffError, match="unknown setting"):
        apply(Settings(), {"stpes": None})
    assert apply(Settings(), {"steps": None}) == Settings()


# ----------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("steps", "12", 12),  # flags and YAML may give numbers as text
        ("steps", 3.0, 3),
        ("steps", "1e3", 1000),
        ("lr", "2e-4", 2e-4),
        ("lr", 1, 1.0),
        ("name", 7, "7"),
        ("jitter", "no", False),
        ("jitter", "TRUE", True),
        ("out", "runs/x", Path("runs/x")),
        ("seed", "4", 4),
        ("seed", None, None),
        ("sizes", 5, [5]),  # one value where a list is expected becomes a list of one
        ("sizes", ["1", 2.0], [1, 2]),
        ("pair", ["x", "y"], ("x", "y")),
        ("extra", {"k": 1}, {"k": 1}),
    ],
)
def test_values_are_converted_to_the_field_type(key: str, value: object, expected: object) -> None:
    got = getattr(apply(Settings(), {key: value}), key)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("steps", "ten", "steps: expected an integer, got 'ten'"),
        ("steps", 2.5, "steps: expected an integer, got 2.5"),
        ("steps", True, "steps: expected an integer, got True"),
        ("steps", [1], "steps: expected an integer, got [1]"),
        ("lr", "fast", "lr: expected a number, got 'fast'"),
        ("lr", False, "lr: expected a number, got False"),
        ("jitter", "maybe", "jitter: expected true/false, got 'maybe'"),
        ("jitter", 1, "jitter: expected true/false, got 1"),
        ("name", ["a"], "name: expected text, got ['a']"),
        ("name", True, "name: expected text, got True"),
        ("seed", "x", "seed: expected an integer, got 'x'"),
        ("sizes", ["1", "b"], "sizes: expected an integer, got 'b'"),
        ("extra", [1, 2], "extra: expected a mapping, got [1, 2]"),
    ],
)
def test_a_wrong_type_is_an_error_that_names_the_setting(key: str, value: object, message: str) -> None:
    with pytest.raises(PointdiffError) as err:
        apply(Settings(), {key: value})
    assert str(err.value) == message


def test_a_wrong_type_in_a_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="steps: expected an integer"):
        load_config(Settings, config_file=_yaml(tmp_path / "c.yaml", "steps: many\n"))


# ----------------------------------------------------------------------------- precedence


def test_precedence_defaults_preset_workspace_file_flags(tmp_path: Path) -> None:
    preset = _yaml(tmp_path / "train-p.yaml", "steps: 1\nlr: 0.5\nname: preset\njitter: false\n")
    section = {"lr": 0.25, "name": "workspace", "jitter": True}
    config_file = _yaml(tmp_path / "c.yaml", "name: file\njitter: false\n")
    flags = {"jitter": True, "steps": None}  # None: the flag was not given
    cfg = load_config(Settings, preset=preset, workspace_section=section, config_file=config_file, overrides=flags)
    assert (cfg.steps, cfg.lr, cfg.name, cfg.jitter) == (1, 0.25, "file", True)
    assert cfg.seed is None and cfg.sizes == [1]  # nobody set them: the defaults
    # Each source alone wins over the defaults, and the flags over everything.
    assert load_config(Settings, preset=preset).name == "preset"
    assert load_config(Settings, preset=preset, workspace_section=section).name == "workspace"
    assert load_config(Settings, workspace_section=section, config_file=config_file).name == "file"
    assert load_config(Settings, config_file=config_file, overrides={"name": "flag"}).name == "flag"


def test_apply_returns_a_copy() -> None:
    base = Settings()
    assert apply(base, {"steps": 5}).steps == 5 and base.steps == 10


# ----------------------------------------------------------------------------- files


def test_read_yaml_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(PointdiffError, match="config file not found"):
        read_yaml(tmp_path / "absent.yaml")
    with pytest.raises(PointdiffError, match="not valid YAML"):
        read_yaml(_yaml(tmp_path / "bad.yaml", "steps: [1, 2\n"))
    with pytest.raises(PointdiffError, match="expected a mapping of settings, got list"):
        read_yaml(_yaml(tmp_path / "list.yaml", "- steps\n- lr\n"))
    assert read_yaml(_yaml(tmp_path / "empty.yaml", "")) == {}


def test_presets_are_found_by_name_and_an_unknown_one_lists_the_known() -> None:
    assert preset_path("train", "seed").name == "train-seed.yaml"
    with pytest.raises(PointdiffError, match=r"unknown train preset 'sede'; known: ") as err:
        preset_path("train", "sede")
    assert "seed" in str(err.value).split("known: ")[1].split(", ")


def test_to_dict_gives_yaml_friendly_data() -> None:
    d = to_dict(Settings(out=Path("a/b"), pair=("x", "y")))
    assert d["out"] == "a/b" and d["pair"] == ["x", "y"] and d["sizes"] == [1]
