"""Which connection the running task acts for.

Set once where a loop starts working for a connection (a flow's polls, a target's sink
runner, a connection's subscriptions); the tasks it starts inherit it. Code deep below, such
as the authenticators the clients share, can then say which connection it served without
every system's client having to be told its connection's name.
"""

from __future__ import annotations

from contextvars import ContextVar

# "?" where no loop said: a one-off command (ping, reconcile) or a test.
CONNECTION: ContextVar[str] = ContextVar("mlc_connection", default="?")


def acting_for(connection: str) -> None:
    """The current task (and the tasks it starts from here on) act for ``connection``."""
    CONNECTION.set(connection)
