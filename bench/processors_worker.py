"""The processors as ``ml-connector run processors`` starts them, from a JSON configuration
given as the one argument (the benchmarks' way to run them in a process of their own)."""

from __future__ import annotations

import json
import sys

from app.pipeline import run_processors
from ml_connector.config import parse_settings

if __name__ == "__main__":
    settings = parse_settings(json.loads(sys.argv[1]))
    sys.argv = [sys.argv[0], "worker"]  # Faust's worker reads its own command line
    run_processors(settings, settings.kafka.bootstrap_servers or "")
