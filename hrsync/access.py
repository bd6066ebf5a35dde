"""Every page is for staff: anonymous visitors sign in, signed-in non-staff get 403."""

from __future__ import annotations

from django.contrib.auth.mixins import AccessMixin
from django.http import HttpRequest, HttpResponse


class StaffRequiredMixin(AccessMixin):
    raise_exception = False

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_staff:
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)
