"""Monitor a PyTorch classifier as it is: every forward pass logs its predictions.

``MonitoredModule(module, monitor, classes=[...], layer="encoder.fc2")`` is an
``nn.Module`` whose ``forward`` returns exactly the wrapped module's output (the same
tensor object, gradients untouched) and logs, per row of the batch, the softmax of the
logits as the scores, the most probable class as the prediction, and, when ``layer``
names a submodule, that layer's output flattened as the embedding (a forward hook; the
spec's ``embedding`` column). Logging runs under ``torch.no_grad()`` on detached copies.
``features=`` maps a batch's inputs to named feature columns (e.g. an image's mean
brightness) when the spec has features; ``cohorts=`` and ``ids=`` work as in the
scikit-learn wrapper, and ``timestamps=`` gives the predictions' times (default: now);
``buffer=N`` logs in batches of at least N rows.

PyTorch is an optional dependency (``pip install 'driftline[torch]'``; on a machine
without a GPU, ``pip install torch==2.13.0`` first gets the CPU build).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from driftline.errors import ConfigError, missing_extra, name_list, shorten
from driftline.integrations._rows import OnError, RowLogger
from driftline.monitor import Monitor

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - the test extra installs torch
    raise missing_extra("the PyTorch wrapper", "torch", "torch") from exc

__all__ = ["MonitoredModule"]


class MonitoredModule(nn.Module):
    """``module`` with every forward pass logged to ``monitor``."""

    def __init__(
        self,
        module: nn.Module,
        monitor: Monitor,
        *,
        classes: Sequence[Any],
        layer: str | None = None,
        features: Callable[[Any], Mapping[str, Any]] | None = None,
        cohorts: Mapping[str, Any] | None = None,
        buffer: int = 0,
        on_error: OnError = "raise",
    ) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"module is a {type(module).__name__}; give a torch.nn.Module (for a "
                "scikit-learn model use driftline.integrations.sklearn.MonitoredModel)."
            )
        self.unwrapped = module
        self._logger = RowLogger(
            monitor, list(classes), buffer=buffer, cohorts=cohorts, on_error=on_error
        )
        self._features = features
        self._captured: Any = None
        self._hook: Any = None
        self.layer = layer
        if layer is not None:
            names = dict(module.named_modules())
            if layer not in names or layer == "":
                available = [n for n in names if n]
                raise ConfigError(
                    f"layer {shorten(layer)} is not a submodule of {type(module).__name__}; "
                    f"its layers are {name_list(available)}. Name one as printed by "
                    "module.named_modules()."
                )
            if not monitor.spec.embedding:
                raise ConfigError(
                    f"layer {shorten(layer)} gives embeddings but the spec has no embedding "
                    "column; add `embedding: <column name>` to the spec."
                )
            self._hook = names[layer].register_forward_hook(self._capture)

    def _capture(self, _module: nn.Module, _inputs: Any, output: Any) -> None:
        first = output[0] if isinstance(output, (tuple, list)) else output
        self._captured = first.detach()

    def forward(
        self,
        *args: Any,
        ids: Sequence[Any] | None = None,
        cohorts: Mapping[str, Any] | None = None,
        timestamps: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        self._captured = None
        out = self.unwrapped(*args, **kwargs)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        with torch.no_grad():
            proba = torch.softmax(logits.detach().float(), dim=-1).cpu().numpy()
            embedding = None
            if self._captured is not None:
                embedding = self._captured.flatten(1).float().cpu().numpy()
            feats = dict(self._features(args[0] if args else None)) if self._features else {}
            table = self._logger.rows(
                proba,
                feats,
                ids=ids,
                cohorts=cohorts,
                embedding=embedding,
                timestamps=timestamps,
            )
        self._logger.log(table)
        return out

    @property
    def logged(self) -> int:
        return self._logger.logged

    @property
    def dropped(self) -> int:
        return self._logger.dropped

    def flush(self) -> None:
        self._logger.flush()

    def remove(self) -> None:
        """Log what is buffered and detach the hook: the module is as it was."""
        self.flush()
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
