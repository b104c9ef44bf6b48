"""ServiceNow instance simulator; ``create_app(ServiceNowOptions(...))``.

``app`` serves the OAuth token endpoint, the Table, Import Set and Batch APIs over ``store``
(tables from ``tables`` and ``catalog``, import sets and transform maps from ``import_sets``
and ``maps``, rows from ``seed``), and ``attachments`` the Attachment API; ``query`` parses
encoded queries (``selection`` runs them), ``access`` checks table ACLs, ``push`` is the Business
Rule push accelerator, ``inspection`` the ``/_sim/`` routes.
"""

from simulators.servicenow.app import create_app
from simulators.servicenow.options import ServiceNowOptions
from simulators.servicenow.push import PushRule

__all__ = ["PushRule", "ServiceNowOptions", "create_app"]
