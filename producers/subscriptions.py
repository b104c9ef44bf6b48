"""How long the change subscriptions kept in ``mlc.state`` have left, as gauges.

Read from the state every system's notifier saves its subscriptions to
(``subscription|<connection>|<resource>`` with an ISO ``expires``), so the receiver's loop
publishes them once for every system.
"""

from __future__ import annotations

from ml_connector.metrics import SUBSCRIPTION_EXPIRY, countdown
from ml_connector.state import StateStore
from producers.events import parse_timestamp

PREFIX = "subscription|"


def publish_expiries(state: StateStore) -> None:
    for key, value in state.load_prefix(PREFIX).items():
        _, connection, resource = key.split("|", 2)
        expires = value.get("expires")
        if expires:
            countdown(SUBSCRIPTION_EXPIRY.labels(connection, resource),
                      parse_timestamp(str(expires)).timestamp())  # fmt: skip
