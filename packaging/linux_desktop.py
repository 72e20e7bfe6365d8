"""What a Linux desktop needs to know about Logitscope: its desktop entry and its session MIME type.

Kept apart from the .deb builder so the texts can be checked (and reused by other package formats)
without building anything.
"""

from __future__ import annotations

APP_ID = "logitscope"
SESSION_MIME = "application/x-logitscope-session"
SESSION_GLOB = "*.logitscope.json"  # desktop/features/sessions.py SUFFIX


def desktop_entry(exec_path: str = "logitscope") -> str:
    """The freedesktop.org desktop entry; `%f` hands a double-clicked session file to `logitscope FILE`."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=Logitscope",
        "GenericName=Language model microscope",
        "Comment=Look inside a causal language model: tokens, attention, residual stream, logits",
        f"Exec={exec_path} %f",
        f"TryExec={exec_path}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Education;ArtificialIntelligence;",  # one main category: listed once in menus
        "Keywords=LLM;transformer;attention;GPT-2;interpretability;",
        f"MimeType={SESSION_MIME};",
        f"StartupWMClass={APP_ID}",
        "",
    ])


def mime_package() -> str:
    """A shared-mime-info package: session files get their own type (a kind of JSON) and our icon."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="{SESSION_MIME}">
    <comment>Logitscope session</comment>
    <sub-class-of type="application/json"/>
    <glob pattern="{SESSION_GLOB}" weight="60"/>
    <icon name="{APP_ID}"/>
  </mime-type>
</mime-info>
"""
