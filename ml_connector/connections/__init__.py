"""Connection models, one module per system (see ``ml_connector.systems``)."""
