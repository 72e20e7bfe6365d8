"""Plain data that crosses from the engine to the window: the trace and its arrays, model facts,
stop reasons. No torch, so the window can hold them before torch has loaded."""
