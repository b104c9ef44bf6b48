"""The application shell: the CLI, pipeline wiring, supervisor, demo, reconcile, the DLQ and
replay tools and the audit index. It sits on top of every other layer and nothing imports it."""
