"""Model cards: plain data describing a face-recognition model file."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ModelCard:
    """Everything the toolkit needs to know about one face-recognition model.

    Plain data, like a timm model card: where the weights are, how to preprocess, what
    comes out, and the decision threshold with the data set it was calibrated on.
    """

    name: str
    #: local ONNX file (absolute, or relative to the card file's folder)
    path: str | None = None
    #: download address for ``xssab models fetch`` (file lands in the local cache)
    url: str | None = None
    sha256: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    input_size: tuple[int, int] = (112, 112)  # (height, width)
    channel_order: str = "rgb"  # "rgb" | "bgr"
    mean: tuple[float, float, float] | float = 127.5
    std: tuple[float, float, float] | float = 127.5
    embedding_size: int = 512
    #: which graph output is the embedding (name or index); None = the first output
    embedding_output: str | int | None = None
    #: spatial feature output (e.g. the last 7x7 conv map) for comparators such as xCos
    feature_output: str | None = None
    threshold: float | None = None
    threshold_dataset: str | None = None
    licence: str | None = None
    source: str | None = None
    how_to_obtain: str | None = None
    description: str = ""
    #: plugin that registered the card (filled in by the registry)
    plugin: str | None = None
    #: five (x, y) alignment target points in input pixels (left eye, right eye, nose tip,
    #: left and right mouth corner); None = the ArcFace 112x112 template scaled to input_size
    align_template: list | None = None
    #: further facts a backend needs (provenance, measured accuracy, xcos outputs...)
    extra: dict[str, Any] = field(default_factory=dict)
    #: folder the card was read from; relative ``path`` values resolve against it
    base_dir: str | None = None

    def __post_init__(self) -> None:
        self.channel_order = str(self.channel_order).lower()
        if self.channel_order not in ("rgb", "bgr"):
            raise ValueError(f"model card {self.name!r}: channel_order must be 'rgb' or 'bgr'")
        self.input_size = tuple(int(v) for v in self.input_size)  # type: ignore[assignment]
        if isinstance(self.mean, list):
            self.mean = tuple(float(v) for v in self.mean)  # type: ignore[assignment]
        if isinstance(self.std, list):
            self.std = tuple(float(v) for v in self.std)  # type: ignore[assignment]

    def replace(self, **changes: Any) -> "ModelCard":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base_dir: str | Path | None = None) -> "ModelCard":
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = dict(kwargs.pop("extra", {}) or {})
        extra.update({k: v for k, v in data.items() if k not in known})
        if base_dir is not None and "base_dir" not in kwargs:
            kwargs["base_dir"] = str(base_dir)
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_toml(cls, path: str | Path) -> "ModelCard":
        path = Path(path)
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return cls.from_dict(data, base_dir=path.parent)

    def preprocessing_summary(self) -> str:
        h, w = self.input_size
        return f"{w}x{h} {self.channel_order.upper()} (x-{_fmt(self.mean)})/{_fmt(self.std)}"


def _fmt(v) -> str:
    if isinstance(v, (tuple, list)):
        if len(set(v)) == 1:
            v = v[0]
        else:
            return "[" + ",".join(f"{x:g}" for x in v) + "]"
    return f"{float(v):g}"
