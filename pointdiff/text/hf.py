"""Loading Hugging Face models offline, with errors that say what to do.

Every model pointdiff uses (text encoders, captioners, summarisers) comes from a local
folder: a path the user gives, or a hub id in the Hugging Face cache. A hub id that is not
cached yet is downloaded on first use, the way transformers does it (huggingface_hub's own
download and progress bar, into the cache ``HF_HOME`` names); with ``HF_HUB_OFFLINE=1`` (or a
command's ``--offline``) nothing is fetched and a missing model is a clear message::

    path = resolve_model_dir("openai/clip-vit-base-patch32", flag="--encoder")
    model = load_pretrained(CLIPModel, path, name="openai/clip-vit-base-patch32")  # quiet, local files only
    digest = weights_sha256(weights_files(path))  # what a checkpoint records to refuse other weights
    with quiet_transformers():  # around generate()/tokenizer calls that would log or draw bars
        ...

Remote code (a model repo that ships its own Python) runs only with
``trust_remote_code=True``, which the CLI exposes as ``--trust-remote-code``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pointdiff.errors import PointdiffError
from pointdiff.store import sha256_file

M = TypeVar("M")

CONFIG_FILE = "config.json"
# What transformers looks for, in its order of preference; we hash what it would load.
_WEIGHT_PATTERNS = (
    ("model.safetensors.index.json", "model.safetensors"),
    ("pytorch_model.bin.index.json", "pytorch_model.bin"),
)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache this process would read (honours HF_HOME / HF_HUB_CACHE)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "owner/name"; anything else the user typed is meant as a path.
    return name.startswith((".", "/", "~")) or name.endswith("/") or name.count("/") > 1 or "\\" in name or Path(name).exists()


# The hub ids pointdiff names as defaults, pinned to one commit so that two users get the same
# weights (and the same cache keys). The table in docs/captioning.md lists them; `--revision main`
# takes the newest instead. FastVLM's converted checkpoint has no commit recorded here yet.
PINNED_REVISIONS = {
    "openai/clip-vit-base-patch32": "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268",
    "Qwen/Qwen2.5-7B-Instruct": "a09a35458c702b33eeacc393d103063234e8bc28",
}


def hub_offline() -> bool:
    """Whether downloads are off: ``HF_HUB_OFFLINE`` is 1 / true / yes / on (read at every call)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "TRUE", "YES", "ON"}


def resolve_model_dir(name: str, *, revision: str | None = None, flag: str = "--model") -> Path:
    """The local folder holding model ``name``: a folder path, or a hub id (downloaded if not cached).

    Args:
        name: a folder with ``config.json``, or a hub id such as ``openai/clip-vit-base-patch32``.
        revision: a hub branch, tag or commit (hub ids only); the download fetches exactly that.
            None: the commit in :data:`PINNED_REVISIONS` for the ids pointdiff pins, else the newest.
        flag: the command-line option that takes a path, named in the error message.

    Raises:
        PointdiffError: the folder does not exist or lacks ``config.json``; or the id is neither
            cached nor downloadable (offline, no connection, unknown id); the message says what to do.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / CONFIG_FILE).exists():
            raise PointdiffError(f"{path} is a folder but has no {CONFIG_FILE}; point {flag} at the folder that `save_pretrained` wrote")
        return path.resolve()
    if _looks_like_path(name):
        what = "is not a folder" if path.exists() else "does not exist"
        raise PointdiffError(f"model folder {path} {what}; {flag} takes a folder written by `save_pretrained` or a hub id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = hub_offline()
    revision = revision or PINNED_REVISIONS.get(name)
    elsewhere = (
        f"fetch it where there is internet (`hf download {name}`) and copy that cache here (or set HF_HOME to it), "
        f"or pass {flag} PATH with a folder holding its config.json, tokenizer and weights"
    )
    try:
        return Path(snapshot_download(name, revision=revision, local_files_only=offline))
    except LocalEntryNotFoundError:
        if offline:
            raise PointdiffError(
                f"model {name!r} is not on this machine (not a folder, and not in the Hugging Face cache at "
                f"{hf_cache_dir()}), and downloads are off (HF_HUB_OFFLINE / --offline). Unset it to download "
                f"the model on first use, or {elsewhere}."
            ) from None
        raise PointdiffError(f"model {name!r} is not in the Hugging Face cache at {hf_cache_dir()} and could not be downloaded (no connection to the hub?); {elsewhere}.") from None
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise PointdiffError(f"could not get model {name!r}: {e}") from None


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The model's ``config.json`` as a dict (without importing transformers)."""
    file = Path(path) / CONFIG_FILE
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise PointdiffError(f"cannot read {file}: {e}") from None


def needs_remote_code(config: dict[str, Any]) -> bool:
    """Whether a model's config points at Python code shipped with the model."""
    return bool(config.get("auto_map"))


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' logging and progress bars inside the block (the core never prints)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def load_pretrained(cls: type[M] | Any, path: str | Path, *, name: str | None = None, trust_remote_code: bool = False, **kwargs: Any) -> M:
    """``cls.from_pretrained(path, ...)`` from local files only, with errors a user can act on.

    Args:
        cls: a transformers class with ``from_pretrained`` (``AutoModel``, ``CLIPModel``, ``AutoTokenizer`` ...).
        path: the local folder from :func:`resolve_model_dir`.
        name: what the user called the model (for messages); defaults to ``path``.
        trust_remote_code: allow the model's own Python code to run.
        **kwargs: passed to ``from_pretrained`` (``dtype``, ``config``, ...).
    """
    name = name or str(path)
    if not trust_remote_code and (Path(path) / CONFIG_FILE).exists() and needs_remote_code(read_model_config(path)):
        raise PointdiffError(_remote_code_message(name))
    try:
        with quiet_transformers():
            return cls.from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError, KeyError) as e:
        if "trust_remote_code" in str(e):
            raise PointdiffError(_remote_code_message(name)) from None
        raise PointdiffError(f"could not load {getattr(cls, '__name__', cls)} from {name!r}: {e}") from None


def _remote_code_message(name: str) -> str:
    return (
        f"model {name!r} ships its own Python code, which pointdiff does not run by default. "
        "If you trust its source, rerun with --trust-remote-code."
    )


def weights_files(path: str | Path) -> list[Path]:
    """The weight files ``from_pretrained`` would load from a model folder (safetensors first).

    Raises:
        PointdiffError: the folder holds no weights transformers can read.
    """
    path = Path(path)
    for index_name, single in _WEIGHT_PATTERNS:
        index = path / index_name
        if index.exists():
            try:
                shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            except (OSError, json.JSONDecodeError, KeyError) as e:
                raise PointdiffError(f"cannot read {index}: {e}") from None
            return [path / s for s in shards]
        if (path / single).exists():
            return [path / single]
    raise PointdiffError(f"no model weights (model.safetensors or pytorch_model.bin) in {path}")


# (resolved path, size, mtime_ns) -> sha256: hashing 100s of MB costs ~0.3 s, once per process is enough.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, remembered for this process while its size and mtime stay the same."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = sha256_file(path)
    return _HASH_CACHE[key]


def weights_sha256(files: Sequence[str | Path]) -> str:
    """One digest for a model's weights.

    A single file gives its own sha256 (so it can be compared with a published hash); several
    shards give the sha256 of the lines ``"<file name> <sha256>\\n"`` in name order.
    """
    files = sorted((Path(f) for f in files), key=lambda p: p.name)
    if len(files) == 1:
        return file_sha256(files[0])
    lines = "".join(f"{f.name} {file_sha256(f)}\n" for f in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()
