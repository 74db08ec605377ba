"""The Model page: which local model answers, and registering a GGUF file the user has.

The same acts as ``aether models use`` and ``aether models add`` (and the
window's "Choose a model…"): the choice is stored as ``router.model_id``; the
running app loads it on the router thread at once when it can.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aether_qt.core.settings_views import RESTART_NOTE, ModelView, Option, SettingRefused
from aether_qt.engines.router.models import (
    SETTING_MODEL,
    ModelFileError,
    add_model,
    default_model,
    find_model,
    list_models,
)
from aether_qt.policy.runtime import PolicyRuntime


class ModelSettings:
    """Local models over the models folder and the settings.

    Args:
        runtime: the app's policy runtime (its settings store).
        models_dir: the home's models folder (the registry lives there).
        use_model: loads a registered model in the running app (None: after restart).
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        models_dir: Path,
        use_model: Callable[[str], None] | None = None,
    ) -> None:
        self._rt, self._dir, self._use = runtime, models_dir, use_model

    def view(self) -> ModelView:
        """The registered models (bundled first) and the one that answers."""
        try:
            models = list_models(self._dir)
        except ModelFileError:  # an unreadable registry lists nothing; adding a file rewrites it
            models = []
        options = tuple(
            Option(
                m.model_id,
                f"{m.model_id} ({'comes with Aether' if m.source == 'bundled' else Path(m.path).name})",
            )
            for m in models
        )
        chosen = self._rt.settings.get_as(SETTING_MODEL, str, "")
        if not chosen:
            fallback = default_model(self._dir)
            chosen = fallback.model_id if fallback is not None else ""
        return ModelView(options, chosen)

    def use(self, model_id: str) -> str:
        """Answer with ``model_id`` (``aether models use``); loaded now when the app runs.

        Raises:
            SettingRefused: no such registered model.
        """
        if find_model(self._dir, model_id) is None:
            raise SettingRefused(f"No model called {model_id!r} is registered.")
        self._rt.settings.set(SETTING_MODEL, model_id)
        if self._use is None:
            return f"Aether will answer with {model_id} ({RESTART_NOTE})."
        self._use(model_id)
        return f"Loading {model_id}…"

    def add(self, path: str) -> str:
        """Register the GGUF file at ``path`` (``aether models add``) and answer with it.

        Raises:
            SettingRefused: not a complete GGUF file, or unreadable (nothing registered).
        """
        if not path.strip():
            raise SettingRefused("Choose a GGUF model file first.")
        try:
            info = add_model(Path(path.strip()).expanduser(), self._dir)
        except ModelFileError as exc:
            raise SettingRefused(f"Not added: {exc}.") from None
        except OSError as exc:
            raise SettingRefused(f"Not added: {exc.strerror or exc}.") from None
        return f"Added {info.model_id}. " + self.use(info.model_id)
