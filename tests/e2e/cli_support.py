"""Running the real ``aether`` command in a subprocess against a throw-away home.

Each CLI process installs the runtime guard (an audit hook that cannot be
removed), so the command never runs inside the test process. Under ``make
test`` (EXPECT_SECRET_SERVICE=1) keys go to the real gnome-keyring, namespaced
by the home; elsewhere the fail backend plus the opt-in key file is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REAL_KEYRING = os.environ.get("EXPECT_SECRET_SERVICE") == "1"
FAIL_BACKEND = "keyring.backends.fail.Keyring"


@dataclass
class Cli:
    """An Aether home and a way to run commands against it."""

    home: Path
    key_file: bool = not REAL_KEYRING

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        if self.key_file:
            env["PYTHON_KEYRING_BACKEND"] = FAIL_BACKEND
        env.pop("AETHER_HOME", None)
        env.update(extra)
        return env

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        check: bool = False,
        cwd: Path | None = None,
        stdin: int | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "aether_qt.cli", "--home", str(self.home)]
        if self.key_file:
            argv.append("--allow-key-file")
        proc = subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            env=env or self.env(),
            timeout=timeout,
            check=False,
            cwd=cwd,
            stdin=stdin,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"aether {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
        proc = self.run(*args, "--json", env=env, cwd=cwd)
        assert proc.stdout, proc.stderr
        return json.loads(proc.stdout)
