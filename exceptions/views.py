from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from exceptions.reports import scorecard_context


@login_required
def dashboard(request):
    return render(request, "exceptions/dashboard.html", scorecard_context())
