"""The HTTP foundation every system client stands on: auth, errors, retry, paging."""

from ml_connector.api.errors import ApiError, BackpressureError, FatalError, RetryableError

__all__ = ["ApiError", "BackpressureError", "FatalError", "RetryableError"]
