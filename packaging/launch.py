"""Entry point of the packaged app (PyInstaller needs a script, not a console_scripts entry)."""

import multiprocessing
import sys

from desktop.entry import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
