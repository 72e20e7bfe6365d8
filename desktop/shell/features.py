"""The features installed on the main window, in this order (later ones may use earlier ones
through `host.feature(name)`: presentation borrows the theme and drives the lesson)."""

from __future__ import annotations

from desktop.features import (
    attribution_exports,
    export_actions,
    help_dialogs,
    interventions,
    lessons,
    notices,
    presentation,
    sessions,
    themes,
)

# themes: View ▸ Theme; presentation: F5; lessons: the Lesson dock; sessions: File ▸ sessions, recent
# lists, autosave and crash recovery; export: File ▸ Export; help: Help ▸ Keyboard shortcuts;
# notices: "loading…" / "not the current prompt" over the panels that cannot show the model's answer.
# interventions: the Interventions dock (before export lists every dock), right-click Ablate, Reset model,
# the distribution's before → after.
FEATURES = (themes, presentation, lessons, interventions, sessions, export_actions, attribution_exports, help_dialogs,
            notices)
