from django.db import models


class Article(models.Model):
    title = models.CharField(max_length=100)

    def __str__(self):
        return self.title


class Order(models.Model):
    number = models.CharField(max_length=20, primary_key=True)

    def __str__(self):
        return f"order {self.number}"
