"""A local fake of the WhatsApp Business Cloud API `messages` endpoint, on 127.0.0.1.

Built from Meta's documented request and response shapes: it checks what a real call must
carry (the Bearer token, `messaging_product`, `to`, `type: template`, a template that exists
in the business account with its language, the right number of body parameters) and answers
as the Cloud API does — `{"messaging_product", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid…", "message_status"}]}` — or with its error envelope
`{"error": {"message", "type", "code", "error_data": {"messaging_product", "details"},
"fbtrace_id"}}`: 401/190 for a bad token, 400/132001 for an unknown template, 400/132000 for
a parameter count mismatch, 400/132015 for a paused template, 400/131026 for a number that
is not on WhatsApp, and scripted 429/130429 (with Retry-After) or 5xx answers.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-test-token"


@dataclass
class Template:
    name: str
    language: str
    body_params: int
    status: str = "APPROVED"
    url_button: bool = False


@dataclass
class FakeCloudApi:
    templates: dict[tuple[str, str], Template] = field(default_factory=dict)
    not_on_whatsapp: set[str] = field(default_factory=set)
    # Scripted answers for the next requests: (status, headers, error code) — None = normal.
    script: list[tuple[int, dict, int]] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    url: str = ""
    # Called with each message it accepts (the demo prints it: the console is the phone).
    on_message: Callable[[dict], None] | None = None

    def add_template(
        self, name, *, language="en_US", body_params=0, status="APPROVED", url_button=False
    ):
        self.templates[(name, language)] = Template(name, language, body_params, status, url_button)

    def answer_next(self, status: int, *, retry_after: str | None = None, code: int = 0, times=1):
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.script.extend([(status, headers, code)] * times)

    @property
    def sent(self) -> list[dict]:
        """The bodies of the requests it accepted."""
        return [r["body"] for r in self.requests if r["status"] == 200]

    def handle(self, path: str, headers, raw: bytes) -> tuple[int, dict, dict]:
        if path != f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
            return 404, {}, _error(100, "Unsupported post request.", "GraphMethodException")
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, _error(190, "Invalid OAuth access token - Cannot parse access token")
        if self.script:
            status, extra, code = self.script.pop(0)
            if status == 429:
                return (
                    status,
                    extra,
                    _error(code or 130429, "(#130429) Rate limit hit", "OAuthException"),
                )
            return status, extra, _error(code or 1, "An unknown error occurred", "OAuthException")
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {}, _error(100, "Invalid parameter", details="body is not JSON")
        problems = _shape_problems(body)
        if problems:
            return 400, {}, _error(100, "(#100) Invalid parameter", details="; ".join(problems))
        template = body["template"]
        found = self.templates.get((template["name"], template["language"]["code"]))
        if found is None:
            return (
                400,
                {},
                _error(
                    132001,
                    "(#132001) Template name does not exist in the translation",
                    details=f"template name ({template['name']}) does not exist in {template['language']['code']}",
                ),
            )
        if found.status == "PAUSED":
            return (
                400,
                {},
                _error(132015, "(#132015) Template is Paused", details="template paused"),
            )
        given = [c for c in template.get("components", []) if c.get("type") == "body"]
        count = len(given[0]["parameters"]) if given else 0
        if count != found.body_params:
            return (
                400,
                {},
                _error(
                    132000,
                    "(#132000) Number of parameters does not match the expected number of params",
                    details=f"body: number of localizable_params ({count}) does not match the expected number of params ({found.body_params})",
                ),
            )
        digits = body["to"].lstrip("+")
        if digits in self.not_on_whatsapp:
            return (
                400,
                {},
                _error(
                    131026,
                    "(#131026) Message undeliverable",
                    details="receiver is incapable of receiving this message",
                ),
            )
        if self.on_message is not None:
            self.on_message(body)
        return (
            200,
            {},
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": digits}],
                "messages": [
                    {"id": f"wamid.{secrets.token_urlsafe(24)}", "message_status": "accepted"}
                ],
            },
        )


def _shape_problems(body) -> list[str]:
    problems = []
    if not isinstance(body, dict):
        return ["body must be an object"]
    if body.get("messaging_product") != "whatsapp":
        problems.append("messaging_product must be whatsapp")
    if not re.fullmatch(r"\+?[1-9]\d{6,14}", str(body.get("to", ""))):
        problems.append("to must be a phone number with its country code")
    if body.get("type") != "template":
        problems.append("type must be template (outside the customer service window)")
    template = body.get("template")
    if not isinstance(template, dict) or not template.get("name"):
        problems.append("template.name is required")
    elif not isinstance(template.get("language"), dict) or not template["language"].get("code"):
        problems.append("template.language.code is required")
    else:
        for component in template.get("components", []):
            if component.get("type") not in ("header", "body", "button"):
                problems.append(f"unknown component type {component.get('type')}")
            for parameter in component.get("parameters", []):
                if parameter.get("type") == "text" and not str(parameter.get("text", "")).strip():
                    problems.append("a text parameter is empty")
            if component.get("type") == "button" and (
                component.get("sub_type") not in ("url", "quick_reply", "copy_code")
                or "index" not in component
            ):
                problems.append("a button component needs sub_type and index")
    return problems


def _error(code: int, message: str, type_: str = "OAuthException", details: str = "") -> dict:
    error = {"message": message, "type": type_, "code": code, "fbtrace_id": secrets.token_hex(8)}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


def serve(api: FakeCloudApi, port: int = 0):
    """Start the fake on a loopback port (`port`, or a free one); returns (server, thread)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = api.handle(self.path, self.headers, raw)
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            api.requests.append({"path": self.path, "status": status, "body": parsed})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_port}/{VERSION}"
    return server, thread
