from django.contrib.auth import views as auth_views
from django.urls import include, path
from shop import views

import notifications.urls

urlpatterns = [
    path("inbox/notifications/", include(notifications.urls, namespace="notifications")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("inbox/", views.inbox, name="inbox"),
]
