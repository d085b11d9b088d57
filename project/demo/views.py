from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from notifications import notify
from notifications.models import Notification
from project.demo.forms import SendForm


@login_required
def home(request: HttpRequest) -> HttpResponse:
    latest = Notification.objects.for_user(request.user).order_by("-seq")[:20]
    return render(request, "home.html", {"latest": latest})


@login_required
def send(request: HttpRequest) -> HttpResponse:
    form = SendForm(request.POST or None, initial={"recipient": request.user.pk})
    if request.method == "POST" and form.is_valid():
        created = notify(
            form.recipients(),
            "sent a test notification",
            actor=request.user,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            url=form.cleaned_data["url"],
            level=form.cleaned_data["level"],
            category="demo",
        )
        messages.success(request, f"Sent to {len(created)} user(s).")
        return redirect("send")
    return render(request, "send.html", {"form": form})
