"""Time one tracking poll cycle that applies 100,000 status changes on PostgreSQL.

    .venv/bin/python bench/poll.py [--messages 100000] [--batch 10000] [--runs 5] [--webhook]
    .venv/bin/python bench/poll.py --campaigns 1,10,100 [--batches 3] [--batch 100] [--runs 3]

Seeds a sent campaign of ``--messages`` queued messages in BSG-sized batches (10,000 a provider
campaign), then times ``tracking.poll`` while the provider answers every batch with "all
delivered": per batch its statistics and one report per message, named by our reference, as
BSG's GET /api/messages does. The provider's answers are built in memory before the clock
starts, so the figure is Crier's own time: matching, the monotonic UPDATE (COPY into a temporary
table + one UPDATE ... FROM), the counters triggers, settling each batch, the cost, the snapshot
and the completion. It also times ``apply_statuses`` alone on all the reports in one call, and
the engagement roll-up that beat runs apart from the poll (campaigns.engagement.roll_up:
the contacts of the numbers, seeded in the book, get their last sent and delivered dates from
the same batches). Targets (issue #20): <= 1.5 s for the 100,000 changes (2.2-2.4 s before).
Every run starts from the same queued state, vacuumed. With ``--webhook`` the workspace has an
endpoint subscribed to message statuses, so every change is also written as webhook events (a
thousand messages to one); without it the poll pays one indexed query for asking.

With ``--campaigns`` it times instead one beat cycle (``poll_due`` and the polls it hands out,
one after the other) with each number of campaigns in flight, of ``--batches`` batches of
``--batch`` messages, and prints the cycle, its cost a campaign (wall, Python CPU, PostgreSQL
CPU) and the queries a campaign side by side: a mid-flight cycle where half of each batch is
reported delivered and the rest derived sent, and the steady one after it where nothing moved.
Target (issue #20): the cost a campaign flat from 1 to 100 campaigns in flight.

PostgreSQL is reached at postgres://postgres@127.0.0.1:5432/crier_bench_poll (created afresh;
BENCH_POSTGRES_URL overrides it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchdb import backend_cpu as _backend_cpu  # noqa: E402 - after the path is set
from bench.benchdb import fresh_postgres  # noqa: E402

POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crier_bench_poll"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one poll cycle")
    parser.add_argument("--webhook", action="store_true", help="an endpoint listens")
    parser.add_argument(
        "--campaigns",
        default="",
        help="time a beat cycle with each of these numbers of campaigns in flight (e.g. 1,10,100)",
    )
    parser.add_argument("--batches", type=int, default=3, help="with --campaigns: a campaign's")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="crier-bench-poll-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crier.settings",
        CRIER_VAR_DIR=str(var),
        LOG_LEVEL="WARNING",
        DATABASE_URL=POSTGRES,
    )
    fresh_postgres(POSTGRES)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.campaigns:
        counts = [int(n) for n in args.campaigns.split(",")]
        _in_flight(counts, args.batches, args.batch, args.runs)
        return
    campaign = _seed(args.messages, args.batch)
    if args.webhook:
        _listen(campaign)
    answers = _answers(campaign)
    print(
        f"{args.messages:,} messages in batches of {args.batch:,}, PostgreSQL, "
        f"{'an' if args.webhook else 'no'} endpoint listening; load {_load()}"
    )
    if args.profile:
        import cProfile

        _reset(campaign)
        cProfile.runctx("_poll(campaign, answers)", globals(), locals(), sort="cumulative")
        return
    cycles, applies, roll_ups = [], [], []
    for run in range(1, args.runs + 1):
        _reset(campaign)
        started, cpu, own = time.perf_counter(), _backend_cpu(), time.process_time()
        summary = _poll(campaign, answers)
        cycles.append(time.perf_counter() - started)
        cycle_own, cycle_cpu = time.process_time() - own, _backend_cpu() - cpu
        assert summary["changed"] == args.messages and summary["completed"], summary
        started, cpu = time.perf_counter(), _backend_cpu()
        rolled = _roll_up(campaign)
        roll_ups.append(time.perf_counter() - started)
        roll_up_cpu = _backend_cpu() - cpu
        assert rolled["contacts"] == args.messages, rolled
        _reset(campaign)
        reports = [r for _stats, batch in answers.values() for r in batch]
        started, cpu, own = time.perf_counter(), _backend_cpu(), time.process_time()
        changed = _apply(campaign, reports)
        applies.append(time.perf_counter() - started)
        apply_own, apply_cpu = time.process_time() - own, _backend_cpu() - cpu
        assert changed == args.messages, changed
        print(
            f"run {run}: poll cycle {cycles[-1]:.2f} s ({args.messages / cycles[-1]:,.0f} "
            f"changes/s; Python CPU {cycle_own:.2f} s, database CPU {cycle_cpu:.2f} s); "
            f"apply_statuses alone {applies[-1]:.2f} s (Python CPU {apply_own:.2f} s, "
            f"database CPU {apply_cpu:.2f} s); engagement "
            f"roll-up after it {roll_ups[-1]:.2f} s (database CPU {roll_up_cpu:.2f} s); "
            f"load {_load()}"
        )
    print(
        f"poll cycle applying {args.messages:,} changes: best {min(cycles):.2f} s, median "
        f"{statistics.median(cycles):.2f} s; apply_statuses alone: best {min(applies):.2f} s, "
        f"median {statistics.median(applies):.2f} s; engagement roll-up of the same batches "
        f"(beat, apart from the poll): best {min(roll_ups):.2f} s, median "
        f"{statistics.median(roll_ups):.2f} s = "
        f"{statistics.median(roll_ups) / statistics.median(cycles):.2f}x the cycle"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _seed(count: int, batch_size: int, account=None, contacts: bool = True):
    from django.db import connection

    from campaigns.models import Batch, Campaign, references
    from core.statuses import BatchStatus, CampaignStatus
    from providers.models import ProviderAccount
    from workspaces.models import Workspace

    if account is None:
        workspace = Workspace.objects.create(name="Bench poll", default_country="KZ")
        account = ProviderAccount(workspace=workspace, provider="bsg", name="Bench BSG")
        account.credentials = {"api_key": "live_bench"}
        account.save()
    workspace = account.workspace
    campaign = Campaign.objects.create(
        workspace=workspace, account=account, name="Bench", text="Hi", sender="Crier"
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENT)
    for start in range(0, count, batch_size):
        size = min(batch_size, count - start)
        batch = Batch.objects.create(
            campaign=campaign,
            key=references(1)[0],
            status=BatchStatus.SUBMITTED,
            provider_campaign_id=f"{campaign.pk}-{start // batch_size + 1}",
            size=size,
            accepted=size,
        )
        with connection.cursor() as cursor:
            # One INSERT ... SELECT a batch: seeding is not what is measured.
            cursor.execute(
                "INSERT INTO campaigns_message (campaign_id, reference, phone, country, "
                "number_type, fields, status, batch_id, attempt, provider_message_id, "
                "raw_status, error_code, error_reason, created_at, updated_at) "
                "SELECT %s, md5(%s || '-' || n), '+7701' || lpad(n::text, 7, '0'), 'KZ', '', "
                "'{}', 'queued', %s, 1, '', 'accepted', '', '', now(), now() "
                "FROM generate_series(%s, %s) AS n",
                [campaign.pk, campaign.pk, batch.pk, start, start + size - 1],
            )
        if contacts:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE campaigns_message")
    if not contacts:
        return campaign
    with connection.cursor() as cursor:  # every number is a contact of the book
        cursor.execute(
            "INSERT INTO contacts_contact (workspace_id, phone, country, name, fields, language, "
            "time_zone, opt_out_source, opt_out_note, created_at, updated_at) "
            "SELECT %s, '+7701' || lpad(n::text, 7, '0'), 'KZ', '', '{}', '', '', '', '', "
            "now(), now() FROM generate_series(0, %s) AS n",
            [workspace.pk, count - 1],
        )
        cursor.execute("ANALYZE contacts_contact")
    return campaign


def _in_flight(counts: list[int], batches: int, batch_size: int, runs: int) -> None:
    """Times one beat cycle (``poll_due`` leasing every campaign whose poll is due, then each
    one's poll, as the workers would run them one after the other) with each of ``counts``
    campaigns in flight, of ``batches`` batches of ``batch_size`` messages each, alternating
    the counts ``runs`` times. Per batch the provider reports half the messages delivered
    and counts the other half sent (which the poll derives): a poll mid-campaign. A second
    cycle right after is the steady one, where nothing moved (the counters match, so no
    per-message report is fetched)."""
    from campaigns.models import Campaign

    first = _seed(batches * batch_size, batch_size, contacts=False)
    campaigns = [first] + [
        _seed(batches * batch_size, batch_size, account=first.account, contacts=False)
        for _ in range(max(counts) - 1)
    ]
    answers = {}
    for campaign in campaigns:
        answers |= _answers(campaign, delivered=0.5)
    _vacuum()
    print(
        f"One beat cycle with 1 to {max(counts)} campaigns in flight, each of {batches} batches "
        f"of {batch_size:,} messages, PostgreSQL; load {_load()}"
    )
    figures = {n: ([], [], [], [], [], []) for n in counts}
    for run in range(1, runs + 1):
        for n in counts:
            polled = [c.pk for c in campaigns[:n]]
            Campaign.objects.exclude(pk__in=polled).update(next_poll_at=None)
            moving, steady = figures[n][:3], figures[n][3:]
            queries = []
            for times, cpus, ours in (moving, steady):
                if times is moving[0]:
                    _reset_in_flight(polled)
                Campaign.objects.filter(pk__in=polled).update(next_poll_at=_now())
                counted = _Queries()
                started, cpu, own = time.perf_counter(), _backend_cpu(), time.process_time()
                with counted:
                    summaries = _cycle(answers)
                times.append(time.perf_counter() - started)
                ours.append(time.process_time() - own)
                cpus.append(_backend_cpu() - cpu)
                queries.append(counted.count / n)
                assert len(summaries) == n, summaries
                moved = sum(s["changed"] for s in summaries)
                assert moved == (n * batches * batch_size if times is moving[0] else 0), moved
            print(
                f"run {run}, {n} in flight: cycle {moving[0][-1] * 1000:.0f} ms "
                f"({moving[0][-1] * 1000 / n:.1f} ms, {queries[0]:.0f} queries a campaign), "
                f"steady cycle {steady[0][-1] * 1000:.0f} ms ({steady[0][-1] * 1000 / n:.1f} ms, "
                f"{queries[1]:.0f} queries a campaign); load {_load()}"
            )
    print(
        "in flight | one cycle: median (min-max) | a campaign: wall, Python CPU, "
        "PostgreSQL CPU (medians)"
    )
    for n, row in figures.items():
        for name, (times, cpus, ours) in (("moving", row[:3]), ("steady", row[3:])):
            print(
                f"{n:>4} {name}: {statistics.median(times) * 1000:,.0f} ms "
                f"({min(times) * 1000:,.0f}-{max(times) * 1000:,.0f}) | "
                f"{statistics.median(times) * 1000 / n:.1f} ms, "
                f"{statistics.median(ours) * 1000 / n:.1f} ms, "
                f"{statistics.median(cpus) * 1000 / n:.1f} ms"
            )


class _Queries:
    """Counts the queries run inside its ``with`` block."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapped = connection.execute_wrapper(self)
        self._wrapped.__enter__()

    def __exit__(self, *exc):
        self._wrapped.__exit__(*exc)


def _cycle(answers) -> list[dict]:
    """One beat tick and the polls it hands out, run here one after the other."""
    from unittest import mock

    from campaigns.tracking import polling as tracking
    from providers.models import ProviderAccount

    handed: list[int] = []
    with mock.patch.object(ProviderAccount, "adapter", lambda self: _answering(answers)):
        tracking.poll_due(handed.append)
        return [tracking.run(pk) for pk in handed]


def _reset_in_flight(polled: list[int]) -> None:
    from django.db import connection

    from campaigns.models import Batch, Campaign, CounterSnapshot
    from core.statuses import CampaignStatus

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_message SET status = 'queued', raw_status = 'accepted' "
            "WHERE campaign_id = ANY(%s) AND status <> 'queued'",
            [polled],
        )
    _vacuum()
    Batch.objects.filter(campaign__in=polled).update(final=False, polled_at=None, cost=None)
    CounterSnapshot.objects.filter(campaign__in=polled).delete()
    Campaign.objects.filter(pk__in=polled).update(
        status=CampaignStatus.SENT, completed_at=None, poll_lease_until=None
    )


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE campaigns_message")


