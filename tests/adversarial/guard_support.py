"""Running an attack against an installed guard in a fresh interpreter.

An audit hook can never be removed, so installing one in the pytest process would
guard the rest of the test run. The script prints one JSON object: action name ->
"ok", "GuardViolation: ..." or the name of any other exception, plus ``violations``
(the guard's count) and ``reported`` (the reasons its callback saw).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import json, os, socket, sqlite3, subprocess, sys, threading
from pathlib import Path
from aether_qt.policy.guard import Guard, GuardViolation

data, outside = Path(sys.argv[1]), Path(sys.argv[2])
seen = []
results = {}

def attempt(name, action):
    try:
        action()
        results[name] = "ok"
    except GuardViolation as exc:
        results[name] = "GuardViolation: " + str(exc)
    except Exception as exc:
        results[name] = type(exc).__name__

def write(path):
    with open(path, "w") as handle:
        handle.write("x")
"""

INSTALL = """
guard = Guard([data], temp_dirs=[], on_violation=seen.append)
guard.install()
"""

EPILOGUE = """
results["violations"] = guard.violations
results["reported"] = [v.reason for v in seen]
print(json.dumps(results))
"""


def run_guarded(
    body: str, tmp_path: Path, *, before: str = "", install: str = INSTALL, env: dict[str, str] | None = None
) -> dict[str, object]:
    """Run PRELUDE + ``before`` + ``install`` + ``body`` + EPILOGUE in a clean interpreter.

    ``env`` is added to the child's environment (the guard reads the session's sockets there).
    """
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir(exist_ok=True)
    outside.mkdir(exist_ok=True)
    script = PRELUDE + textwrap.dedent(before) + textwrap.dedent(install) + textwrap.dedent(body) + EPILOGUE
    done = subprocess.run(
        [sys.executable, "-c", script, str(data.resolve()), str(outside.resolve())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def violation(result: object) -> bool:
    """True if an attempt was stopped by the guard."""
    return isinstance(result, str) and result.startswith("GuardViolation: ")
