"""A big import into an empty book leaves its contacts out of the table's name and fields
indexes, and its workspace gets indexes of its own once the import has committed
(contacts.search_indexes): every search and segment count is right before, while and after
those are built, and a contact written meanwhile is found after."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, connections
from django.http import QueryDict
from django.urls import reverse

from contacts import importing, search_indexes, segments, tasks
from contacts.models import Contact, ImportStatus, ListAction, UpsertMode
from contacts.search import ContactFilter
from workspaces.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

BOOK = (
    "phone;name;city\n"
    "+77011110001;Ann Lee;Almaty\n"
    "+77011110002;Bob Ray;Astana\n"
    "+77011110003;Joanna Ko;Almaty\n"
)


@pytest.fixture
def queued(monkeypatch):
    """The index builds the imports queued (by task name and argument), not sent."""
    sent = []

    def enqueue(name, *args):
        if name == "contacts.tasks.build_search_indexes":
            sent.append((name, *args))

    monkeypatch.setattr(importing, "enqueue", enqueue)
    return sent


@pytest.fixture
def book(acme, monkeypatch):
    """Acme's workspace with an empty book, and three rows counting as a big import; its
    own indexes are dropped afterwards (a flush leaves them)."""
    monkeypatch.setattr(search_indexes, "BULK_ROWS", 3)
    workspace = acme.workspace
    workspace.segments.all().delete()
    workspace.contact_lists.all().delete()
    workspace.contact_fields.all().delete()
    workspace.contacts.all().delete()
    yield workspace
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for name in search_indexes.names(workspace.pk):
                cursor.execute(f"DROP INDEX IF EXISTS {name}")


def import_book(workspace, text: str = BOOK):
    imp = importing.create(workspace, None, text=text)
    importing.confirm(imp, UpsertMode.UPDATE, ListAction.NONE)
    importing.run(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.DONE, imp.error
    return imp


def page(workspace, **query):
    """The contacts page's query set for ``query``."""
    params = QueryDict(mutable=True)
    params.update(query)
    return ContactFilter.from_query(params).apply(workspace)


def found(workspace, **query) -> set[str]:
    return set(page(workspace, **query).values_list("phone", flat=True))


def counted(workspace, rules: list[dict]) -> int:
    return segments.members(workspace, {"match": "all", "rules": rules}).count()


def assert_searches_right(workspace, also: set[str] = frozenset()):
    """Name and field searches and segment counts give the imported book's answers (and
    ``also``, contacts written by hand whose name holds "ann" and city is Almaty)."""
    in_almaty = {"+77011110001", "+77011110003"} | also
    assert found(workspace, q="ann") == in_almaty
    assert found(workspace, field="city", value="Almaty") == in_almaty
    city_rule = {"field": "field:city", "op": "is", "value": "Almaty"}
    assert counted(workspace, [city_rule]) == len(in_almaty)
    assert counted(workspace, [{"field": "name", "op": "contains", "value": "ray"}]) == 1
    assert counted(workspace, [{"field": "name", "op": "is", "value": "JOANNA ko"}]) == 1


def own_indexes(workspace) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = ANY(%s) AND i.indisvalid ORDER BY 1",
            [search_indexes.names(workspace.pk)],
        )
        return [row[0] for row in cursor.fetchall()]


def plan(workspace, **query) -> str:
    """How PostgreSQL would find the matches of ``query`` if the book were big (on a few
    rows it would read them all)."""
    sql, params = page(workspace, **query).order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_indexscan = off")
        try:
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_indexscan")


def test_a_big_import_into_an_empty_book_marks_its_contacts_and_queues_their_indexes(book, queued):
    import_book(book)

    marked = connection.vendor == "postgresql"  # COPYed straight into the contacts
    assert set(Contact.objects.filter(workspace=book).values_list("bulk_loaded", flat=True)) == {
        marked
    }
    assert queued == ([("contacts.tasks.build_search_indexes", book.pk)] if marked else [])


def test_a_small_import_into_an_empty_book_is_indexed_as_any(book, queued, monkeypatch):
    monkeypatch.setattr(search_indexes, "BULK_ROWS", 100)

    import_book(book)

    assert not Contact.objects.filter(workspace=book, bulk_loaded=True).exists()
    assert queued == []


def test_an_import_into_a_book_with_contacts_is_indexed_as_any(book, queued):
    Contact.objects.create(workspace=book, phone="+77011119999")

    import_book(book)

    assert not Contact.objects.filter(workspace=book, bulk_loaded=True).exists()
    assert queued == []


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_past_the_most_books_with_their_own_indexes_a_big_import_is_indexed_as_any(
    book, queued, globex, monkeypatch
):
    """Each bulk-loaded book adds two partial indexes that planning any query on the contacts
    considers (1,000 measured: 0.2 -> 20 ms a plan), so their number is bounded."""
    monkeypatch.setattr(search_indexes, "MAX_BOOKS", 1, raising=False)
    Contact.objects.create(workspace=globex.workspace, phone="+77019990000", bulk_loaded=True)

    import_book(book)

    assert not Contact.objects.filter(workspace=book, bulk_loaded=True).exists()
    assert queued == []
    assert_searches_right(book)


