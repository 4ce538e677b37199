"""/channels/publish/?sku=…: publish products to channels — for the chosen SKUs, what each
channel would do (ready, listed already, left out and why, the channel's mode) with a button per
channel, and what was published lately (status, the channel's id, the refusal, the writes sent
or, in a dry run, that would be sent). The product page, the assortment page and the
Missing_SKU triage rows lead here or post straight to `publish_post`; channels.publish
decides."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from channels.models import Channel, ListingPublication, PublicationStatus
from channels.publish import MOST, listing_drafts, listing_publish, publish_allowed
from ims.errors import ApplicationError
from ims.views import redirect_back

# The SKUs one page shows (a bulk publish of more goes through the API or the command).
PAGE_SKUS = 100


def chosen_skus(values: list[str]) -> list[str]:
    """SKUs from repeated fields and comma- or space-separated lists, in order, once each."""
    found = []
    for value in values:
        found.extend(s for s in value.replace(",", " ").split() if s)
    return list(dict.fromkeys(found))


@login_required
@permission_required("channels.view_channel", raise_exception=True)
@require_GET
def publish_page(request: HttpRequest) -> HttpResponse:
    skus = chosen_skus(request.GET.getlist("sku"))
    too_many = len(skus) > PAGE_SKUS
    skus = skus[:PAGE_SKUS]
    rows = []
    if skus:
        for channel in Channel.objects.order_by("code"):
            drafts, skipped = listing_drafts(channel=channel, skus=skus)
            rows.append(
                {
                    "channel": channel,
                    "ready": [d.sku for _, d in drafts],
                    "drafts": [d for _, d in drafts],
                    "skipped": skipped,
                    "blocked": publish_allowed(channel),
                }
            )
    publications = (
        ListingPublication.objects.filter(product__sku__in=skus)
        .select_related("channel", "product", "actor")
        .order_by("-created_at", "-pk")[:50]
        if skus
        else []
    )
    return render(
        request,
        "channels/publish.html",
        {
            "skus": skus,
            "sku_text": " ".join(skus),
            "too_many": too_many,
            "page_skus": PAGE_SKUS,
            "rows": rows,
            "publications": publications,
            "can_publish": request.user.has_perm("channels.publish_listing"),
            "here": request.get_full_path(),
        },
    )


@login_required
@permission_required("channels.publish_listing", raise_exception=True)
@require_POST
def publish_post(request: HttpRequest, code: str) -> HttpResponse:
    """Publish the posted SKUs to the channel; the messages say what became of each."""
    channel = get_object_or_404(Channel, code=code)
    skus = chosen_skus(request.POST.getlist("sku"))
    fallback = reverse("channels:publish") + "?" + "&".join(f"sku={s}" for s in skus[:MOST])
    try:
        outcome = listing_publish(channel=channel, skus=skus, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        response = redirect_back(request, fallback)
        if exc.http_status == 403:
            response.status_code = 403
        return response
    publication_messages(request, outcome)
    return redirect_back(request, fallback)


def publication_messages(request: HttpRequest, outcome) -> None:
    """The outcome's sentence, then each SKU that was refused, unmatched or left out, with why."""
    troubled = [
        p
        for p in outcome.publications
        if p.status in (PublicationStatus.UNMATCHED, PublicationStatus.FAILED)
    ]
    if troubled or (not outcome.publications and outcome.skipped):
        messages.warning(request, outcome.summary)
    else:
        messages.success(request, outcome.summary)
    for publication in troubled:
        messages.error(request, f"{publication.product.sku}: {publication.error}")
    for skipped in outcome.skipped:
        messages.info(request, f"{skipped.sku}: not published: {skipped.reason}")
