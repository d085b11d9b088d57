from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from notifications import notify
from notifications.models import Notification
from project.demo.forms import CommentForm, PostForm, SendForm, StatusForm
from project.demo.models import Comment, Post


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
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(back)
        return redirect("send")
    return render(request, "send.html", {"form": form})


# Posts with comments, a status and followers: their notifications come from the rules in
# project/demo/notifications.py, not from these views.


@login_required
def post_list(request: HttpRequest) -> HttpResponse:
    form = PostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        post = form.save(commit=False)
        post.author = request.user
        post.save()
        messages.success(request, "Post created.")
        return redirect(post)
    posts = Post.objects.select_related("author").annotate(n_comments=Count("comments"))[:50]
    return render(request, "demo/post_list.html", {"posts": posts, "form": form})


@login_required
def post_detail(request: HttpRequest, pk: int) -> HttpResponse:
    post = get_object_or_404(Post.objects.select_related("author"), pk=pk)
    context = {
        "post": post,
        "comments": post.comments.select_related("author"),
        "following": post.followers.filter(pk=request.user.pk).exists(),
        "followers": post.followers.count(),
        "comment_form": CommentForm(),
        "status_form": StatusForm(initial={"status": post.status}),
    }
    return render(request, "demo/post_detail.html", context)


@login_required
@require_POST
def comment(request: HttpRequest, pk: int) -> HttpResponse:
    post = get_object_or_404(Post, pk=pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        Comment.objects.create(post=post, author=request.user, body=form.cleaned_data["body"])
    else:
        messages.error(request, "A comment needs some text (2000 characters at most).")
    return redirect(post)


@login_required
@require_POST
def follow(request: HttpRequest, pk: int) -> HttpResponse:
    post = get_object_or_404(Post, pk=pk)
    if request.POST.get("follow") == "0":
        post.followers.remove(request.user)
    else:
        post.followers.add(request.user)
    return redirect(post)


@login_required
@require_POST
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    post = get_object_or_404(Post, pk=pk)
    if post.author_id != request.user.pk:
        messages.error(request, "Only the author changes a post's status.")
        return redirect(post)
    form = StatusForm(request.POST)
    if form.is_valid():
        post.status = form.cleaned_data["status"]
        post.save(update_fields=["status"])
    else:
        messages.error(request, "Unknown status.")
    return redirect(post)
