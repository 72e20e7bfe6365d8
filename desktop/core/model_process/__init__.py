"""The model in a process of its own, beside the window.

Run in a thread, the model's Python shares one interpreter lock with the window, and the
window stalls while it waits for it (up to a few hundred ms during Run to end on two cores).
In a process of its own the model only competes for a core. `child` is that process's main
loop (the same `RequestRunner` the thread uses), `channel` frames messages on the socket
between the two, `codec` turns answers into bytes without resending a trace step by step, and
`process_worker` is the window's side, with the model thread's signals.
"""
