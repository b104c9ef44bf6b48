"""What the configured flows imply beyond what each one says: which way documents travel."""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.canonical import DOCUMENTS, MASTERS
from ml_connector.config import Settings


def returned_documents(settings: Settings, flow_name: str) -> frozenset[str]:
    """Documents a flow carries back to the system they were entered in.

    The system that sends the masters is the system of record: documents are entered on the
    other side and created there (ServiceNow orders and invoices, posted in BC). When a flow
    from the system of record also carries a document kind the other side sends it, those
    documents go back as their status (posted, paid), and name nothing to resolve. A flow's
    ``returned`` says so explicitly where an ERP sends its own documents of that kind too.
    """
    flow = settings.flows[flow_name]
    if flow.returned is not None:
        return frozenset(DOCUMENTS & set(flow.returned) & set(flow.entities))

    def carried(source: str, target: str) -> set[str]:
        return {e for f in settings.flows.values() if (f.source, f.target) == (source, target)
                for e in f.entities}  # fmt: skip

    if not MASTERS & carried(flow.source, flow.target):
        return frozenset()
    return frozenset(DOCUMENTS & carried(flow.target, flow.source) & set(flow.entities))


@dataclass(frozen=True)
class PollTask:
    """One stream one producer instance polls at a time: an entity of a flow's source."""

    flow: str
    connection: str
    entity: str

    @property
    def id(self) -> str:
        """Its name in the tasks topic; unambiguous, as connection and entity names hold no
        ``|``."""
        return f"{self.flow}|{self.connection}|{self.entity}"


def poll_tasks(settings: Settings) -> list[PollTask]:
    """Every poll task of the configuration, flow by flow in entity order."""
    return [PollTask(name, flow.source, entity)
            for name, flow in settings.flows.items() for entity in flow.entities]  # fmt: skip