def _now():
    from django.utils import timezone

    return timezone.now()


def _listen(campaign) -> None:
    from webhooks.models import Endpoint, EventType

    Endpoint.objects.create(
        workspace_id=campaign.workspace_id,
        url="https://hooks.example.com/crier",
        event_types=[EventType.MESSAGE_STATUS, EventType.CAMPAIGN_COMPLETED],
    )


def _answers(campaign, delivered: float = 1.0) -> dict:
    """{provider campaign id: (stats, reports)}: everything delivered, at 0.035 EUR each (or
    that share of each batch delivered, reported message by message, and the rest counted
    sent, still running)."""
    from decimal import Decimal

    from providers.base import MessageStatusReport, RemoteStats
    from providers.statuses import empty_counters

    answers = {}
    for batch in campaign.batches.all():
        references = list(batch.messages.order_by("pk").values_list("reference", flat=True))
        reports = [
            MessageStatusReport(
                status="delivered", raw_status="delivered", final=True, reference=reference
            )
            for reference in references[: round(len(references) * delivered)]
        ]
        counters = empty_counters() | {"delivered": len(reports)}
        counters["sent"] = len(references) - len(reports)
        cost = Decimal("0.0350") * len(references)
        state, raw = ("completed", "done") if delivered == 1 else ("sending", "running")
        stats = RemoteStats(counters, state, raw, cost, "EUR", len(references))
        answers[batch.provider_campaign_id] = (stats, reports)
    return answers


