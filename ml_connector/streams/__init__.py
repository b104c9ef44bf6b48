"""Declared streams and the one reader that runs them for every system.

A stream says what to read (path, cursor, filter, fields, children, parent); the reader turns
that into requests with the stream's dialect and paging style. Systems contribute
declarations, never read loops.
"""

from ml_connector.streams.declaration import Child, CursorField, Parent, Stream
from ml_connector.streams.reader import Host, read

__all__ = ["Child", "CursorField", "Host", "Parent", "Stream", "read"]
