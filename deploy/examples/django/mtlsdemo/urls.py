from django.urls import path

from . import views

urlpatterns = [
    path("whoami", views.whoami),
    path("transfer", views.transfer),
    path("form", views.transfer_form),
    path("framed", views.framed),
]
