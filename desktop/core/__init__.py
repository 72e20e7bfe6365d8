"""The GUI core: the model client and its worker thread, the requests and their handlers, the shared
state, the trace and run controllers, redraw gates, and what every view is built with (ViewContext)."""
