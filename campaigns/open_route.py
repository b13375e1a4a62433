"""A single SMS's route (account, sender) and its open campaign, read in one statement of SQL
written once: the ORM's compiling of that query costs more than the rest of a message's checks
(api/fast.py joins it to the API key's own read; campaigns.transactional.check checks it).

Only what the checks and the worker's wake-up read comes back (``CAMPAIGN``, ``ACCOUNT``); any
other field would be read on first use, one statement each, which tests/api/test_fast.py would
count.
"""

from __future__ import annotations

from django.db import connection

from campaigns.models import Campaign, Channel
from core.statuses import CampaignStatus
from providers.models import ProviderAccount

OPEN = (CampaignStatus.SENDING, CampaignStatus.PAUSED)
CAMPAIGN = (  # noqa: SIM905 - a list of names reads best as one string
    "id workspace_id name channel account_id sender text voice_kind ssml announcement_id voice "
    "language voice_category placeholder_policy rate_limit rate_period validity_minutes flash "
    "status transactional lease_until"
).split()
ACCOUNT = "id workspace_id provider name is_active allowed_countries".split()  # noqa: SIM905


class Route:
    """The SQL for one database vendor, and the campaign built from its columns."""

    def __init__(self):
        # In the model's order, as Model.from_db takes a subset.
        self.campaign_fields = [f for f in Campaign._meta.concrete_fields if f.attname in CAMPAIGN]
        self.account_fields = [
            f for f in ProviderAccount._meta.concrete_fields if f.attname in ACCOUNT
        ]
        quote = connection.ops.quote_name
        columns = [f"c.{quote(f.column)}" for f in self.campaign_fields]
        columns += [f"a.{quote(f.column)}" for f in self.account_fields]
        self.columns = ", ".join(columns)
        self._campaigns = quote(Campaign._meta.db_table)
        self._accounts = quote(ProviderAccount._meta.db_table)
        # Each column as the ORM would give it (on SQLite dates and JSON arrive as text).
        self._converters = []
        for i, f in enumerate(self.campaign_fields + self.account_fields):
            expression = f.get_col(f.model._meta.db_table)
            functions = connection.ops.get_db_converters(expression)
            functions += expression.get_db_converters(connection)
            if functions:
                self._converters.append((i, expression, functions))

    def joins(self, workspace: str) -> str:
        """LEFT JOINs that bring the open campaign (alias c) and its account (a) of the
        workspace the SQL expression ``workspace`` names; their parameters: ``params``."""
        return (
            f"LEFT JOIN {self._campaigns} c ON c.id = (SELECT o.id FROM {self._campaigns} o "
            f"WHERE o.workspace_id = {workspace} AND o.transactional = %s AND o.account_id = %s "
            "AND o.sender = %s AND o.channel = %s AND o.status IN (%s, %s) "
            "ORDER BY o.id LIMIT 1) "
            f"LEFT JOIN {self._accounts} a ON a.id = c.account_id"
        )

    @staticmethod
    def params(account_id: int, sender: str) -> list:
        return [True, account_id, sender, Channel.SMS, *OPEN]

    def build(self, values) -> Campaign | None:
        """The campaign (with its account) from the route's columns, or None (no open one)."""
        if values[0] is None:
            return None
        values = list(values)
        for i, expression, functions in self._converters:
            if values[i] is not None:
                for convert in functions:
                    values[i] = convert(values[i], expression, connection)
        split = len(self.campaign_fields)
        campaign = Campaign.from_db(
            connection.alias, [f.attname for f in self.campaign_fields], values[:split]
        )
        campaign.account = ProviderAccount.from_db(
            connection.alias, [f.attname for f in self.account_fields], values[split:]
        )
        return campaign


_ROUTES: dict[str, Route] = {}


def route() -> Route:
    """The Route of the default database's vendor."""
    found = _ROUTES.get(connection.vendor)
    if found is None:
        found = _ROUTES[connection.vendor] = Route()
    return found


def still_open(campaign_id: int) -> bool:
    """Inside a transaction: whether the campaign is still open, and on PostgreSQL locked
    against a stop (FOR SHARE) until the transaction ends, so that messages added in it are
    either cancelled by a stop that waits or never added after one (campaigns.grouped does
    the same in its INSERT). On SQLite the transaction holds the database's write lock."""
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    table = connection.ops.quote_name(Campaign._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE id = %s AND status IN (%s, %s){lock}",
            [campaign_id, *OPEN],
        )
        return cursor.fetchone() is not None
