"""The model page's two larger options: a catalogue model to download, a remote endpoint to test.

:class:`CatalogueBox` lists the catalogue with each model's size and how it
fits this machine (the recommended one first and selected), and downloads the
selected one through a :class:`~aether_qt.widgets.onboarding.download_bar.DownloadBar`.
:class:`RemoteForm` takes a name, URL, model, key (masked) and prices, checks
them with the provider rules, and tests the connection through the port. The
key stays in this widget's memory until Finish; it is never logged.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from aether_qt.engines.router.providers import ProviderConfigError, make_config, resolve_price
from aether_qt.widgets.onboarding.download_bar import DownloadBar, size_words
from aether_qt.widgets.onboarding.media_ports import CatalogueOffer, ModelSources, RemoteDraft

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
_MEMORY = {
    "fits": "fits this computer",
    "tight": "tight: close other programs",
    "too big": "too big for this computer",
}


def offer_line(offer: CatalogueOffer) -> str:
    """``Phi-3 Mini — 2.4 GB, fits this computer, usable speed (recommended)``."""
    marks = [size_words(offer.size_bytes), _MEMORY.get(offer.memory, offer.memory), f"{offer.speed} speed"]
    if offer.downloaded is not None:
        marks.append("downloaded")
    line = f"{offer.title} — {', '.join(marks)}"
    return f"{line} (recommended)" if offer.recommended else line


class CatalogueBox(QWidget):
    """The catalogue list and the download of the selected model.

    Signals:
        sig_changed(): the selection or the download state changed (the page re-checks Next).
    """

    sig_changed = Signal()

    def __init__(self, *, sources: ModelSources, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sources = sources
        self.offers = sources.catalogue()
        self.downloaded: dict[str, Path] = {o.name: o.downloaded for o in self.offers if o.downloaded}
        self.list = QListWidget(self)
        self.list.setObjectName("model_catalogue_list")
        self.list.setAccessibleName("Catalogue models")
        for offer in sorted(self.offers, key=lambda o: not o.recommended):
            item = QListWidgetItem(offer_line(offer), self.list)
            item.setData(NAME_ROLE, offer.name)
            item.setToolTip(f"Licence: {offer.licence}")
        self.download = DownloadBar(name="model_download", parent=self)
        self.download.sig_busy_changed.connect(self._on_download_busy_changed)
        self.download.sig_downloaded.connect(self._on_download_downloaded)
        label = QLabel("&Models you can download (sizes and fit measured on this computer):", self)
        label.setBuddy(self.list)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.download)
        self.list.currentItemChanged.connect(self._on_list_current_item_changed)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.download.offer("", "The model list could not be read.", None)

    @property
    def selected(self) -> CatalogueOffer | None:
        """The highlighted model."""
        item = self.list.currentItem()
        name = item.data(NAME_ROLE) if item is not None else None
        return next((o for o in self.offers if o.name == name), None)

    def _on_list_current_item_changed(self, *_items: object) -> None:
        offer = self.selected
        if offer is None or self.download.busy:
            return
        if offer.name in self.downloaded:
            self.download.offer("", f"{offer.title} is downloaded: it is used after Finish.", None)
        else:
            size = size_words(offer.size_bytes)
            self.download.offer(
                f"&Download ({size})",
                f"Nothing is downloaded unless you press Download: {size}, checked against its "
                f"published fingerprint. Licence: {offer.licence}.",
                lambda progress, finished: self._sources.fetch_catalogue_model(
                    offer.name, progress, finished
                ),
            )
        self.sig_changed.emit()

    def _on_download_busy_changed(self, busy: bool) -> None:
        self.list.setEnabled(not busy)
        self.sig_changed.emit()

    def _on_download_downloaded(self, path: Path) -> None:
        offer = self.selected
        if offer is not None:
            self.downloaded[offer.name] = path
        self.sig_changed.emit()


def _price(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


class RemoteForm(QWidget):
    """Name, URL, model, key and prices of a remote endpoint, and its connection test."""

    def __init__(self, *, sources: ModelSources, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sources = sources
        self.name = QLineEdit(self)
        self.name.setObjectName("remote_name")
        self.name.setPlaceholderText("for example: openai")
        self.url = QLineEdit(self)
        self.url.setObjectName("remote_url")
        self.url.setPlaceholderText("for example: http://127.0.0.1:8080/v1")
        self.model = QLineEdit(self)
        self.model.setObjectName("remote_model")
        self.key = QLineEdit(self)
        self.key.setObjectName("remote_key")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("kept in your keyring after Finish; empty if the server needs none")
        self.price_in = QLineEdit(self)
        self.price_in.setObjectName("remote_price_in")
        self.price_out = QLineEdit(self)
        self.price_out.setObjectName("remote_price_out")
        for price in (self.price_in, self.price_out):
            price.setPlaceholderText("the model's known price, or 0 on your own server")
        self.test_button = QPushButton("Test c&onnection", self)
        self.test_button.setObjectName("remote_test")
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.status = QLabel("", self)
        self.status.setObjectName("remote_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for text, field in (
            ("&Name:", self.name),
            ("&URL:", self.url),
            ("Mod&el:", self.model),
            ("API &key:", self.key),
            ("Price &in (USD per million tokens):", self.price_in),
            ("Price o&ut (USD per million tokens):", self.price_out),
        ):
            label = QLabel(text, self)
            label.setBuddy(field)
            form.addRow(label, field)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.status, 1)
        form.addRow(row)
        self.testing = False

    def draft(self) -> RemoteDraft:
        """What is typed (prices that are not numbers raise ``ValueError``)."""
        return RemoteDraft(
            name=self.name.text().strip(),
            url=self.url.text().strip(),
            model=self.model.text().strip(),
            price_in=_price(self.price_in.text()),
            price_out=_price(self.price_out.text()),
            key=self.key.text().strip(),
        )

    def problem(self) -> str:
        """Why the fields cannot be saved, in plain words ("" when they can)."""
        try:
            draft = self.draft()
        except ValueError:
            return "Prices must be numbers, such as 0 or 0.15."
        if not (draft.name and draft.url and draft.model):
            return "Fill in the name, the URL and the model."
        try:
            price_in, price_out = resolve_price(draft.url, draft.model, draft.price_in, draft.price_out)
            make_config(draft.name, draft.url, draft.model, price_in, price_out, keyed=bool(draft.key))
        except ProviderConfigError as exc:
            if "--price-in" in str(exc):  # the command line's words: say it for this form
                return (
                    "Aether does not know this model's price: fill in both prices (US dollars per "
                    "million tokens, 0 for a free server), so your spending limits can work."
                )
            return f"Check the fields: {exc}."
        return ""

    def _on_test_button_clicked(self) -> None:
        problem = self.problem()
        if problem:
            self.status.setText(problem)
            return
        self.testing = True
        self.test_button.setEnabled(False)
        self.status.setText("Testing…")
        self._sources.test_remote(self.draft(), self._on_test_finished)

    def _on_test_finished(self, ok: bool, words: str) -> None:
        self.testing = False
        self.test_button.setEnabled(True)
        self.status.setText(words)
        self.status.setProperty("ok", ok)
