"""Dynamics NAV / Business Central on-premises simulator; ``create_app(NavOptions(...))``.

Built on the Business Central simulator's store and handlers: ``app`` adds Basic auth and the
OData V4 web services of published pages (``pages``) under one server instance.
"""

from simulators.nav.app import create_app
from simulators.nav.options import NavOptions

__all__ = ["NavOptions", "create_app"]
