"""Catalog pages: search products, see one (stock, listings, prices), create and edit."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from catalog.filters import ProductFilter
from catalog.forms import ProductEditForm, ProductForm
from catalog.models import Category, Product, ProductStatus
from catalog.selectors import product_actions, product_detail, product_search
from catalog.services.products import EDITABLE_FIELDS, product_create, product_update
from ims.errors import ApplicationError
from ims.filters import filter_problems
from ims.views import form_errors_from, query_without


@login_required
@permission_required("catalog.view_product", raise_exception=True)
def product_list(request):
    searched = ("q", "category", "status")  # as given, shown back in the form
    filters = ProductFilter(request.GET).form
    problems = [] if filters.is_valid() else filter_problems(filters)
    found = (
        Product.objects.none()
        if problems
        else product_search(**{k: filters.cleaned_data[k] or "" for k in searched})
    )
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        **{k: request.GET.get(k, "") for k in searched},
        "query": query_without(request, "page"),
        "categories": Category.objects.exclude(name=Category.DEFAULT).order_by("name"),
        "statuses": ProductStatus.choices,
        "can_create": request.user.has_perm("catalog.add_product"),
        "problems": problems,
    }
    if request.htmx and request.htmx.target == "products":
        return render(request, "products/list.html#products", context)
    return render(request, "products/list.html", context, status=400 if problems else 200)


@login_required
@permission_required("catalog.view_product", raise_exception=True)
def product_view(request, sku: str):
    product = get_object_or_404(Product.objects.select_related("category", "style"), sku=sku)
    return render(
        request,
        "products/detail.html",
        {
            "detail": product_detail(product=product),
            "can_edit": request.user.has_perm("catalog.change_product"),
            "actions": product_actions(product=product, user=request.user),
        },
    )


@login_required
@permission_required("catalog.add_product", raise_exception=True)
def product_new(request):
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            product = product_create(
                sku=data["sku"].strip(),
                name=data["name"],
                barcode=data["barcode"],
                category=data["category"],
                uom=data["uom"],
                cost=data["cost"],
                mrp=data["mrp"],
                price=data["price"],
                currency=data["currency"],
                status=data["status"],
                style=form.style_object(),
                attributes=data["attributes"],
                actor=request.user,
            )
        except ApplicationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Product {product.sku} created.")
            return redirect("products:detail", sku=product.sku)
    return render(request, "products/form.html", {"form": form, "creating": True})


@login_required
@permission_required("catalog.change_product", raise_exception=True)
def product_edit(request, sku: str):
    product = get_object_or_404(Product, sku=sku)
    initial = {
        name: getattr(product, name)
        for name in EDITABLE_FIELDS
        if name not in ("style", "attributes")
    }
    initial["style"] = product.style.code if product.style_id else ""
    initial["attributes"] = ";".join(f"{k}={v}" for k, v in product.attributes.items())
    form = ProductEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {name: data[name] for name in EDITABLE_FIELDS if name in data and name != "style"}
        changes["style"] = form.style_object()
        try:
            product_update(product=product, actor=request.user, **changes)
        except ApplicationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Product {product.sku} saved.")
            return redirect("products:detail", sku=product.sku)
    return render(
        request, "products/form.html", {"form": form, "product": product, "creating": False}
    )
