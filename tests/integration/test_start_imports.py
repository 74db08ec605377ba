"""Importing the desktop app's composition root stays light (aether_qt/app.py).

The start-up window must be drawn within a few hundred milliseconds of the
process start, so ``import aether_qt.app`` may pull in Qt and the small helpers
it needs to claim the home and draw that window, and nothing heavy: not the
policy runtime (SQLCipher, keys), not the engines, not numpy or QtMultimedia
(voice), not the model runtime. They are imported once the window is on screen.
This checks which modules a fresh interpreter has loaded, never how long it took.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "numpy",
    "gpt4all",
    "vosk",
    "faiss",
    "PySide6.QtMultimedia",
    "aether_qt.companion",
    "aether_qt.policy.runtime",
    "aether_qt.engines.router.router",
    "aether_qt.services.voice.host",
    "aether_qt.services.interaction.host",
    "aether_qt.widgets.main_window",
)

SCRIPT = """
import json, sys
import aether_qt.app
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(script: str) -> set[str]:
    """The modules a fresh interpreter has loaded once ``script`` ran (it prints them last)."""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_importing_the_app_loads_none_of_the_heavy_modules() -> None:
    loaded = _modules_after(SCRIPT)
    assert "aether_qt.app" in loaded
    assert [name for name in HEAVY if name in loaded] == []


PARSE_SCRIPT = """
import json, sys
from aether_qt import cli
argv = sys.argv[1:]
parser = cli.fast_parser(argv)
args = parser.parse_args(argv)
given = {k: str(v) for k, v in vars(args).items() if k != "handler"}
print(json.dumps({"args": given, "modules": sorted(sys.modules)}))
"""


def _parse(*argv: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, *argv], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_starting_the_app_or_a_benchmark_parses_the_command_line_without_the_command_modules() -> None:
    # building the full parser imports every command's module (the companion, numpy, ...)
    app = _parse("--home", "/somewhere", "--allow-key-file", "--onboarding")
    assert app["args"] == {"home": "/somewhere", "allow_key_file": "True", "onboarding": "True"}
    bench = _parse("bench", "turn", "--quick")
    assert bench["args"] == {
        "home": "None",
        "allow_key_file": "False",
        "onboarding": "False",
        "command": "bench",
        "suite": "turn",
        "json": "False",
        "quick": "True",
        "turns": "None",
    }
    for result in (app, bench):
        loaded = set(result["modules"])  # type: ignore[arg-type]
        assert [name for name in HEAVY if name in loaded] == []
        assert not any(
            name.startswith("aether_qt.commands.")
            and name
            not in {
                "aether_qt.commands.bench",
                "aether_qt.commands.bench.suites",
                "aether_qt.commands.doctor",
                "aether_qt.commands.output",
            }
            for name in loaded
        )


def test_other_command_lines_get_the_full_parser() -> None:
    from aether_qt.cli import fast_parser

    assert fast_parser(["policy", "show"]) is None
    assert fast_parser(["--version"]) is None
    assert fast_parser(["-h"]) is None
    assert fast_parser(["--home"]) is None  # the full parser reports the missing folder
    assert fast_parser(["--home=/x", "doctor"]) is not None


BENCH_SCRIPT = """
import json, sys
from aether_qt.commands.bench import gui, suites, turn
print(json.dumps(sorted(sys.modules)))
"""


def test_the_turn_benchmark_imports_nothing_heavy_before_it_times_the_cold_start() -> None:
    # `aether bench turn` measures the app's start in its own process: a module the suite
    # imported beforehand would make that start look faster than it is
    loaded = _modules_after(BENCH_SCRIPT)
    assert [name for name in HEAVY if name in loaded] == []
    assert "aether_qt.commands.session" not in loaded
