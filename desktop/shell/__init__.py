"""The application shell: the main window (the host of docks and menus), start-up and the smoke test."""
