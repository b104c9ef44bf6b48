"""Local HTTP simulators of the systems ml-connector talks to, written from their contracts.

One module per system (``business_central``, ``nav``, ``servicenow``, ``finance_operations``,
``acumatica``, ``servicetitan``), each with an options dataclass and ``create_app(options)``;
shared pieces in ``base`` (clock, tokens, request log), ``faults``, ``limits``, ``tls``,
``odata``, ``records`` (row tables with change listeners), ``deliveries`` (outbound webhooks
with retries), ``pump`` and ``entra``; ``server.serve_in_thread`` runs one (``tls=True`` for
HTTPS).
Nothing here imports the connector's own packages, so a simulator cannot hide a client's bug.
"""
