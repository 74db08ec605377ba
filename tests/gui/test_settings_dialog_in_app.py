"""The Settings dialog in the running app: built by ``app.build_settings_dialog``, the window follows.

The real app (``run_app``) starts on a fresh home; once it is ready the test
opens the dialog the way the Settings… action does, switches the persona and
the preset from it, and checks that the running window followed through the
bus (the persona picker, the trust centre's Permissions tab), as it does for
the same changes made in the window itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RUN_APP = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from aether_qt.app import AppOptions, run_app
    from aether_qt.widgets.onboarding.wizard import OnboardingWizard
    from aether_qt.widgets.settings.dialog import SettingsDialog

    def ready(parts):
        parts.window.menus.settings_action.trigger()  # Aether > Settings… as the user opens it
        dialog = parts.window.findChild(SettingsDialog)
        general = dialog.show_page("General")
        general.persona.setCurrentIndex(general.persona.findData("sage"))
        general.persona.activated.emit(general.persona.currentIndex())
        permissions = dialog.show_page("Permissions")
        permissions.preset.setCurrentIndex(permissions.preset.findData("Operator"))
        permissions.apply_preset.click()
        print("MESSAGES", general.persona_message.text(), "|", permissions.preset_message.text())

        def check():
            window = parts.window
            print("PICKER", window.persona_picker.active_id)
            print("TAB", window.trust_centre.permissions.preset_box.currentData())
            print("PARENT", dialog.parent() is window)
            dialog.close()

            def leave_setup():
                wizard = QApplication.activeModalWidget()
                titles = []
                if isinstance(wizard, OnboardingWizard):
                    titles = [wizard.page(i).title() for i in wizard.pageIds()]
                    wizard.reject()
                print("SETUP", "|".join(titles))
                QTimer.singleShot(0, parts.app.quit)

            QTimer.singleShot(300, leave_setup)
            parts.window.menus.onboarding_action.trigger()  # Aether > Run setup again… (modal)

        QTimer.singleShot(1500, check)

    sys.exit(run_app(AppOptions(home=sys.argv[1], allow_key_file=True), on_ready=ready))
    """
)


@pytest.mark.slow
def test_the_running_window_follows_changes_made_in_the_settings_dialog(home: Path, x11: str) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "AETHER_NO_EMBEDDER": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_APP, str(home)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["MESSAGES"].startswith("Persona chosen") and "Operator is in force" in lines["MESSAGES"]
    assert lines["PICKER"] == "sage"
    assert lines["TAB"] == "Operator"
    assert lines["PARENT"] == "True"
    setup = lines["SETUP"].split("|")  # the wizard over the running app, with its voice and model pages
    assert len(setup) >= 8, setup
    assert any("voice" in title.lower() for title in setup), setup
    assert any("model" in title.lower() for title in setup), setup
