"""The trust centre's Costs tab and the remote banners in the real main window, over a real ledger.

Everything below the window is real: the policy runtime of a home on disk, the
encrypted ``aether.db`` with its cost ledger, the gate that decides the user's
re-arm and caps (audited), the remote tier built from a saved provider exactly
as the app builds it (:func:`~aether_qt.companion.build_remote_tier`) and its
circuit breaker (on a clock the test moves). Spending is made with the ledger
the remote tier uses (reserve, then settle), and a ``turn.did_end`` on the real
bus refreshes the window as a finished turn does. With
``AETHER_WRITE_SCREENSHOTS=1`` the screenshots go to ``docs/screenshots``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_db_support import connect_app_db
from cost_support import MAX_OUT, PRICE, PROMPT
from keyring_support import key_file_runtime, no_keyring
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from aether_qt.companion import build_remote_tier, gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import TurnEnded
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.engines.router.cost_ledger import CostLedger
from aether_qt.engines.router.costs import CapReached
from aether_qt.engines.router.providers import Posture, make_config, save_provider, set_active, set_posture
from aether_qt.engines.router.router import Router
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.costs import CostsService
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.trust.banners import OPEN_COSTS
from aether_qt.widgets.trust.costs_tab import CostsTab
from aether_qt.widgets.trust.remote_banners import REMOTE_ACTIVE, REMOTE_UNAVAILABLE

REPO = Path(__file__).resolve().parents[2]


class Monotonic:
    """The breaker's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        save_provider(rt.settings, make_config("hosted", "http://127.0.0.1:9/v1", "gpt-4o-mini", 2.5, 10.0))
        set_active(rt.settings, "hosted")
        set_posture(rt.settings, Posture.REMOTE_NON_SENSITIVE)  # as `aether providers add` leaves it
        yield rt


@pytest.fixture
def clock() -> Monotonic:
    return Monotonic()


@pytest.fixture
def router(runtime: PolicyRuntime, clock: Monotonic) -> Router:
    made = Router(models_dir=runtime.paths.models_dir, clock=clock)
    made.remote = build_remote_tier(runtime, clock=clock)
    assert made.remote is not None
    return made


def make_window(
    qtbot: QtBot, runtime: PolicyRuntime, bridge: QtBusBridge, tmp_path: Path, router: Router | None
) -> MainWindow:
    window = MainWindow(
        runtime=runtime,
        controls=gate_on_bus(runtime, EventBus()),
        settings=QSettings(str(tmp_path / "aether-qt.ini"), QSettings.Format.IniFormat),
        bus_bridge=bridge,
        costs=CostsService(runtime=runtime, router=router),
    )
    qtbot.addWidget(window)
    window.resize(1280, 760)
    window.show()
    qtbot.waitExposed(window)
    return window


def remote_flags(window: MainWindow) -> list[str]:
    """The remote banners shown (the key file of these homes also shows "keys on disk")."""
    return [flag for flag in window.banners.flags() if flag.startswith("remote")]


def shown(window: MainWindow, flag: str) -> bool:
    banner = window.banners.banner(flag)
    return banner is not None and banner.isVisible()


def costs_tab(window: MainWindow) -> CostsTab:
    centre = window.trust_centre
    window.show_tab(centre.indexOf(centre.costs))
    return centre.costs


def turn_ended(bus: EventBus) -> None:
    bus.publish(
        TurnEnded(turn_id="t1", outcome="completed", final_state="idle", reply="hi"),
        source_layer="services",
        turn_id="t1",
    )


def allowed(runtime: PolicyRuntime, resource: str) -> list[tuple[str, str, str]]:
    """The audited Allows on ``resource`` (the click answers the gate's Ask: ask, allow, permit spent)."""
    assert runtime.audit is not None
    rows = [(r.capability, r.decision, r.actor) for r in runtime.audit.rows() if r.resource == resource]
    return [row for row in rows if row[1] == "allow"]


