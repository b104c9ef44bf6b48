"""Local HTTP simulators of the systems ml-connector talks to, written from their contracts.

One package per system (``business_central``, ``nav``, ``servicenow``, ``finance_operations``,
``acumatica``, ``servicetitan``), each exporting its options dataclass and
``create_app(options)``. Inside a package, ``options`` and ``store`` never import ``app``:
``app`` assembles the pieces. Each package's ``registration`` declares its ``Simulator``
(``simulator``) and ``registry.SIMULATORS`` lists them all.

Shared pieces: ``base`` (simulator state, request log, inspection routes, app wiring),
``clock``, ``credentials`` (tokens and Authorization headers), ``faults``, ``limits``, ``tls``,
``odata``, ``records`` (row tables with change listeners) and ``records_inspect``,
``deliveries`` (outbound webhooks with retries), ``pump``, ``seed`` and ``entra``;
``server.serve_in_thread`` runs one (``tls=True`` for HTTPS).
Nothing here imports the connector's own packages, so a simulator cannot hide a client's bug.
"""
