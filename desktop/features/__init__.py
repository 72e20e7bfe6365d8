"""Features installed on the main window: themes, presentation mode, lessons, sessions, export, help."""