def save_shot(qtbot: QtBot, widget: QWidget, name: str, tmp_path: Path) -> Path:
    qtbot.wait(150)  # layout and repaint (a tab just shown sizes its table's columns)
    target = REPO / "docs" / "screenshots" if os.environ.get("AETHER_WRITE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    image = widget.grab().toImage()
    assert image.save(str(target / name))
    step = 7
    colours = {
        QColor(image.pixel(x, y)).name()
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    }
    assert len(colours) > 8, "the screenshot should show drawn widgets, not a blank area"
    return target / name


def test_a_settled_call_shows_in_the_ledger_and_the_remote_banner_after_the_turn(
    qtbot: QtBot, runtime: PolicyRuntime, router: Router, bus: EventBus, bridge: QtBusBridge, tmp_path: Path
) -> None:
    window = make_window(qtbot, runtime, bridge, tmp_path, router)
    tab = costs_tab(window)
    assert tab.view is not None and tab.view.rows == () and tab.table.rowCount() == 0
    banner = window.banners.banner(REMOTE_ACTIVE)
    assert banner is not None and banner.isVisible()
    assert banner.message.text() == "Remote: hosted (gpt-4o-mini) · today $0.00 of $1.00"

    ledger = CostLedger(database=runtime.database)  # the ledger the remote tier spends through
    held = ledger.reserve("hosted", "gpt-4o-mini", PROMPT, MAX_OUT, PRICE)
    ledger.settle(held, 60_000, 20_000, usage_reported=True)  # $0.15 in + $0.20 out (above the hold)
    turn_ended(bus)
    qtbot.waitUntil(lambda: tab.table.rowCount() == 1, timeout=5000)

    cells = [tab.table.item(0, c).text() for c in range(tab.table.columnCount())]
    assert cells[1:] == ["hosted", "gpt-4o-mini", "60,000", "20,000", "$0.3500", "settled"]
    assert tab.today_bar.text() == "$0.3500 of $1.00" and tab.today_bar.value() == 350
    banner = window.banners.banner(REMOTE_ACTIVE)
    assert banner is not None and banner.message.text().endswith("today $0.3500 of $1.00")
    assert not tab.tripped.isVisible() and not tab.error.isVisible()

    assert banner.action is not None and banner.action.text() == "Costs…"
    window.show_tab(0)
    qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)
    assert banner.action.property("action") == OPEN_COSTS
    assert window.trust_centre.currentWidget() is tab and window.trust_centre.isVisible()
    save_shot(qtbot, window, "costs-tab.png", tmp_path)
    window.shutdown()


def test_re_arm_from_the_button_is_audited_and_clears_the_tripped_cap(
    qtbot: QtBot, runtime: PolicyRuntime, router: Router, bus: EventBus, bridge: QtBusBridge, tmp_path: Path
) -> None:
    ledger = CostLedger(database=runtime.database)
    with pytest.raises(CapReached):
        ledger.reserve("hosted", "gpt-4o-mini", PROMPT, 200_000, PRICE)  # $2 > the $1 daily cap: trips
    window = make_window(qtbot, runtime, bridge, tmp_path, router)
    tab = costs_tab(window)
    assert tab.tripped.isVisible() and "daily cost cap" in tab.tripped_label.text()
    centre = window.trust_centre
    assert centre.tabText(centre.indexOf(tab)) == "Costs (cap reached)"
    banner = window.banners.banner(REMOTE_ACTIVE)
    assert banner is not None and "cost cap reached: answering locally" in banner.message.text()
    assert allowed(runtime, "costs:rearm") == []
    save_shot(qtbot, window, "costs-tab-tripped.png", tmp_path)

    qtbot.mouseClick(tab.rearm_button, Qt.MouseButton.LeftButton)

    assert allowed(runtime, "costs:rearm") == [("cost.admin", "allow", "user")]
    assert ledger.state().tripped is None and not tab.tripped.isVisible()
    assert centre.tabText(centre.indexOf(tab)) == "Costs"
    banner = window.banners.banner(REMOTE_ACTIVE)
    assert banner is not None and "cap reached" not in banner.message.text()
    assert tab.status.text().startswith("Re-armed") and "audited as" in tab.status.text()
    raw = connect_app_db(runtime.paths)
    try:
        kinds = [k for (k,) in raw.execute("SELECT kind FROM cost_events ORDER BY seq").fetchall()]
    finally:
        raw.close()
    assert kinds == ["trip", "rearm"]
    assert ledger.reserve("hosted", "gpt-4o-mini", PROMPT, MAX_OUT, PRICE).amount_micros > 0
    assert runtime.verify().intact
    window.shutdown()


