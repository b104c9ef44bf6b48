"""Business Central change notifications (``/webhooks/business_central/<connection>``).

- ``?validationToken=X`` (GET or POST): BC's handshake; the token goes back as plain text.
- A notification is checked item by item (shape, known subscription, clientState); what
  passes becomes hints. A clientState that does not match is rejected (403) and counted. A
  valid notification never gets a 4xx, because BC deletes a subscription that answers 4xx.
- Every ``check_interval`` the subscriptions are created, renewed or recreated.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.connections.business_central import BusinessCentralConnection
from producers.business_central import NOTIFIED, SYSTEM
from producers.business_central_subscriptions import ClientStates, SubscriptionManager
from producers.hint import Hint
from producers.notifications import NotifierContext
from producers.receiver import BadNotification, Intake, json_body, notify_path

log = logging.getLogger(__name__)

_RESOURCE = re.compile(
    r"companies\((?P<company>[0-9a-fA-F-]{36})\)/(?P<set>[A-Za-z]+)(?:\((?P<id>[0-9a-fA-F-]{36})\))?"
)
CHANGE_TYPES = ("created", "updated", "deleted", "collection")


def parse(connection: str, body: Any) -> list[tuple[str, str, Hint]]:
    """(subscriptionId, clientState, hint) per entry, or BadNotification."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise BadNotification('expected a JSON object with a "value" array')
    out = []
    for i, item in enumerate(body["value"]):
        if not isinstance(item, dict):
            raise BadNotification(f"value[{i}] is not an object")
        missing = [k for k in ("subscriptionId", "clientState", "resource", "changeType")
                   if not isinstance(item.get(k), str)]  # fmt: skip
        if missing:
            raise BadNotification(f"value[{i}] lacks {', '.join(missing)}")
        if item["changeType"] not in CHANGE_TYPES:
            raise BadNotification(f"value[{i}].changeType {item['changeType']!r} is unknown")
        match = _RESOURCE.search(item["resource"])
        if match is None:
            raise BadNotification(f"value[{i}].resource {item['resource']!r} names no entity set")
        hint = Hint(connection, match["set"], item["changeType"], match["id"], item["resource"],
                    item.get("lastModifiedDateTime"))  # fmt: skip
        out.append((item["subscriptionId"], item["clientState"], hint))
    return out


class BusinessCentralNotifier:
    def __init__(self, manager: SubscriptionManager, client_states: ClientStates) -> None:
        self.manager = manager
        self.client_states = client_states

    async def handle(self, request: Request, intake: Intake) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            if len(token) > 1024:
                return intake.malformed("validationToken is longer than 1024 characters")
            # Echoed as given: nosniff keeps a browser from running it as a page.
            return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})
        try:
            entries = parse(intake.connection, await json_body(request))
        except BadNotification as exc:
            return intake.malformed(f"not a Business Central notification: {exc}")
        valid = [h for sub, state, h in entries if self.client_states.check(sub, state)]
        rejected = len(entries) - len(valid)
        if rejected:
            log.warning("%d notification(s) for %s with an unknown subscription or a wrong "
                        "clientState rejected", rejected, intake.connection)  # fmt: skip
        if entries and not valid:
            return intake.refused(rejected, 403, "clientState does not match the subscription")
        if rejected:
            intake.counts.rejected_client_state += rejected
        return await intake.accept(valid)

    async def maintain(self) -> None:
        await self.manager.ensure()


def notifier(ctx: NotifierContext) -> BusinessCentralNotifier | None:
    """Subscriptions for the entity sets the connection's flows carry (none: no notifier)."""
    conn = ctx.connection
    if not isinstance(conn, BusinessCentralConnection) or not conn.webhooks:
        return None
    carried = ctx.entities_read()
    sets = sorted(s for s, e in NOTIFIED.items() if e in carried)
    client_states = ClientStates()
    manager = SubscriptionManager(
        BusinessCentralClient(conn, ctx.secrets), connection=ctx.name, entity_sets=sets,
        notification_url=ctx.public_url + notify_path(SYSTEM, ctx.name), state=ctx.state,
        secrets_store=ctx.secrets, client_states=client_states, renew_before=ctx.renew_before,
    )  # fmt: skip
    manager.load_known()
    return BusinessCentralNotifier(manager, client_states)
