"""One config dataclass per command, loaded from YAML and overridden by flags.

Each stage defines its own ``@dataclass`` beside its code (``TrainConfig`` in
``pointdiff/recipe.py``, ...), with a comment on every default saying why. This module
only merges sources, in order of increasing precedence:

    dataclass defaults < preset < the workspace's ``pointdiff.yaml`` section < ``--config FILE`` < flags

Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pointdiff.errors import PointdiffError

T = TypeVar("T")

PRESET_DIR = Path(__file__).parent / "configs"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    path = Path(path)
    if not path.exists():
        raise PointdiffError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise PointdiffError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PointdiffError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def preset_path(stage: str, name: str) -> Path:
    """The shipped preset file ``configs/{stage}-{name}.yaml``."""
    path = PRESET_DIR / f"{stage}-{name}.yaml"
    if not path.exists():
        known = sorted(p.stem.removeprefix(f"{stage}-") for p in PRESET_DIR.glob(f"{stage}-*.yaml"))
        raise PointdiffError(f"unknown {stage} preset {name!r}; known: {', '.join(known) or 'none'}")
    return path


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Check/convert one value against a field's type hint (the YAML and flag types we use)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for a in args:
            try:
                return _coerce(name, value, a)
            except PointdiffError as e:
                errors.append(str(e))
        raise PointdiffError(errors[0])
    if origin in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            value = [value]
        (inner, *_) = typing.get_args(hint) or (Any,)
        items = [_coerce(name, v, inner) for v in value]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise PointdiffError(f"{name}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is Any or hint is None:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise PointdiffError(f"{name}: expected true/false, got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise PointdiffError(f"{name}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except ValueError:
            raise PointdiffError(f"{name}: expected an integer, got {value!r}") from None
        if f != int(f):
            raise PointdiffError(f"{name}: expected an integer, got {value!r}")
        return int(f)
    if hint is float:
        if isinstance(value, bool):
            raise PointdiffError(f"{name}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise PointdiffError(f"{name}: expected a number, got {value!r}") from None
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise PointdiffError(f"{name}: expected text, got {value!r}")
        return str(value)
    if hint is Path:
        return Path(value)
    return value


def apply(cfg: T, values: Mapping[str, Any], source: str = "settings") -> T:
    """Return a copy of dataclass ``cfg`` with ``values`` applied; unknown keys raise.

    ``None`` values are skipped, so unset CLI flags can be passed straight through.
    """
    hints = typing.get_type_hints(type(cfg))
    names = {f.name for f in dataclasses.fields(cfg)}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in set(values) - names)  # YAML keys may be numbers, booleans or null
    if unknown:
        raise PointdiffError(
            f"{source}: unknown setting(s) {', '.join(unknown)} for {type(cfg).__name__}; "
            f"known: {', '.join(sorted(names))}"
        )
    changes = {k: _coerce(k, v, hints[k]) for k, v in values.items() if v is not None}
    return dataclasses.replace(cfg, **changes)  # type: ignore[type-var]


def load_config(
    cls: type[T],
    *,
    preset: Path | None = None,
    workspace_section: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build a ``cls`` from defaults, then preset, workspace section, config file, flags."""
    cfg = cls()
    if preset is not None:
        cfg = apply(cfg, read_yaml(preset), str(preset))
    if workspace_section:
        cfg = apply(cfg, workspace_section, "pointdiff.yaml")
    if config_file is not None:
        cfg = apply(cfg, read_yaml(config_file), str(config_file))
    if overrides:
        cfg = apply(cfg, overrides, "command-line flags")
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass as plain YAML/JSON-friendly data (paths become strings)."""
    out = {}
    for k, v in dataclasses.asdict(cfg).items():
        out[k] = str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
    return out
