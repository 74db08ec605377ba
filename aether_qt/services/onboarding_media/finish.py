"""What Finish does with the model page's pick: register the file, so the caller can make it the model.

The page only collects (a path, a catalogue name); registering is ``aether
models add`` (header checked, hash recorded) and, for a catalogue download,
the pinned hash checked once more, the last step before the model can be used
(:func:`~aether_qt.engines.router.models.add_model`). The caller stores the
returned id as the chosen model (``router.model_id``). A remote pick is
:func:`~aether_qt.services.onboarding_media.remote.save_remote_provider`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aether_qt.engines.router.catalogue import CatalogueError, CatalogueModel, find, load_catalogue
from aether_qt.engines.router.gguf import ModelFileError
from aether_qt.engines.router.models import add_model


class ModelNotRegistered(Exception):
    """The picked file cannot be used; ``str(self)`` says why in plain words."""


def register_model(
    models_dir: Path,
    path: Path,
    *,
    catalogue_name: str = "",
    catalogue: Sequence[CatalogueModel] | None = None,
) -> str:
    """Register the GGUF at ``path`` (a catalogue download when ``catalogue_name``); its model id.

    Raises:
        ModelNotRegistered: the file is gone or damaged, or the catalogue download is not the
            pinned file.
    """
    expected, source = "", "user"
    notes: tuple[str, ...] = ()
    if catalogue_name:
        try:
            models = list(catalogue) if catalogue is not None else load_catalogue()
        except CatalogueError as exc:
            raise ModelNotRegistered(f"The model list cannot be read: {exc}") from None
        spec = find(models, catalogue_name)
        if spec is None:
            raise ModelNotRegistered(f"{catalogue_name} is not in the model list.")
        expected, source = spec.sha256, "catalogue"
        notes = (f"catalogue: {spec.name}", f"sha256 pinned from {spec.hash_source}")
    try:
        info = add_model(path, models_dir, source=source, expected_sha256=expected, notes=notes)
    except ModelFileError as exc:
        raise ModelNotRegistered(f"The model was not added: {exc.problem}.") from None
    return info.model_id
