from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from project.demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("send/", views.send, name="send"),
    path("demo/", include("project.demo.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("notifications/", include("notifications.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages that link no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("demo/favicon.svg"), permanent=True)),
]
