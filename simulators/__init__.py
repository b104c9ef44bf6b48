"""Local HTTP simulators of the systems ml-connector talks to, written from their contracts.

One module per system (``business_central``, ``servicenow``), each with an options dataclass
and ``create_app(options)``; shared pieces in ``base``; ``server.serve_in_thread`` runs one.
Nothing here imports the connector's own packages, so a simulator cannot hide a client's bug.
"""
