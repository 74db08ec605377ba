"""The PyInstaller bundle's entry point: the same ``aether`` command as the console script."""

import sys

from aether_qt.cli import main

if __name__ == "__main__":
    sys.exit(main())