def test_caps_applied_from_the_spin_boxes_are_audited_and_typing_survives_a_refresh(
    qtbot: QtBot, runtime: PolicyRuntime, router: Router, bus: EventBus, bridge: QtBusBridge, tmp_path: Path
) -> None:
    window = make_window(qtbot, runtime, bridge, tmp_path, router)
    tab = costs_tab(window)
    before = CostLedger(database=runtime.database).state()
    assert (tab.daily_cap.value(), tab.monthly_cap.value()) == (
        before.daily_cap_micros / 1e6,
        before.monthly_cap_micros / 1e6,
    )
    tab.daily_cap.setValue(2.5)
    tab.monthly_cap.setValue(40.0)
    tab.refresh()  # a refresh before Apply keeps what the user typed
    assert (tab.daily_cap.value(), tab.monthly_cap.value()) == (2.5, 40.0)

    qtbot.mouseClick(tab.apply_button, Qt.MouseButton.LeftButton)

    state = CostLedger(database=runtime.database).state()
    assert (state.daily_cap_micros, state.monthly_cap_micros) == (2_500_000, 40_000_000)
    assert allowed(runtime, "costs:caps") == [("cost.admin", "allow", "user")]
    assert tab.status.text().startswith("Caps set: $2.50 a day, $40.00 a month (audited as ")
    assert tab.today_bar.text() == "$0.00 of $2.50"
    banner = window.banners.banner(REMOTE_ACTIVE)
    assert banner is not None and banner.message.text().endswith("of $2.50")
    window.shutdown()


def test_the_unavailable_banner_counts_down_while_the_breaker_is_open_and_goes(
    qtbot: QtBot,
    runtime: PolicyRuntime,
    router: Router,
    clock: Monotonic,
    bus: EventBus,
    bridge: QtBusBridge,
    tmp_path: Path,
) -> None:
    window = make_window(qtbot, runtime, bridge, tmp_path, router)
    assert remote_flags(window) == [REMOTE_ACTIVE] and not window.remote_banners.countdown.isActive()
    assert router.remote is not None
    for _ in range(3):  # three server failures in a minute open the breaker (what try_answer records)
        router.remote.breaker.record_failure()
    turn_ended(bus)
    qtbot.waitUntil(lambda: shown(window, REMOTE_UNAVAILABLE), timeout=5000)  # a child is shown queued
    banner = window.banners.banner(REMOTE_UNAVAILABLE)
    assert banner is not None and banner.action is None
    assert banner.message.text() == "hosted (gpt-4o-mini): answering locally (trying again in 30 s)."
    assert REMOTE_ACTIVE not in window.banners.flags() and window.remote_banners.countdown.isActive()
    save_shot(qtbot, window, "remote-unavailable-banner.png", tmp_path)

    clock.now += 12
    qtbot.waitUntil(lambda: "again in 18 s" in banner.message.text(), timeout=5000)  # the 1 s timer
    assert window.banners.banner(REMOTE_UNAVAILABLE) is banner  # updated in place, not rebuilt

    clock.now += 18  # the cool-down is over: half-open, the next turn may try the server
    qtbot.waitUntil(lambda: REMOTE_UNAVAILABLE not in window.banners.flags(), timeout=5000)
    assert remote_flags(window) == [REMOTE_ACTIVE] and not window.remote_banners.countdown.isActive()
    window.shutdown()


