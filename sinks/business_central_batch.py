"""Business Central purchase documents written in ``$batch`` requests of up to 100 operations.

The single-record rules (``business_central``) hold, batched by step:

1. one ``$batch`` of look-ups by the source number (each the GET a single write makes);
2. one ``$batch`` of deep inserts (header with its lines in one operation, so a document and
   its lines land together or not at all) for the documents BC does not hold;
3. for invoices, one ``$batch`` of ``Microsoft.NAV.post`` for those just created.

No ``Isolation: snapshot``: each operation stands alone, so one refused document fails only
its own record. A document BC already holds (a re-send, a changed draft), an operation that
failed because someone else wrote the document meanwhile, and a number that comes twice in one
batch take the single-record path, which looks again: so nothing is created or posted twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from ml_connector.api.batch import BatchOperation, BatchResult
from ml_connector.api.errors import AlreadyExists, Conflict, FatalError
from ml_connector.api.odata import odata_literal, odata_query
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.records import Record
from sinks.base import Outcome, SinkRecord
from sinks.batching import Result
from sinks.business_central_documents import KINDS, DocumentKind, References, render


class Writer(Protocol):
    """What the batch needs of the target: its client, look-ups and single-record steps."""

    client: BusinessCentralClient
    cost_center_field: str

    async def write(self, record: SinkRecord) -> Outcome: ...

    async def references(self, kind: DocumentKind, doc: Mapping[str, Any]) -> References: ...

    async def apply(self, kind: DocumentKind, doc: Mapping[str, Any], held: Record) -> Outcome: ...

    async def posted(self, kind: DocumentKind, doc_id: str, status: str) -> Outcome: ...


@dataclass
class _Doc:
    index: int
    record: SinkRecord
    kind: DocumentKind
    doc: Mapping[str, Any]


def _error(result: BatchResult) -> Exception:
    """The error a plain call with this operation's answer raises."""
    try:
        result.raise_for_status()
    except Exception as exc:  # noqa: BLE001 - handed on as the record's result
        return exc
    return FatalError(f"{result.operation.method} {result.operation.url}: {result.status}")


async def _url(client: BusinessCentralClient, entity_set: str, record_id: str | None = None,
               **query: str | None) -> str:  # fmt: skip
    params = odata_query(**query)  # type: ignore[arg-type]
    url = await client.entity_url(entity_set, record_id)
    return f"{url}?{urlencode(params, quote_via=quote)}" if params else url


async def _run(
    client: BusinessCentralClient,
    docs: Sequence[_Doc],
    operation: Callable[[_Doc], Awaitable[BatchOperation]],
) -> list[BatchResult | Exception]:
    """One operation per document in ``$batch`` requests; a request failing as a whole gives
    each of its documents that error."""
    operations = [await operation(d) for d in docs]
    try:
        return list(await client.batch(operations))
    except Exception as exc:  # noqa: BLE001 - every document of the request gets it
        return [exc] * len(docs)


async def write_documents(target: Writer, records: Sequence[SinkRecord]) -> list[Result]:
    client = target.client
    results: list[Result | None] = [None] * len(records)
    alone: list[int] = []  # records that take the single-record path
    seen: set[tuple[str, str]] = set()
    docs: list[_Doc] = []
    for i, record in enumerate(records):
        kind, doc = KINDS.get(record.entity), record.event["after"]
        if kind is None or doc is None or not doc.get("number"):
            alone.append(i)  # refused or ignored there, as it says why
        elif (kind.entity, doc["number"]) in seen:
            alone.append(i)  # after its twin: its look-up sees what the twin wrote
        else:
            seen.add((kind.entity, doc["number"]))
            docs.append(_Doc(i, record, kind, doc))

    async def find(d: _Doc) -> BatchOperation:
        flt = f"{d.kind.key_field} eq {odata_literal(d.doc['number'])}"
        url = await _url(client, d.kind.entity_set, filter=flt, expand=d.kind.line_set)
        return BatchOperation("GET", url)

    new: list[_Doc] = []
    bodies: dict[int, dict[str, Any]] = {}
    for d, found in zip(docs, await _run(client, docs, find), strict=True):
        if isinstance(found, Exception) or not found.ok:
            results[d.index] = found if isinstance(found, Exception) else _error(found)
            continue
        held = (found.body or {}).get("value") or []
        try:
            if held:
                results[d.index] = await target.apply(d.kind, d.doc, held[0])
                continue
            if d.kind.posts and not d.doc["lines"]:
                raise FatalError(f"{d.kind.label} {d.doc['number']} has no lines to post")
            refs = await target.references(d.kind, d.doc)
            bodies[d.index] = render(d.kind, d.doc, refs, target.cost_center_field)
            new.append(d)
        except (AlreadyExists, Conflict):
            alone.append(d.index)
        except Exception as exc:  # noqa: BLE001 - this record's result
            results[d.index] = exc

    async def create(d: _Doc) -> BatchOperation:
        return BatchOperation("POST", await _url(client, d.kind.entity_set), bodies[d.index])

    to_post: list[_Doc] = []
    ids: dict[int, str] = {}
    for d, created in zip(new, await _run(client, new, create), strict=True):
        error = (
            created if isinstance(created, Exception) else None if created.ok else _error(created)
        )
        if isinstance(error, AlreadyExists | Conflict):
            alone.append(d.index)  # written meanwhile by someone else: look again
        elif error is not None:
            results[d.index] = error
        else:
            assert not isinstance(created, Exception)
            ids[d.index] = str(created.body["id"])
            if d.kind.posts:
                to_post.append(d)
            else:
                results[d.index] = Outcome("inserted", target_id=ids[d.index])

    async def post(d: _Doc) -> BatchOperation:
        url = await client.entity_url(d.kind.entity_set, ids[d.index])
        return BatchOperation("POST", f"{url}/Microsoft.NAV.post")

    for d, posting in zip(to_post, await _run(client, to_post, post), strict=True):
        if not isinstance(posting, Exception) and posting.ok:
            results[d.index] = Outcome("inserted", target_id=ids[d.index])
            continue
        try:  # post_once reads the status back: a post that did land is not made again
            results[d.index] = await target.posted(d.kind, ids[d.index], "inserted")
        except Exception as exc:  # noqa: BLE001 - this record's result
            results[d.index] = exc
    for i in sorted(alone):
        try:
            results[i] = await target.write(records[i])
        except Exception as exc:  # noqa: BLE001 - this record's result
            results[i] = exc
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]
