from django.urls import path

from project.demo import views

app_name = "demo"

urlpatterns = [
    path("posts/", views.post_list, name="posts"),
    path("posts/<int:pk>/", views.post_detail, name="post"),
    path("posts/<int:pk>/comment/", views.comment, name="comment"),
    path("posts/<int:pk>/follow/", views.follow, name="follow"),
    path("posts/<int:pk>/status/", views.change_status, name="status"),
]