def test_no_provider_or_local_only_no_remote_banner_and_without_a_service_the_tab_says_so(
    qtbot: QtBot, runtime: PolicyRuntime, bridge: QtBusBridge, tmp_path: Path
) -> None:
    window = make_window(qtbot, runtime, bridge, tmp_path, Router(models_dir=tmp_path, clock=Monotonic()))
    assert remote_flags(window) == [] and costs_tab(window).view is not None
    window.shutdown()
    set_posture(runtime.settings, Posture.LOCAL_ONLY)  # a provider set up, but nothing leaves
    local = Router(models_dir=tmp_path, clock=Monotonic())
    local.remote = build_remote_tier(runtime)
    assert local.remote is not None and local.remote.provider is not None
    window = make_window(qtbot, runtime, bridge, tmp_path, local)
    assert remote_flags(window) == []
    window.shutdown()
    bare = MainWindow(
        runtime=runtime,
        controls=gate_on_bus(runtime, EventBus()),
        settings=QSettings(str(tmp_path / "bare.ini"), QSettings.Format.IniFormat),
    )
    qtbot.addWidget(bare)
    tab = costs_tab(bare)
    assert tab.error.text() == "Costs are not available in this session." and not tab.body.isEnabled()
    assert not tab.refresh_button.isEnabled()
    bare.shutdown()


@pytest.fixture
def locked_paths(tmp_path: Path) -> Iterator[AppPaths]:
    """A home whose data key was swapped for another well-formed one: the data opens locked."""
    home = resolve_paths(tmp_path / "locked")
    with no_keyring():
        with key_file_runtime(tmp_path / "locked") as rt:
            save_provider(rt.settings, make_config("hosted", "http://127.0.0.1:9/v1", "gpt-4o", 2.5, 10.0))
            set_active(rt.settings, "hosted")
        body = json.loads(home.key_file.read_text())
        body["data_key"] = "B" * 43 + "="
        home.key_file.write_text(json.dumps(body))
        yield home


def test_a_ledger_that_cannot_be_read_is_said_in_red_and_spending_is_not_shown_as_zero(
    qtbot: QtBot, locked_paths: AppPaths, bridge: QtBusBridge, tmp_path: Path
) -> None:
    runtime = PolicyRuntime.open(locked_paths)
    try:
        router = Router(models_dir=tmp_path, clock=Monotonic())
        router.remote = build_remote_tier(runtime)
        window = make_window(qtbot, runtime, bridge, tmp_path, router)
        tab = costs_tab(window)
        assert tab.view is None and tab.error.isVisible() and not tab.body.isEnabled()
        assert tab.error.text().startswith("The cost ledger cannot be read: Your data is locked")
        assert window.banners.flags()[0] == "data_locked"
        assert router.remote is None and remote_flags(window) == []  # its settings are locked too
        qtbot.mouseClick(tab.refresh_button, Qt.MouseButton.LeftButton)
        assert tab.error.isVisible()
        window.shutdown()
    finally:
        runtime.close()


def test_a_refused_change_is_said_and_changes_nothing(
    qtbot: QtBot, runtime: PolicyRuntime, router: Router, bridge: QtBusBridge, tmp_path: Path
) -> None:
    runtime.set_preset(Preset.OBSERVER)  # the Observer preset denies cost.admin, even to the user
    window = make_window(qtbot, runtime, bridge, tmp_path, router)
    tab = costs_tab(window)
    before = CostLedger(database=runtime.database).state()
    tab.daily_cap.setValue(50.0)
    qtbot.mouseClick(tab.apply_button, Qt.MouseButton.LeftButton)
    assert tab.status.isVisible()
    assert tab.status.text() == (
        "Changing the cost caps was refused by the policy: the Observer preset does not allow it; "
        "the Assistant preset in Permissions does."
    )
    after = CostLedger(database=runtime.database).state()
    assert (after.daily_cap_micros, after.monthly_cap_micros) == (
        before.daily_cap_micros,
        before.monthly_cap_micros,
    )
    assert allowed(runtime, "costs:caps") == []
    assert tab.daily_cap.value() == 50.0  # what the user typed stays, to apply once allowed
    window.shutdown()
