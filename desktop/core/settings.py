"""Where the window's layout and last choices are remembered (QSettings).

LOGITSCOPE_SETTINGS names an .ini file to use instead of the user's settings:
tests set it, so they never write the user's real settings.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings


def app_settings() -> QSettings:
    path = os.environ.get("LOGITSCOPE_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("Logitscope", "Logitscope")
