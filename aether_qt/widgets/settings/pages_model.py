"""The Model and Providers pages: the local model that answers, and remote providers with their keys."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from aether_qt.core.errors import ExplainedError
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.widgets.settings.page import SettingsPage, fill_combo
from aether_qt.widgets.settings.ports import ModelPort, ProvidersPort

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
TEST_STOP_MS = 35_000  # a test request that hangs is cut by the remote tier's own timeouts first


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return holder


class ModelPage(SettingsPage):
    """Which local model answers; register a GGUF file."""

    title = "Model"

    def __init__(self, *, port: ModelPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._port = port
        self.model = QComboBox()
        self.model.setAccessibleName("Local model")
        self.use_button = QPushButton("&Use this model")
        self.model_message = self.add_field("&Local model:", _row(self.model, self.use_button), "model")
        self.path = QLineEdit()
        self.path.setPlaceholderText("/path/to/model.gguf")
        self.path.setAccessibleName("GGUF file to add")
        self.browse = QPushButton("&Browse…")
        self.add_button = QPushButton("&Add")
        self.add_message_label = self.add_field(
            "Add a &GGUF file:", _row(self.path, self.browse, self.add_button), "gguf"
        )
        self.use_button.clicked.connect(self._on_use_clicked)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.path.returnPressed.connect(self._on_add_clicked)
        self.browse.clicked.connect(self._on_browse_clicked)
        self.refresh()

    def refresh(self) -> None:
        """Show the registered models and the active one."""
        view = self._port.view()
        fill_combo(self.model, view.models, view.active)

    def _on_use_clicked(self) -> None:
        model_id = str(self.model.currentData() or "")
        self.attempt(lambda: self._port.use(model_id), self.model_message)

    def _on_add_clicked(self) -> None:
        path = self.path.text()
        if self.attempt(lambda: self._port.add(path), self.add_message_label):
            self.path.clear()

    def _on_browse_clicked(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", "", "GGUF models (*.gguf)")
        if chosen:
            self.path.setText(chosen)


class ProvidersPage(SettingsPage):
    """Remote providers: list, add (the key is masked and goes to the keyring), test, use, remove."""

    title = "Providers"

    def __init__(self, *, port: ProvidersPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._port = port
        self.posture = QComboBox()
        self.posture.setAccessibleName("Privacy")
        self.posture_message = self.add_field("P&rivacy:", self.posture, "posture")
        self.providers = QListWidget()
        self.providers.setAccessibleName("Providers")
        self.providers.setMaximumHeight(110)
        self.list_message = self.add_field("Pro&viders:", self.providers, "providers")
        self.use_button = QPushButton("&Use")
        self.test_button = QPushButton("&Test")
        self.remove_button = QPushButton("Re&move")
        self.local_button = QPushButton("Answer &locally only")
        self.form.addRow("", _row(self.use_button, self.test_button, self.remove_button, self.local_button))
        self.name = QLineEdit()
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://example.org/v1")
        self.model = QLineEdit()
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)  # never shown, never logged
        self.key.setPlaceholderText("kept in the keyring only; leave empty if none")
        for label, edit, name in (
            ("&Name:", self.name, "provider_name"),
            ("&Address:", self.url, "provider_url"),
            ("Mo&del:", self.model, "provider_model"),
            ("API &key:", self.key, "provider_key"),
        ):
            edit.setObjectName(name)
            edit.setAccessibleName(label.replace("&", "").rstrip(":"))
            self.form.addRow(label, edit)
            edit.returnPressed.connect(self._on_add_clicked)
        self.add_button = QPushButton("Add &provider")
        self.form.addRow("", self.add_button)
        self.add_message_label = self.add_message("provider_add_message")
        self.posture.activated.connect(self._on_posture_activated)
        self.use_button.clicked.connect(lambda: self._on_selected(self._port.use))
        self.test_button.clicked.connect(self._on_test_clicked)
        self._worker = WorkerThread("aether-provider-test", stop_timeout_ms=TEST_STOP_MS, parent=self)
        self.remove_button.clicked.connect(lambda: self._on_selected(self._port.remove))
        self.local_button.clicked.connect(lambda: self.attempt(lambda: self._port.use(""), self.list_message))
        self.add_button.clicked.connect(self._on_add_clicked)
        self.refresh()

    def refresh(self) -> None:
        """Show the posture and the providers (whether a key is stored; never the key)."""
        view = self._port.view()
        fill_combo(self.posture, view.postures, view.posture)
        selected = self.selected()
        self.providers.clear()
        for row in view.providers:
            marks = ["in use"] if row.active else []
            marks.append("key in the keyring" if row.has_key else "no key")
            item = QListWidgetItem(f"{row.name}: {row.model} at {row.url} ({', '.join(marks)})")
            item.setData(NAME_ROLE, row.name)
            self.providers.addItem(item)
            if row.name == selected:
                self.providers.setCurrentItem(item)
        has = self.providers.count() > 0
        for button in (self.use_button, self.test_button, self.remove_button):
            button.setEnabled(has)

    def selected(self) -> str:
        """The name of the selected provider ("" when none)."""
        item = self.providers.currentItem()
        return str(item.data(NAME_ROLE)) if item is not None else ""

    def _on_selected(self, act: object) -> None:
        name = self.selected()
        if not name:
            self.show_error(self.list_message, "Select a provider in the list first.")
            return
        self.attempt(lambda: act(name), self.list_message)  # type: ignore[operator]

    @property
    def testing(self) -> bool:
        """A test request is on its way (the Test button is off meanwhile)."""
        return not self.test_button.isEnabled() and self.list_message.text().startswith("Testing")

    def shutdown(self) -> None:
        """Stop the test thread (waits for a request on its way)."""
        self._worker.stop()

    def _on_test_clicked(self) -> None:
        """Send the test request in a worker thread: the window stays responsive while it travels."""
        name = self.selected()
        if not name:
            self.show_error(self.list_message, "Select a provider in the list first.")
            return
        if not self._worker.running:
            self._worker.start()
        self.test_button.setEnabled(False)
        self.list_message.setStyleSheet("")
        self.list_message.setText(f"Testing {name}…")
        port = self._port
        self._worker.call(lambda: port.test(name), self._on_test_done, self._on_test_failed)

    def _on_test_done(self, sentence: object) -> None:
        self.attempt(lambda: str(sentence), self.list_message)  # shows it and refreshes the list

    def _on_test_failed(self, exc: Exception) -> None:
        self.refresh()
        if not isinstance(exc, ExplainedError):
            raise exc  # a bug: the crash handler gets it
        self.show_error(self.list_message, str(exc))

    def _on_posture_activated(self, index: int) -> None:
        value = str(self.posture.itemData(index))
        self.attempt(lambda: self._port.set_posture(value), self.posture_message)

    def _on_add_clicked(self) -> None:
        name, url, model, key = self.name.text(), self.url.text(), self.model.text(), self.key.text()
        added = self.attempt(lambda: self._port.add(name, url, model, key), self.add_message_label)
        if added:  # the key is in the keyring now: it leaves the widget
            for edit in (self.name, self.url, self.model, self.key):
                edit.clear()
