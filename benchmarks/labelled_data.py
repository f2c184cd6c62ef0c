"""What the issue-10 probes open first: a built-in labelled dataset, its labels' source and its training data."""

from __future__ import annotations

from pointdiff.data.dataset import Dataset
from pointdiff.data.training import TrainingData, load_training_data
from pointdiff.evaluate.labelled import LabelledSource, labelled_source


def open_labelled(path: str) -> tuple[Dataset, LabelledSource, TrainingData]:
    """The dataset at ``path``, the built-in source whose labels eval scores, and its embedded training data.

    Exits with a message when ``path`` was not ingested from a built-in labelled source.
    """
    ds = Dataset(path)
    source = labelled_source(ds.info)
    if source is None:
        raise SystemExit(f"{path} is not a built-in labelled dataset (ingest builtin:faces or builtin:glyphs)")
    return ds, source, load_training_data(path)
