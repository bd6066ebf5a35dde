"""Every page is for staff: anonymous visitors sign in, signed-in non-staff get 403.
A sign-in refused for too many failures gets the sign-in page saying so."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import AccessMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class StaffRequiredMixin(AccessMixin):
    raise_exception = False

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_staff:
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)


def sign_in_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """django-axes' answer to a refused sign-in (``AXES_LOCKOUT_CALLABLE``):
    the sign-in page again, saying for how long, as 429 Too Many Requests."""
    username = get_client_username(request, credentials) or ""
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "lockout_minutes": math.ceil(get_cool_off(request).total_seconds() / 60),
    }
    return render(request, "registration/login.html", context, status=429)
