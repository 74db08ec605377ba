"""The wizard's model page on its own in a QWizard, over the real ports and a real runtime.

The catalogue holds two models served by a mirror on 127.0.0.1 (their pinned
hashes are the test files'); the remote endpoint is tests/openai_server.py.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime
from mirror_support import Mirror, serving
from openai_server import Mode, OpenAIServer, fixed_words
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from wizard_media_support import gguf, in_wizard, sha256, shot

from aether_qt.engines.router.catalogue import CatalogueModel, HashSource
from aether_qt.engines.router.models import find_model
from aether_qt.engines.router.providers import load_router_settings
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.onboarding_media.finish import ModelNotRegistered, register_model
from aether_qt.services.onboarding_media.media import OnboardingMedia
from aether_qt.services.onboarding_media.remote import save_remote_provider
from aether_qt.widgets.onboarding.choices import ModelKind, OnboardingChoices
from aether_qt.widgets.onboarding.media_ports import RemoteDraft, RemoteModelChoice
from aether_qt.widgets.onboarding.model_page import ModelPage

SMALL, BIG = gguf(64, "small"), gguf(512, "big")  # 16 KiB and 1 MiB
SECRET = "sk-wizard-test-0123456789"


def entry(mirror: Mirror, name: str, data: bytes, title: str) -> CatalogueModel:
    mirror.files[f"{name}.gguf"] = data
    return CatalogueModel(
        name=name,
        title=title,
        file=f"{name}.gguf",
        url=mirror.url(f"{name}.gguf"),
        sha256=sha256(data),
        size_bytes=len(data),
        params="1M",
        arch="llama",
        licence="apache-2.0",
        chat_template="chatml",
        hash_source=HashSource("test/mirror", f"{name}.gguf", "0" * 40),
    )


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with serving() as running:
        yield running


@pytest.fixture
def media(runtime: PolicyRuntime, mirror: Mirror) -> Iterator[OnboardingMedia]:
    catalogue = [entry(mirror, "tiny", SMALL, "Tiny Test"), entry(mirror, "bigger", BIG, "Bigger Test")]
    made = OnboardingMedia(runtime=runtime, catalogue=catalogue)
    yield made
    made.close()


@pytest.fixture
def choices() -> OnboardingChoices:
    return OnboardingChoices()


@pytest.fixture
def page(media: OnboardingMedia, choices: OnboardingChoices) -> ModelPage:
    return ModelPage(choices, sources=media)


def test_keyboard_only_walk_keeps_the_bundled_model(
    qtbot: QtBot, page: ModelPage, choices: OnboardingChoices, tmp_path: Path
) -> None:
    wizard = in_wizard(qtbot, page)
    bundled = page.options[ModelKind.BUNDLED]
    assert bundled.isChecked() and "already on this computer" in page.bundled_label.text()
    shot(wizard, "wizard-model-bundled", tmp_path)
    bundled.setFocus()
    QTest.keyClick(bundled, Qt.Key.Key_Down)  # the arrows walk the options
    assert page.options[ModelKind.GGUF].isChecked()
    QTest.keyClick(page.options[ModelKind.GGUF], Qt.Key.Key_Up)
    assert bundled.isChecked()
    QTest.keyClick(wizard, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)  # &Finish
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=3000)
    assert choices.model is not None and choices.model.kind is ModelKind.BUNDLED


def test_the_packaged_catalogue_shows_size_and_fit_for_this_machine(
    qtbot: QtBot, runtime: PolicyRuntime, choices: OnboardingChoices, tmp_path: Path
) -> None:
    media = OnboardingMedia(runtime=runtime)  # the real catalogue; nothing is fetched
    try:
        page = ModelPage(choices, sources=media)
        wizard = in_wizard(qtbot, page)
        QTest.keyClick(wizard, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)  # "the &catalogue"
        qtbot.waitUntil(page.options[ModelKind.CATALOGUE].isChecked, timeout=2000)
        lines = [page.catalogue.list.item(i).text() for i in range(page.catalogue.list.count())]
        assert len(lines) >= 3 and all(" GB, " in line or " MB, " in line for line in lines), lines
        assert all(any(mark in line for mark in ("fits", "tight", "too big")) for line in lines)
        shot(wizard, "wizard-model-catalogue", tmp_path)
    finally:
        media.close()


def test_a_file_that_is_not_a_gguf_is_refused_in_plain_words(
    qtbot: QtBot, page: ModelPage, choices: OnboardingChoices, tmp_path: Path
) -> None:
    wizard = in_wizard(qtbot, page)
    QTest.keyClick(wizard, Qt.Key.Key_G, Qt.KeyboardModifier.AltModifier)  # "My own &GGUF model file"
    qtbot.waitUntil(page.options[ModelKind.GGUF].isChecked, timeout=2000)
    notes = tmp_path / "notes.gguf"
    notes.write_text("shopping list: milk, bread\n")
    QTest.keyClick(page.options[ModelKind.GGUF], Qt.Key.Key_Tab)  # Tab goes on to the file field
    assert page.gguf_path.hasFocus()
    QTest.keyClicks(page.gguf_path, str(notes))
    assert not page.validatePage()
    assert page.gguf_problem.text() == (
        "This file cannot be used: not a GGUF model file (the first bytes are not 'GGUF')."
    )
    shot(wizard, "wizard-model-gguf-refused", tmp_path)
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(SMALL[:-100])
    page.gguf_path.setText(str(truncated))
    assert not page.validatePage() and "truncated" in page.gguf_problem.text()
    good = tmp_path / "good.gguf"
    good.write_bytes(SMALL)
    page.gguf_path.setText(str(good))
    assert page.validatePage() and page.gguf_problem.text() == "This model file looks right."
    assert choices.model is not None and (choices.model.kind, choices.model.path) == (ModelKind.GGUF, good)
    models_dir = page._sources.models_dir  # type: ignore[attr-defined]
    assert not (models_dir / "models.json").exists()  # registered at Finish, not before
    assert find_model(models_dir, register_model(models_dir, good)) is not None
    with pytest.raises(ModelNotRegistered, match=r"^The model was not added: truncated"):
        register_model(models_dir, truncated)


def test_a_catalogue_model_downloads_with_progress_cancel_and_hash_check(
    qtbot: QtBot,
    page: ModelPage,
    mirror: Mirror,
    runtime: PolicyRuntime,
    choices: OnboardingChoices,
    tmp_path: Path,
) -> None:
    wizard = in_wizard(qtbot, page)
    page.options[ModelKind.CATALOGUE].setChecked(True)
    box = page.catalogue
    lines = [box.list.item(i).text() for i in range(box.list.count())]
    assert lines[0].startswith("Bigger Test — 1 MB, fits this computer") and lines[0].endswith(
        "(recommended)"
    )
    assert lines[1].startswith("Tiny Test — 0 MB, fits this computer"), lines
    assert box.list.currentRow() == 0  # the recommended model is selected
    assert "Nothing is downloaded unless you press Download: 1 MB" in box.download.status.text()
    assert not page.validatePage()  # nothing downloaded yet
    assert box.download.status.text().startswith("Download the model first")
    assert mirror.ranges == []
    mirror.step, mirror.pause = 64 * 1024, 0.05
    box.download.button.click()
    qtbot.waitUntil(lambda: box.download.progress.value() > 0, timeout=10_000)
    assert not page.isComplete() and not box.list.isEnabled()
    shot(wizard, "wizard-model-downloading", tmp_path)
    box.download.cancel_button.click()
    qtbot.waitUntil(lambda: not box.download.busy, timeout=10_000)
    gguf_dir = runtime.paths.models_dir / "gguf"
    assert box.download.last is not None and box.download.last.cancelled
    assert not (gguf_dir / "bigger.gguf").exists()
    mirror.step, mirror.pause = 0, 0.0
    box.download.button.click()
    qtbot.waitUntil(lambda: not box.download.busy, timeout=10_000)
    assert (gguf_dir / "bigger.gguf").read_bytes() == BIG, box.download.status.text()
    assert "it is the expected file" in box.download.status.text()
    shot(wizard, "wizard-model-downloaded", tmp_path)
    assert page.validatePage()
    assert choices.model is not None
    assert (choices.model.kind, choices.model.name, choices.model.path) == (
        ModelKind.CATALOGUE,
        "bigger",
        gguf_dir / "bigger.gguf",
    )
    catalogue = page._sources._catalogue  # type: ignore[attr-defined]  # the test's two models
    model_id = register_model(
        runtime.paths.models_dir, gguf_dir / "bigger.gguf", catalogue_name="bigger", catalogue=catalogue
    )
    registered = find_model(runtime.paths.models_dir, model_id)
    assert registered is not None and registered.sha256 == sha256(BIG)
    box.list.setCurrentRow(1)
    mirror.files["tiny.gguf"] = BIG  # the mirror serves something else than the pinned file
    box.download.button.click()
    qtbot.waitUntil(lambda: not box.download.busy, timeout=10_000)
    assert "was not the expected file" in box.download.status.text()
    assert not (gguf_dir / "tiny.gguf").exists()


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(fixed_words("OK")) as running:
        yield running


def fill_remote(page: ModelPage, server: OpenAIServer) -> None:
    form = page.remote
    QTest.keyClicks(form.name, "lan")
    QTest.keyClicks(form.url, server.base_url)
    QTest.keyClicks(form.model, "test-model")
    QTest.keyClicks(form.key, SECRET)


def test_remote_test_connection_ok_then_failed_and_the_key_stays_in_memory(
    qtbot: QtBot,
    page: ModelPage,
    server: OpenAIServer,
    runtime: PolicyRuntime,
    choices: OnboardingChoices,
    tmp_path: Path,
) -> None:
    wizard = in_wizard(qtbot, page)
    QTest.keyClick(wizard, Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)  # "A &remote server"
    qtbot.waitUntil(page.options[ModelKind.REMOTE].isChecked, timeout=2000)
    fill_remote(page, server)
    assert page.remote.key.echoMode() is page.remote.key.EchoMode.Password
    QTest.keyClick(wizard, Qt.Key.Key_O, Qt.KeyboardModifier.AltModifier)  # "Test c&onnection"
    qtbot.waitUntil(lambda: page.remote.status.text().startswith(("OK", "FAILED")), timeout=10_000)
    assert page.remote.status.text() == "OK: test-model answered “OK”."
    assert server.requests[-1].headers.get("authorization") == f"Bearer {SECRET}"
    shot(wizard, "wizard-model-remote-ok", tmp_path)
    server.mode = Mode.UNAUTHORIZED
    page.remote.test_button.click()
    qtbot.waitUntil(lambda: page.remote.status.text().startswith(("OK", "FAILED")), timeout=10_000)
    assert page.remote.status.text() == "FAILED: the server refused the API key. Check the key."
    shot(wizard, "wizard-model-remote-failed", tmp_path)
    page.remote.url.setText("http://127.0.0.1:9/v1")  # nothing listens there
    page.remote.test_button.click()
    qtbot.waitUntil(lambda: page.remote.test_button.isEnabled(), timeout=10_000)
    assert page.remote.status.text() == (
        "FAILED: cannot reach the server. Check the URL, and that the server is running."
    )
    page.remote.url.setText(server.base_url)
    assert page.validatePage()
    model = choices.model
    assert isinstance(model, RemoteModelChoice) and model.kind is ModelKind.REMOTE and model.name == "lan"
    assert model.remote.url == server.base_url and model.remote.key == SECRET
    assert SECRET not in repr(model) and SECRET not in repr(choices)
    assert load_router_settings(runtime.settings).providers == ()  # nothing saved before Finish
    audit = " ".join(f"{r.capability} {r.resource} {r.detail}" for r in runtime.audit.rows())  # type: ignore[union-attr]
    assert "router.remote" in audit and SECRET not in audit


def test_unusable_remote_fields_keep_the_user_on_the_page(qtbot: QtBot, page: ModelPage) -> None:
    _wizard = in_wizard(qtbot, page)  # kept: the wizard owns the page
    page.options[ModelKind.REMOTE].setChecked(True)
    assert not page.validatePage() and page.remote.status.text() == "Fill in the name, the URL and the model."
    page.remote.name.setText("Has Spaces")
    page.remote.url.setText("ftp://example.invalid")
    page.remote.model.setText("m")
    page.remote.price_in.setText("0")
    page.remote.price_out.setText("0")
    assert not page.validatePage() and page.remote.status.text().startswith("Check the fields: provider name")
    page.remote.name.setText("hosted")
    page.remote.url.setText("https://api.example.invalid/v1")
    page.remote.model.setText("a-model-nobody-prices")
    page.remote.price_in.setText("")
    assert not page.validatePage()
    assert page.remote.status.text().startswith(
        "Aether does not know this model's price: fill in both prices"
    )
    page.remote.price_in.setText("cheap")
    assert (
        not page.validatePage() and page.remote.status.text() == "Prices must be numbers, such as 0 or 0.15."
    )
    page.remote.price_in.setText("0.15")
    assert page.validatePage()


def test_finish_saves_a_keyless_remote_provider_as_the_active_one(
    runtime: PolicyRuntime, server: OpenAIServer
) -> None:
    draft = RemoteDraft("lan", server.base_url, "test-model", 0.0, 0.0)
    assert save_remote_provider(runtime, draft) == ""
    settings = load_router_settings(runtime.settings)
    assert settings.active == "lan" and settings.find("lan") is not None


def test_finish_keeps_nothing_when_the_key_has_no_keyring(
    runtime: PolicyRuntime, server: OpenAIServer
) -> None:
    draft = RemoteDraft("hosted", server.base_url, "test-model", 0.0, 0.0, key=SECRET)
    problem = save_remote_provider(runtime, draft)
    assert "keyring" in problem and SECRET not in problem
    assert load_router_settings(runtime.settings).providers == ()