def test_searches_and_counts_are_right_before_while_and_after_the_book_is_indexed(
    book, queued, as_role
):
    import_book(book)
    assert_searches_right(book)  # its own indexes not built yet

    # Written by hand while the book's indexes are missing: a new contact, and an edit of an
    # imported one.
    member = as_role(Role.SENDER)
    added = member.post(
        reverse("contact_create"),
        {"phone": "+77011110004", "name": "Hannah", "f_city": "Almaty"},
    )
    bob = Contact.objects.get(workspace=book, phone="+77011110002")
    edited = member.post(
        reverse("contact_edit", args=[bob.pk]), {"name": "Bob Rayne", "f_city": "Astana"}
    )
    assert (added.status_code, edited.status_code) == (302, 302)
    also = {"+77011110004"}
    assert_searches_right(book, also)
    assert found(book, q="rayne") == {"+77011110002"}

    for name, workspace_id in queued:
        getattr(tasks, name.rsplit(".", 1)[1])(workspace_id)

    assert_searches_right(book, also)
    assert found(book, q="rayne") == {"+77011110002"}
    if connection.vendor == "postgresql":
        assert own_indexes(book) == sorted(search_indexes.names(book.pk))


def grow(workspace, bulk_loaded: bool, count: int = 5000):
    """``count`` more contacts, so that the planner reads an index rather than every row."""
    Contact.objects.bulk_create(
        Contact(
            workspace=workspace,
            phone=f"+7702{n:07}",
            name=f"Person {n}",
            fields={"city": f"Town {n % 50}"},
            bulk_loaded=bulk_loaded,
        )
        for n in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Contact._meta.db_table}")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_book_s_searches_read_its_own_indexes_once_built(book, queued):
    import_book(book)
    grow(book, bulk_loaded=True)
    assert "contact_name_trigram_w" not in plan(book, q="ann")

    search_indexes.build(book.pk)

    assert f"contact_name_trigram_w{book.pk}" in plan(book, q="ann")
    assert f"contact_fields_gin_w{book.pk}" in plan(book, field="city", value="Almaty")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_other_books_searches_read_the_table_s_indexes(book, queued, globex):
    import_book(book)
    grow(globex.workspace, bulk_loaded=False, count=30_000)

    assert "contact_name_trigram " in plan(globex.workspace, q="Person 4321") + " "
    assert "contact_bulk_loaded" in plan(globex.workspace, q="Person 4321")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_an_interrupted_build_is_made_again(book, queued):
    import_book(book)
    search_indexes.build(book.pk)
    name = search_indexes.names(book.pk)[0]
    with connection.cursor() as cursor:  # what a cancelled CREATE INDEX CONCURRENTLY leaves
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name]
        )

    assert search_indexes.build(book.pk) == [name]
    assert own_indexes(book) == sorted(search_indexes.names(book.pk))


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_segment_matching_any_rule_reads_the_indexes_of_each(book, queued, globex):
    import_book(book)
    grow(globex.workspace, bulk_loaded=False, count=30_000)
    either = {
        "match": "any",
        "rules": [
            {"field": "name", "op": "contains", "value": "Person 4321"},
            {"field": "name", "op": "contains", "value": "Person 1234"},
        ],
    }
    sql, params = segments.members(globex.workspace, either).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_indexscan = off")
        try:
            cursor.execute(f"EXPLAIN {sql}", params)
            shown = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_indexscan")

    assert shown.count("Bitmap Index Scan on contact_name_trigram ") == 2, shown


@pytest.fixture
def checked(monkeypatch):
    """The builds the periodic check queued (workspace ids), not sent."""
    sent = []
    monkeypatch.setattr(search_indexes, "enqueue", lambda name, *args: sent.append(args[0]))
    return sent


def test_beat_checks_the_bulk_loaded_books_every_few_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["check-search-indexes"]
    assert entry["task"] == "contacts.tasks.check_search_indexes"
    assert entry["schedule"] <= 10 * 60


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_lost_build_is_queued_again_by_the_check(book, queued, checked):
    import_book(book)  # its build queued, and lost

    assert tasks.check_search_indexes() == {"queued": 1, "dropped": 0}
    assert checked == [book.pk]

    search_indexes.build(book.pk)
    checked.clear()
    assert tasks.check_search_indexes() == {"queued": 0, "dropped": 0}
    assert checked == []


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_build_left_invalid_is_queued_again_by_the_check(book, queued, checked):
    import_book(book)
    search_indexes.build(book.pk)
    name = search_indexes.names(book.pk)[1]
    with connection.cursor() as cursor:  # what a worker killed mid-build leaves
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name]
        )

    search_indexes.check()

    assert checked == [book.pk]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_build_under_way_is_not_started_again(book, queued):
    import_book(book)
    other = connections.create_connection("default")  # the worker building it
    key = [search_indexes.LOCK, book.pk]
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
        assert search_indexes.build(book.pk) == []
        assert own_indexes(book) == []
        assert search_indexes.drop(book.pk) is False
        with other.cursor() as cursor:  # it has finished (a closed session's lock may linger)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
    finally:
        other.close()

    assert search_indexes.build(book.pk) == search_indexes.names(book.pk)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_check_reads_the_bulk_loaded_index_not_the_table(book, queued, globex):
    import_book(book)
    grow(globex.workspace, bulk_loaded=False, count=30_000)

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {search_indexes.BULK_LOADED_BOOKS}")
        shown = "\n".join(row[0] for row in cursor.fetchall())

    assert "contact_bulk_loaded" in shown, shown
    assert "Seq Scan" not in shown, shown


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_deleted_workspace_s_indexes_are_dropped_by_the_check(book, queued, checked, globex):
    import_book(book)
    search_indexes.build(book.pk)
    other = globex.workspace
    other.contacts.all().delete()
    import_book(other)
    search_indexes.build(other.pk)
    try:
        book.campaigns.all().delete()  # a campaign's account is protected
        pk = book.pk
        book.delete()
        book.pk = pk  # the indexes are still named by it

        assert search_indexes.check() == {"queued": 0, "dropped": 1}
        assert own_indexes(book) == []
        assert own_indexes(other) == sorted(search_indexes.names(other.pk))
        assert checked == []
    finally:
        with connection.cursor() as cursor:
            for name in search_indexes.names(other.pk):
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
