"""Model builders by name, and the checkpoint format every model is saved in.

A checkpoint is one ``torch.save`` file holding ``{"arch", "config", "state_dict",
"meta"}``: ``arch`` names a builder registered here with :func:`register_model`,
``config`` holds its keyword arguments, and ``meta`` the rest (bands, classes,
threshold, preprocessing, training recipe, metrics). Checkpoints never pickle code:
they load with ``weights_only=True``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .._errors import InputError

__all__ = ["register_model", "build_model", "save_checkpoint", "load_checkpoint", "bundled_weights", "MODEL_BUILDERS"]

#: name -> builder(**config) -> nn.Module
MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable:
    """Decorator registering a model builder under ``name``."""

    def register(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODEL_BUILDERS[name] = builder
        return builder

    return register


def build_model(arch: str, **config: Any) -> nn.Module:
    """Build an untrained model ``arch`` with ``config``; ValueError listing the known names."""
    _import_builders()
    if arch not in MODEL_BUILDERS:
        raise ValueError(f"unknown model architecture {arch!r}; known: {', '.join(sorted(MODEL_BUILDERS))}")
    return MODEL_BUILDERS[arch](**config)


def save_checkpoint(path: str | Path, model: nn.Module, *, arch: str, config: dict, meta: dict,
                    half: bool = False) -> Path:
    """Save ``model`` atomically; ``half=True`` stores floating weights as float16 (smaller files)."""
    from ..io._atomic import atomic_path

    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"arch": arch, "config": dict(config), "state_dict": state, "meta": dict(meta)}, tmp)
    return path


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """Load a checkpoint into its model (eval mode, float32) and return ``(model, meta)``.

    Raises
    ------
    InputError
        If the file is missing, not a torch file, or not a spacejunk checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds here (pickle, zip, EOF)
        raise InputError(path, f"not a readable model checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict) or not {"arch", "config", "state_dict"} <= set(ckpt):
        raise InputError(path, "not a spacejunk checkpoint (expected keys arch, config, state_dict)")
    try:
        model = build_model(ckpt["arch"], **ckpt["config"])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    except (ValueError, RuntimeError, TypeError) as err:
        raise InputError(path, f"checkpoint does not match its architecture: {err}") from None
    model.eval()
    meta = dict(ckpt.get("meta", {}))
    meta.setdefault("arch", ckpt["arch"])
    return model, meta


def bundled_weights(name: str) -> Path:
    """Path of a weights file shipped in ``spacejunk/weights`` (e.g. ``"classifier.pt"``)."""
    path = Path(str(resources.files("spacejunk") / "weights" / name))
    if not path.is_file():
        raise InputError(path, "the bundled model is missing from this installation")
    return path


def _import_builders() -> None:
    """Import the model modules so their builders register themselves."""
    import importlib
    import pkgutil

    from .. import models

    for info in pkgutil.iter_modules(models.__path__):
        if not info.name.startswith("_") and info.name != "registry":
            importlib.import_module(f"{models.__name__}.{info.name}")
