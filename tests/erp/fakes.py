"""Local fakes of each ERP's API (httpx.MockTransport), answering in the payload shapes the
vendors document: NetSuite SuiteQL, Odoo JSON-2, SAP Business One Service Layer, Fishbowl
Advanced REST. Each checks the caller's authentication the way the vendor does and records
the requests it saw."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from urllib.parse import parse_qsl, quote, urlsplit

import httpx


def _pct(text: str) -> str:
    return quote(text, safe="-._~")


class Fake:
    def __init__(self):
        self.requests: list[httpx.Request] = []

    @property
    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.handle(request)

        return httpx.MockTransport(handle)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


# ---------------------------------------------------------------------------
# NetSuite: SuiteQL, OAuth 1.0 HMAC-SHA256 (checked here from RFC 5849, not with oauthlib)


class NetSuite(Fake):
    CAP = 100_000

    def __init__(self, *, items, stock, prices, secrets):
        super().__init__()
        self.tables = {"item": items, "inventoryitemlocations": stock, "pricing": prices}
        self.secrets = secrets  # consumer_key, consumer_secret, token_id, token_secret
        self.queries: list[str] = []

    def signature_ok(self, request: httpx.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        params = dict(re.findall(r'(\w+)="([^"]*)"', header))
        sent = _unquote(params.pop("oauth_signature", ""))
        realm = params.pop("realm", None)
        if (
            params.get("oauth_signature_method") != "HMAC-SHA256"
            or params.get("oauth_consumer_key") != self.secrets["consumer_key"]
            or params.get("oauth_token") != self.secrets["token_id"]
            or realm != "1234567_SB1"
        ):
            return False
        url = urlsplit(str(request.url))
        pairs = [(_unquote(k), _unquote(v)) for k, v in params.items()]
        pairs += parse_qsl(url.query, keep_blank_values=True)
        normalized = "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(pairs))
        base = "&".join(
            [request.method, _pct(f"{url.scheme}://{url.netloc}{url.path}"), _pct(normalized)]
        )
        key = f"{_pct(self.secrets['consumer_secret'])}&{_pct(self.secrets['token_secret'])}"
        expected = base64.b64encode(
            hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
        ).decode()
        return hmac.compare_digest(expected, sent)

    def handle(self, request):
        if request.url.path != "/services/rest/query/v1/suiteql" or request.method != "POST":
            return httpx.Response(404, json={"title": "Not Found"})
        if not self.signature_ok(request):
            return httpx.Response(
                401,
                json={
                    "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
                    "title": "Unauthorized",
                    "status": 401,
                    "o:errorDetails": [
                        {"detail": "Invalid login attempt.", "o:errorCode": "INVALID_LOGIN"}
                    ],
                },
            )
        if request.headers.get("Prefer") != "transient":
            return httpx.Response(400, json={"title": "Prefer: transient is required"})
        query = json.loads(request.content)["q"]
        self.queries.append(query)
        limit = int(request.url.params["limit"])
        offset = int(request.url.params["offset"])
        if limit > 1000 or offset + limit > self.CAP:
            return httpx.Response(
                400,
                json={
                    "title": "Bad Request",
                    "o:errorDetails": [{"detail": "The maximum number of results is exceeded."}],
                },
            )
        table = next(name for name in self.tables if f"FROM {name}" in query)
        bound = int(re.search(r"(?:item|id) >=? (\d+)", query).group(1))
        strict = re.search(r"(?:item|id) > \d+", query) is not None
        keyname = "id" if table == "item" else "item"
        rows = [
            r for r in self.tables[table] if (r[keyname] > bound if strict else r[keyname] >= bound)
        ]
        page = rows[offset : offset + limit]
        has_more = offset + limit < len(rows)
        return httpx.Response(
            200,
            json={
                "links": [{"rel": "self", "href": str(request.url)}],
                "count": len(page),
                "hasMore": has_more,
                "items": [{"links": [], **{k: _ns(v) for k, v in r.items()}} for r in page],
                "offset": offset,
                "totalResults": len(rows),
            },
        )


def _ns(value):
    """SuiteQL answers every value as a string."""
    return value if value is None else str(value)


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


# ---------------------------------------------------------------------------
# Odoo: JSON-2


class Odoo(Fake):
    def __init__(self, *, products, quants, api_key="odoo-key", database="retail"):
        super().__init__()
        self.models = {"product.product": products, "stock.quant": quants}
        self.api_key, self.database = api_key, database

    def handle(self, request):
        match = re.fullmatch(r"/json/2/([\w.]+)/(\w+)", request.url.path)
        if not match:
            return httpx.Response(404)
        if request.headers.get("Authorization") != f"bearer {self.api_key}":
            return httpx.Response(
                401,
                json={
                    "name": "werkzeug.exceptions.Unauthorized",
                    "message": "Invalid apikey",
                    "arguments": ["Invalid apikey", 401],
                    "context": {},
                    "debug": "",
                },
            )
        if request.headers.get("X-Odoo-Database") != self.database:
            return httpx.Response(404, json={"message": "database not found"})
        model, method = match.groups()
        body = json.loads(request.content)
        if method != "search_read" or model not in self.models:
            return httpx.Response(422, json={"message": f"unknown {model}.{method}"})
        records = self.models[model]
        offset, limit = body.get("offset", 0), body.get("limit")
        page = records[offset : offset + limit if limit else None]
        fields = body.get("fields") or []
        return httpx.Response(
            200, json=[{k: r.get(k, False) for k in ["id", *fields]} for r in page]
        )


# ---------------------------------------------------------------------------
# SAP Business One: Service Layer


class SapB1(Fake):
    def __init__(self, *, items, page_size=2, user="manager", password="1234", company="SBODEMOUS"):
        super().__init__()
        self.items, self.page_size = items, page_size
        self.user, self.password, self.company = user, password, company
        self.sessions: set[str] = set()
        self.documents: list[tuple[str, dict]] = []
        self.expire_after_login = False

    def handle(self, request):
        path = request.url.path.removeprefix("/b1s/v1/")
        if path == "Login" and request.method == "POST":
            body = json.loads(request.content)
            if (body.get("UserName"), body.get("Password"), body.get("CompanyDB")) != (
                self.user,
                self.password,
                self.company,
            ):
                return httpx.Response(
                    401, json={"error": {"code": "100000027", "message": "Login failed"}}
                )
            session = f"s{len(self.sessions) + 1}"
            self.sessions.add(session)
            return httpx.Response(
                200,
                json={
                    "odata.metadata": "https://sap:50000/b1s/v1/$metadata#B1Sessions/@Element",
                    "SessionId": session,
                    "Version": "1000191",
                    "SessionTimeout": 30,
                },
                headers=[
                    ("Set-Cookie", f"B1SESSION={session}; path=/b1s; HttpOnly"),
                    ("Set-Cookie", "ROUTEID=.node1; path=/b1s"),
                ],
            )
        session = request.headers.get("Cookie", "")
        current = re.search(r"B1SESSION=(\w+)", session)
        if not current or current.group(1) not in self.sessions or "ROUTEID=.node1" not in session:
            return httpx.Response(
                401,
                json={
                    "error": {
                        "code": "301",
                        "message": "Invalid session or session already timeout.",
                    }
                },
            )
        if self.expire_after_login:
            self.expire_after_login = False
            self.sessions.discard(current.group(1))
            return httpx.Response(
                401,
                json={
                    "error": {
                        "code": "301",
                        "message": "Invalid session or session already timeout.",
                    }
                },
            )
        if path == "Logout":
            self.sessions.discard(current.group(1))
            return httpx.Response(204)
        if path == "Items" and request.method == "GET":
            size = int(
                re.search(r"odata.maxpagesize=(\d+)", request.headers.get("Prefer", "")).group(1)
            )
            size = min(size, self.page_size)
            skip = int(request.url.params.get("$skip", 0))
            page = self.items[skip : skip + size]
            body = {"odata.metadata": "https://sap:50000/b1s/v1/$metadata#Items", "value": page}
            if skip + size < len(self.items):
                select = request.url.params.get("$select", "")
                body["odata.nextLink"] = (
                    f"Items?$select={select}&$orderby=ItemCode&$skip={skip + size}"
                )
            return httpx.Response(200, json=body)
        if path in ("InventoryGenEntries", "InventoryGenExits") and request.method == "POST":
            document = json.loads(request.content)
            self.documents.append((path, document))
            return httpx.Response(201, json={"DocEntry": len(self.documents), **document})
        return httpx.Response(404, json={"error": {"code": "-1", "message": "Resource not found"}})


# ---------------------------------------------------------------------------
# Fishbowl Advanced: REST


class Fishbowl(Fake):
    def __init__(self, *, parts, inventory, page_size=2):
        super().__init__()
        self.parts, self.inventory, self.page_size = parts, inventory, page_size
        self.token = "7dd6bcf7-5e92-4c25-86c9-54af4a831d54"
        self.logged_in = False

    def page(self, request, rows):
        number = int(request.url.params.get("pageNumber", 1))
        size = min(int(request.url.params.get("pageSize", 100)), self.page_size)
        total_pages = max(1, -(-len(rows) // size))
        return httpx.Response(
            200,
            json={
                "totalCount": len(rows),
                "totalPages": total_pages,
                "pageNumber": number,
                "pageSize": size,
                "results": rows[(number - 1) * size : number * size],
            },
        )

    def handle(self, request):
        path = request.url.path
        if path == "/api/login" and request.method == "POST":
            body = json.loads(request.content)
            if body.get("username") != "admin" or body.get("password") != "fb-pass":
                return httpx.Response(401, json={"message": "Invalid username or password"})
            assert {"appName", "appDescription", "appId"} <= body.keys()
            self.logged_in = True
            return httpx.Response(
                200, json={"token": self.token, "user": {"id": 5, "userFullName": "Admin"}}
            )
        if request.headers.get("Authorization") != f"Bearer {self.token}" or not self.logged_in:
            return httpx.Response(401, json={"message": "Unauthorized"})
        if path == "/api/logout":
            self.logged_in = False
            return httpx.Response(204)
        if path == "/api/parts":
            return self.page(request, self.parts)
        if path == "/api/parts/inventory":
            group = int(request.url.params["locationGroupId"])
            return self.page(request, self.inventory.get(group, []))
        return httpx.Response(404)