def _answering(answers):
    from providers.bsg.adapter import BSGAdapter

    class AnsweringBSG(BSGAdapter):
        """BSG whose answers were fetched already (the provider's time is not Crier's)."""

        def campaign_stats(self, provider_campaign_id):
            return answers[provider_campaign_id][0]

        def message_statuses(self, provider_campaign_id, provider_message_ids=()):
            return answers[provider_campaign_id][1]

    return AnsweringBSG()


def _poll(campaign, answers) -> dict:
    from unittest import mock

    from campaigns.tracking import polling as tracking

    with mock.patch.object(type(campaign.account), "adapter", lambda self: _answering(answers)):
        return tracking.poll(campaign)


def _apply(campaign, reports) -> int:
    from campaigns.tracking import polling as tracking

    return tracking.apply_statuses(campaign, reports)


def _roll_up(campaign) -> dict:
    from campaigns import engagement

    return engagement.roll_up(limit=campaign.batches.count())


def _reset(campaign) -> None:
    from django.db import connection

    from campaigns.models import Batch, Campaign
    from contacts.models import Contact
    from core.statuses import CampaignStatus

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_message SET status = 'queued', raw_status = 'accepted' "
            "WHERE campaign_id = %s",
            [campaign.pk],
        )
        cursor.execute("VACUUM ANALYZE campaigns_message")
    Batch.objects.filter(campaign=campaign).update(final=False, rolled_up_at=None)
    Contact.objects.filter(workspace_id=campaign.workspace_id).update(
        last_sent_at=None, last_delivered_at=None
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENT, completed_at=None)
    campaign.refresh_from_db()


if __name__ == "__main__":
    main()
