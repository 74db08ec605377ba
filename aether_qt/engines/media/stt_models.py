"""Speech models the user can fetch (``aether models fetch``), pinned by SHA-256, and their unpacking.

The download itself is a gated side effect (``model.download``, performed by
:meth:`Effectors.download`: resumable, verified before it is renamed into
place); this module only knows the catalog and vets a verified archive, which
:func:`~aether_qt.policy.effects.extract_own_archive` unpacks into the app's own
models folder, refusing anything that could escape it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aether_qt.engines.media.stt import looks_like_model
from aether_qt.policy.effect_types import OutsideRootsError
from aether_qt.policy.effects import extract_own_archive

SETTING_STT_MODEL = "voice.stt_model"  # the speech model folder voice input uses
MAX_UNPACKED = 4 << 30  # 4 GiB: more than any small vosk model, less than a zip bomb


@dataclass(frozen=True, slots=True)
class SttModelSpec:
    """A downloadable vosk model.

    Attributes:
        name: the short name users type (``vosk-en-small``).
        url: where the zip lives.
        sha256: the archive's pinned hash (the download is refused if it differs).
        folder: the model folder inside the archive.
        size_mb: roughly how big the download is, for the prompt.
        language: the language it recognises.
    """

    name: str
    url: str
    sha256: str
    folder: str
    size_mb: int
    language: str


# The hash is the one the numen voice-control project pins in its install script
# for this exact archive; it could not be re-checked here (no access to the host).
CATALOG: dict[str, SttModelSpec] = {
    "vosk-en-small": SttModelSpec(
        name="vosk-en-small",
        url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
        folder="vosk-model-small-en-us-0.15",
        size_mb=40,
        language="English (US)",
    ),
}


class UnpackError(Exception):
    """The archive is not a usable model (bad zip, unsafe paths, too big, no model inside)."""


def unpack(archive: Path, dest_root: Path, folder: str) -> Path:
    """Unpack ``folder`` from a verified zip into ``dest_root`` and return the model folder.

    Members outside ``folder``, absolute paths, ``..`` and links are refused; the
    result must look like a vosk model.

    Raises:
        UnpackError: see the class.
    """
    target = dest_root / folder
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            total = 0
            for info in members:
                path = PurePosixPath(info.filename)
                if path.is_absolute() or ".." in path.parts or (path.parts and path.parts[0] != folder):
                    raise UnpackError(f"unsafe path in the archive: {info.filename!r}")
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise UnpackError(f"a link in the archive: {info.filename!r}")
                total += info.file_size
            if total > MAX_UNPACKED:
                raise UnpackError(f"the archive unpacks to {total:,} bytes, more than {MAX_UNPACKED:,}")
            extract_own_archive(zf, members, dest_root, root=dest_root)
    except (zipfile.BadZipFile, OSError, OutsideRootsError) as exc:
        raise UnpackError(f"{archive.name}: {exc}") from None
    if not looks_like_model(target):
        raise UnpackError(f"{archive.name} holds no vosk model in {folder}/")
    return target
