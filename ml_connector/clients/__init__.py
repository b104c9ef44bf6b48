"""One API client per system, named as the system is everywhere else in the project."""
