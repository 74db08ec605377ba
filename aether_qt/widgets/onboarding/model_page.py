"""The wizard's model page: which language model answers.

Four options, one shown at a time under its radio button:

- the bundled small model (already on this computer, selected by default);
- the user's own GGUF file, picked with a file dialog (or typed) and checked
  with the same header and size checks ``aether models add`` uses; what is
  wrong is said in plain words and keeps the user on the page;
- a catalogue model with its size and how it fits this machine, downloaded
  (consented, with progress, hash checked, cancellable) on the page;
- a remote OpenAI-compatible endpoint with a connection test; its key stays in
  memory until Finish, when it goes to the keyring only.

:meth:`ModelPage.record` writes a :class:`ModelChoice` (a
:class:`~aether_qt.widgets.onboarding.media_ports.RemoteModelChoice` for the
remote option). Registering the file, choosing it and saving the provider
happen at Finish.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from aether_qt.widgets.onboarding.choices import ModelChoice, ModelKind, OnboardingChoices, OnboardingPage
from aether_qt.widgets.onboarding.media_ports import ModelSources, remote_choice
from aether_qt.widgets.onboarding.model_options import CatalogueBox, RemoteForm


class ModelPage(OnboardingPage):
    """Bundled, own GGUF, catalogue or remote (see the module docstring).

    Args:
        choices: the wizard's shared choices.
        sources: the model sources (checks, catalogue, downloads, connection test).
        remote: offer the remote option (the remote tier exists).
        parent: the Qt parent.
    """

    def __init__(
        self,
        choices: OnboardingChoices,
        *,
        sources: ModelSources,
        remote: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("model_page")
        self.setTitle("The model that answers")
        self.setSubTitle("Aether answers with a language model. Start small; you can add others later.")
        self._sources = sources
        bundled = sources.bundled_model()
        if bundled:
            bundled = f"{bundled} Nothing to download: Aether can answer at once."
        self.options = {
            ModelKind.BUNDLED: QRadioButton("&Bundled small model (recommended to start)", self),
            ModelKind.GGUF: QRadioButton("My own &GGUF model file", self),
            ModelKind.CATALOGUE: QRadioButton("Download a model from the &catalogue", self),
            ModelKind.REMOTE: QRadioButton("A &remote server (OpenAI-compatible)", self),
        }
        group = QButtonGroup(self)
        self.stack = QStackedWidget(self)
        self.bundled_label = QLabel(bundled or "The bundled model is not installed on this computer.", self)
        self.bundled_label.setWordWrap(True)
        self.bundled_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.catalogue = CatalogueBox(sources=sources, parent=self)
        self.catalogue.sig_changed.connect(self.completeChanged)
        self.remote = RemoteForm(sources=sources, parent=self)
        pages = {
            ModelKind.BUNDLED: self.bundled_label,
            ModelKind.GGUF: self._gguf_box(),
            ModelKind.CATALOGUE: self.catalogue,
            ModelKind.REMOTE: self.remote,
        }
        layout = QVBoxLayout(self)
        for kind, button in self.options.items():
            button.setObjectName(f"model_{kind.value}")
            group.addButton(button)
            self.stack.addWidget(pages[kind])
            button.toggled.connect(self._on_option_toggled)
            layout.addWidget(button)
        self.options[ModelKind.REMOTE].setVisible(remote)
        layout.addWidget(self.stack, 1)
        start = ModelKind.BUNDLED if bundled else ModelKind.CATALOGUE
        self.options[ModelKind.BUNDLED].setEnabled(bool(bundled))
        self.options[start].setChecked(True)

    def _gguf_box(self) -> QWidget:
        box = QWidget(self)
        self.gguf_path = QLineEdit(box)
        self.gguf_path.setObjectName("model_gguf_path")
        self.gguf_path.setPlaceholderText("/path/to/model.gguf")
        self.gguf_path.textChanged.connect(self._on_gguf_path_text_changed)
        browse = QPushButton("B&rowse…", box)
        browse.setObjectName("model_gguf_browse")
        browse.clicked.connect(self._on_browse_clicked)
        self.gguf_problem = QLabel("", box)
        self.gguf_problem.setObjectName("model_gguf_problem")
        self.gguf_problem.setWordWrap(True)
        label = QLabel("GGUF &file:", box)
        label.setBuddy(self.gguf_path)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.gguf_path, 1)
        row.addWidget(browse)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.gguf_problem)
        layout.addStretch(1)
        return box

    @property
    def kind(self) -> ModelKind:
        """The option picked."""
        return next(kind for kind, button in self.options.items() if button.isChecked())

    def _on_option_toggled(self, on: bool) -> None:
        if on:
            self.stack.setCurrentIndex(list(self.options).index(self.kind))
            self.completeChanged.emit()

    def _on_browse_clicked(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose a GGUF model file", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.gguf_path.setText(path)
            self.check_gguf()

    def _on_gguf_path_text_changed(self, _text: str) -> None:
        self.gguf_problem.setText("")

    def check_gguf(self) -> bool:
        """Check the typed or picked file; say what is wrong under it."""
        text = self.gguf_path.text().strip()
        problem = self._sources.check_gguf(Path(text).expanduser()) if text else "Choose a GGUF model file."
        self.gguf_problem.setText(problem or "This model file looks right.")
        return not problem

    def isComplete(self) -> bool:
        """Not while a download runs."""
        return not self.catalogue.download.busy

    def validatePage(self) -> bool:
        """Stay on the page while the pick cannot be used, and say why; else record it."""
        kind = self.kind
        if kind is ModelKind.GGUF and not self.check_gguf():
            self.gguf_path.setFocus()
            return False
        if kind is ModelKind.CATALOGUE:
            offer = self.catalogue.selected
            if offer is None or offer.name not in self.catalogue.downloaded:
                self.catalogue.download.remind("Download the model first, or choose another option.")
                return False
        if kind is ModelKind.REMOTE:
            problem = self.remote.problem()
            if problem:
                self.remote.status.setText(problem)
                return False
        return super().validatePage()

    def record(self) -> None:
        """The picked model as a :class:`ModelChoice` (applied at Finish)."""
        kind = self.kind
        if kind is ModelKind.GGUF:
            self.choices.model = ModelChoice(kind, path=Path(self.gguf_path.text().strip()).expanduser())
        elif kind is ModelKind.CATALOGUE and self.catalogue.selected is not None:
            name = self.catalogue.selected.name
            self.choices.model = ModelChoice(kind, path=self.catalogue.downloaded.get(name), name=name)
        elif kind is ModelKind.REMOTE:
            self.choices.model = remote_choice(self.remote.draft())
        else:
            self.choices.model = ModelChoice(ModelKind.BUNDLED)
