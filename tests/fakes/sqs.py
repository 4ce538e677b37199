"""A fake Amazon SQS queue (AWS JSON 1.0, as botocore speaks it), an httpx handler to serve
with tests.fakes.served on 127.0.0.1.

- Every call must be SigV4-signed: the fake recomputes the signature with botocore from the
  test credentials it knows and refuses a missing, unknown, stale or wrong one with SQS's
  JSON error shape (403, `x-amzn-query-error`, `__type`, `message`).
- Every request is validated against botocore's own SQS service model (its input shape), and
  so is every answer (its output shape).
- ReceiveMessage: up to MaxNumberOfMessages visible messages; each is then hidden for
  VisibilityTimeout seconds (the queue's 30 by default) and comes back unless deleted. With
  WaitTimeSeconds it waits for a message (long polling), at most `wait_cap` real seconds.
- A message is deleted only by the receipt handle of its latest receipt; an older handle is
  accepted and deletes nothing, as SQS documents.
- `fail[operation]` answers that operation with the statuses listed first (a 500 after the
  signature is checked), doing nothing.
- Time moves with `advance(seconds)` (the queue's own clock), so visibility runs out at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import get_session
from botocore.validate import ParamValidator

ACCESS_KEY = "AKIAIMSTESTQUEUE0001"
SECRET_KEY = "imsTestSecretKey/queue+0001wJalrXUtnFEMI"
REGION = "us-east-1"
ACCOUNT = "123456789012"
QUEUE = "ims-amazon-notifications"

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>[0-9]{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<headers>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_SKEW = dt.timedelta(minutes=5)


@dataclass
class Message:
    message_id: str
    body: str
    visible_at: float = 0.0
    receipts: list[str] = field(default_factory=list)
    deleted: bool = False


class SqsError(Exception):
    def __init__(self, status: int, code: str, query_code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.query_code, self.message = status, code, query_code, message


class FakeSqs:
    def __init__(
        self,
        *,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        region: str = REGION,
        visibility_timeout: int = 30,
        wait_cap: float = 0.2,
    ):
        self.credentials = {access_key: secret_key}
        self.region = region
        self.visibility_timeout = visibility_timeout
        self.wait_cap = wait_cap
        self.base_url = ""  # set once served: the queue URL is base_url/ACCOUNT/QUEUE
        self.messages: dict[str, Message] = {}
        self.offset = 0.0
        self.calls: list[str] = []  # operations, in order
        self.requests: list[tuple[str, dict]] = []  # (operation, its parameters), in order
        self.fail: dict[str, list[int]] = {}  # operation → statuses to answer it with first
        self.refused: list[str] = []  # why each refused call was refused
        self.log: list[str] = []  # "deleted <message id>", shared with a test's own events
        self.faults: list[int] = []  # statuses answered before any check, to the next calls
        self.model = get_session().get_service_model("sqs")
        self.changed = threading.Condition()
        self._ids = itertools.count(1)

    # -- the queue ---------------------------------------------------------------------
    @property
    def queue_url(self) -> str:
        return f"{self.base_url}/{ACCOUNT}/{QUEUE}"

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        with self.changed:
            self.offset += seconds
            self.changed.notify_all()

    def send(self, body: str | bytes | dict) -> str:
        """Put a message on the queue (what SP-API does); returns its MessageId."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, bytes):
            body = body.decode()
        message = Message(message_id=str(uuid.uuid4()), body=body)
        with self.changed:
            self.messages[message.message_id] = message
            self.changed.notify_all()
        return message.message_id

    def waiting(self) -> list[Message]:
        """Messages not deleted (visible or not)."""
        return [m for m in self.messages.values() if not m.deleted]

    # -- HTTP --------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            if self.faults:
                status = self.faults.pop(0)
                raise SqsError(status, "InternalFailure", "InternalFailure;Receiver", "fault")
            if request.method != "POST" or request.url.path != "/":
                raise SqsError(404, "UnknownOperationException", "InvalidAction;Sender", "no route")
            if request.headers.get("content-type") != "application/x-amz-json-1.0":
                raise SqsError(
                    400, "SerializationException", "InvalidParameterValue;Sender", "content type"
                )
            self._verify(request)
            target = request.headers.get("x-amz-target", "")
            prefix, _, operation = target.partition(".")
            if prefix != "AmazonSQS" or operation not in self.model.operation_names:
                raise SqsError(
                    400, "UnknownOperationException", "InvalidAction;Sender", f"{target}?"
                )
            params = json.loads(request.content)
            op = self.model.operation_model(operation)
            report = ParamValidator().validate(params, op.input_shape)
            if report.has_errors():
                raise SqsError(
                    400, "InvalidParameterValue", "InvalidParameterValue;Sender",
                    report.generate_report(),
                )  # fmt: skip
            if params["QueueUrl"] != self.queue_url:
                raise SqsError(
                    400,
                    "com.amazonaws.sqs#QueueDoesNotExist",
                    "AWS.SimpleQueueService.NonExistentQueue;Sender",
                    "The specified queue does not exist.",
                )
            self.calls.append(operation)
            self.requests.append((operation, params))
            if self.fail.get(operation):
                status = self.fail[operation].pop(0)
                raise SqsError(status, "InternalError", "InternalError;Receiver", "fault")
            answer = getattr(self, "_" + operation)(params)
            report = ParamValidator().validate(answer, op.output_shape)
            assert not report.has_errors(), f"the fake's {operation} answer: {report}"
            return httpx.Response(
                200,
                content=json.dumps(answer).encode(),
                headers={
                    "Content-Type": "application/x-amz-json-1.0",
                    "x-amzn-RequestId": str(uuid.uuid4()),
                },
            )
        except SqsError as exc:
            if exc.status == 403:
                self.refused.append(exc.message)
            code = exc.code if "#" in exc.code else f"com.amazon.coral.service#{exc.code}"
            return httpx.Response(
                exc.status,
                content=json.dumps({"__type": code, "message": exc.message}).encode(),
                headers={
                    "Content-Type": "application/x-amz-json-1.0",
                    "x-amzn-RequestId": str(uuid.uuid4()),
                    "x-amzn-query-error": exc.query_code,
                },
            )

    def _verify(self, request: httpx.Request) -> None:
        """Recompute the SigV4 signature with botocore, from the credentials the fake knows."""
        given = request.headers.get("authorization", "")
        if not given:
            raise SqsError(
                403,
                "MissingAuthenticationTokenException",
                "MissingAuthenticationToken;Sender",
                "Request is missing Authentication Token",
            )
        parts = _AUTH.fullmatch(given)
        amz_date = request.headers.get("x-amz-date", "")
        if parts is None or not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z", amz_date):
            raise SqsError(
                400,
                "IncompleteSignatureException",
                "IncompleteSignature;Sender",
                "The request signature does not conform to AWS standards.",
            )
        secret = self.credentials.get(parts["key"])
        if secret is None:
            raise SqsError(
                403,
                "UnrecognizedClientException",
                "InvalidClientTokenId;Sender",
                "The security token included in the request is invalid.",
            )
        signed = parts["headers"].split(";")
        if (
            parts["date"] != amz_date[:8]
            or parts["region"] != self.region
            or parts["service"] != "sqs"
            or "host" not in signed
            or "x-amz-date" not in signed
            or any(name not in request.headers for name in signed)
        ):
            raise SqsError(
                403,
                "InvalidSignatureException",
                "SignatureDoesNotMatch;Sender",
                "Credential should be scoped to a valid region and service, and sign host "
                "and x-amz-date.",
            )
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        if abs(dt.datetime.now(dt.UTC) - when) > MAX_SKEW:
            raise SqsError(
                403,
                "InvalidSignatureException",
                "SignatureDoesNotMatch;Sender",
                f"Signature expired: {amz_date} is now earlier or later than the 5 minutes "
                "allowed.",
            )
        again = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={name: request.headers[name] for name in signed},
        )
        again.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(parts["key"], secret), "sqs", self.region)
        canonical = signer.canonical_request(again)
        expected = signer.signature(signer.string_to_sign(again, canonical), again)
        if not hmac.compare_digest(expected, parts["signature"]):
            raise SqsError(
                403,
                "InvalidSignatureException",
                "SignatureDoesNotMatch;Sender",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method.",
            )

    # -- operations --------------------------------------------------------------------
    def _ReceiveMessage(self, params: dict) -> dict:
        wanted = params.get("MaxNumberOfMessages", 1)
        if not 1 <= wanted <= 10:
            raise SqsError(
                400,
                "InvalidParameterValue",
                "InvalidParameterValue;Sender",
                f"Value {wanted} for parameter MaxNumberOfMessages is invalid. Reason: must "
                "be between 1 and 10, if provided.",
            )
        hidden_for = params.get("VisibilityTimeout", self.visibility_timeout)
        wait = min(params.get("WaitTimeSeconds", 0), 20)
        deadline = time.monotonic() + min(wait, self.wait_cap)
        with self.changed:
            while True:
                now = self.now()
                visible = [
                    m for m in self.messages.values() if not m.deleted and m.visible_at <= now
                ][:wanted]
                left = deadline - time.monotonic()
                if visible or left <= 0:
                    break
                self.changed.wait(left)
            answer = []
            for message in visible:
                message.visible_at = now + hidden_for
                handle = f"{message.message_id}#{next(self._ids)}"
                message.receipts.append(handle)
                answer.append(
                    {
                        "MessageId": message.message_id,
                        "ReceiptHandle": handle,
                        "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
                        "Body": message.body,
                        "Attributes": {"ApproximateReceiveCount": str(len(message.receipts))},
                    }
                )
        return {"Messages": answer} if answer else {}

    def _delete(self, handle: str) -> None:
        message = self.messages.get(handle.partition("#")[0])
        if message is None or handle not in message.receipts:
            raise SqsError(
                400,
                "com.amazonaws.sqs#ReceiptHandleIsInvalid",
                "ReceiptHandleIsInvalid;Sender",
                f'The input receipt handle "{handle}" is not a valid receipt handle.',
            )
        if handle == message.receipts[-1] and not message.deleted:
            message.deleted = True
            self.log.append(f"deleted {message.message_id}")

    def _DeleteMessage(self, params: dict) -> dict:
        with self.changed:
            self._delete(params["ReceiptHandle"])
        return {}

    def _DeleteMessageBatch(self, params: dict) -> dict:
        entries = params["Entries"]
        if not entries or len(entries) > 10:
            raise SqsError(
                400,
                "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest;Sender",
                "Maximum number of entries per request are 10.",
            )
        ok, failed = [], []
        with self.changed:
            for entry in entries:
                try:
                    self._delete(entry["ReceiptHandle"])
                    ok.append({"Id": entry["Id"]})
                except SqsError as exc:
                    failed.append(
                        {
                            "Id": entry["Id"],
                            "SenderFault": True,
                            "Code": "ReceiptHandleIsInvalid",
                            "Message": exc.message,
                        }
                    )
        return {"Successful": ok, "Failed": failed}
