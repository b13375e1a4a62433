"""/api/v1/: the public API (each view in api.views), its OpenAPI document and docs, and the
API keys page. API views need no session: a key signs each request."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import pages, problems
from api.views import book as b
from api.views import campaigns as c
from api.views import messages as m
from api.views import moves
from api.views import recipients as r


class Id:
    """A row id: 1 to 18 digits, so no id in a URL overflows a database integer."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(Id, "id")


def open_(view):
    """A view of the API: signed by its key, not a session; a refused upload is its to answer
    (core.uploads)."""
    wrapped = login_not_required(view.as_view())
    wrapped.answers_refused_uploads = True
    return wrapped


v1 = "api/v1/"
urlpatterns = [
    path("api-keys/", pages.key_list, name="api_keys"),
    path("api-keys/<id:key_pk>/revoke/", pages.key_revoke, name="api_key_revoke"),
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api_schema"),
    path(
        "api/docs/",
        # The split view serves its script from a URL of its own: the CSP allows no inline one.
        login_not_required(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
        name="api_docs",
    ),
    path(v1 + "problems/<slug:slug>", login_not_required(problems.describe), name="api_problem"),
    path(v1 + "campaigns", open_(c.CampaignList), name="api_campaigns"),
    path(v1 + "campaigns/<id:campaign_pk>", open_(c.CampaignDetail), name="api_campaign"),
    path(v1 + "campaigns/<id:campaign_pk>/clone", open_(c.CampaignClone), name="api_clone"),
    path(v1 + "campaigns/<id:campaign_pk>/launch", open_(moves.CampaignLaunch), name="api_launch"),
    path(v1 + "campaigns/<id:campaign_pk>/pause", open_(moves.CampaignPause), name="api_pause"),
    path(v1 + "campaigns/<id:campaign_pk>/resume", open_(moves.CampaignResume), name="api_resume"),
    path(v1 + "campaigns/<id:campaign_pk>/stop", open_(moves.CampaignStop), name="api_stop"),
    path(v1 + "campaigns/<id:campaign_pk>/retry", open_(moves.CampaignRetry), name="api_retry"),
    path(v1 + "campaigns/<id:campaign_pk>/price", open_(c.CampaignPrice), name="api_price"),
    path(
        v1 + "campaigns/<id:campaign_pk>/counters", open_(c.CampaignCounters), name="api_counters"
    ),
    path(
        v1 + "campaigns/<id:campaign_pk>/counters/history",
        open_(c.CampaignCounterHistory),
        name="api_counter_history",
    ),
    path(
        v1 + "campaigns/<id:campaign_pk>/messages",
        open_(c.CampaignMessages),
        name="api_campaign_messages",
    ),
    path(
        v1 + "campaigns/<id:campaign_pk>/recipients",
        open_(r.CampaignRecipients),
        name="api_recipients",
    ),
    path(
        v1 + "campaigns/<id:campaign_pk>/recipients/upload",
        open_(r.CampaignUpload),
        name="api_upload",
    ),
    path(v1 + "imports/<id:import_pk>", open_(r.ImportDetail), name="api_import"),
    path(
        v1 + "imports/<id:import_pk>/rejections",
        open_(r.ImportRejections),
        name="api_import_rejections",
    ),
    path(v1 + "messages", open_(m.MessageList), name="api_messages"),
    path(v1 + "messages/<id:message_pk>", open_(m.MessageDetail), name="api_message"),
    path(v1 + "accounts", open_(m.AccountList), name="api_accounts"),
    path(v1 + "accounts/<id:account_pk>", open_(m.AccountDetail), name="api_account"),
    path(v1 + "senders", open_(m.SenderList), name="api_senders"),
    path(v1 + "senders/<id:sender_pk>", open_(m.SenderDetail), name="api_sender"),
    path(v1 + "stop-list", open_(b.StopList), name="api_stop_list"),
    path(v1 + "stop-list/remove", open_(b.StopListRemove), name="api_stop_list_remove"),
    path(v1 + "contacts", open_(b.ContactIndex), name="api_contacts"),
    path(v1 + "contacts/<id:contact_pk>", open_(b.ContactDetail), name="api_contact"),
    path(v1 + "lists", open_(b.ListIndex), name="api_lists"),
    path(v1 + "lists/<id:list_pk>", open_(b.ListDetail), name="api_list"),
    path(v1 + "lists/<id:list_pk>/members", open_(b.ListMembersAdd), name="api_list_members"),
    path(
        v1 + "lists/<id:list_pk>/members/remove",
        open_(b.ListMembersRemove),
        name="api_list_members_remove",
    ),
    path(v1 + "segments", open_(b.SegmentIndex), name="api_segments"),
    path(v1 + "segments/<id:segment_pk>", open_(b.SegmentDetail), name="api_segment"),
    path(v1 + "segments/<id:segment_pk>/count", open_(b.SegmentCount), name="api_segment_count"),
    path(v1 + "templates", open_(b.TemplateIndex), name="api_templates"),
    path(v1 + "templates/<id:template_pk>", open_(b.TemplateDetail), name="api_template"),
]
