"""The SQS queue client (AWS JSON 1.0, SigV4 by botocore, sent through the one HTTP client)
against the fake SQS, which botocore's own SQS client is first shown to accept."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from botocore.exceptions import ClientError
from botocore.session import get_session

from channels.adapters.sqs import SqsQueue, region_of
from channels.errors import ChannelNotConfigured, ProviderRefused
from tests.fakes.served import served
from tests.fakes.sqs import ACCESS_KEY, REGION, SECRET_KEY, FakeSqs


@pytest.fixture
def fake():
    fake = FakeSqs()
    with served(fake.handle) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def queue(fake, config, clock):
    made = []

    def make(**settings):
        values = {
            "sqs_queue_url": fake.queue_url,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "aws_region": REGION,
            "sqs_wait_seconds": "5",
            **settings,
        }
        made.append(SqsQueue(config("amazon", **values), sleep=clock.sleep))
        return made[-1]

    yield make
    for q in made:
        q.close()


def test_the_fake_speaks_sqs_as_botocores_own_client_does(fake):
    """botocore's SQS client (its JSON protocol, its signer, its error parser) works against
    the fake, and a wrong secret is refused as SQS refuses it."""
    client = get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=fake.base_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    fake.send("hello")
    [message] = client.receive_message(QueueUrl=fake.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert message["Body"] == "hello"
    assert message["MD5OfBody"] == hashlib.md5(b"hello").hexdigest()
    deleted = client.delete_message_batch(
        QueueUrl=fake.queue_url, Entries=[{"Id": "0", "ReceiptHandle": message["ReceiptHandle"]}]
    )
    assert deleted["Successful"] == [{"Id": "0"}] and fake.waiting() == []
    wrong = get_session().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=fake.base_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="wrong",
    )
    with pytest.raises(ClientError) as refused:
        wrong.receive_message(QueueUrl=fake.queue_url)
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(client.exceptions.QueueDoesNotExist):
        client.receive_message(QueueUrl=fake.queue_url + "-other")


def test_receive_and_delete_go_as_aws_json_signed_by_sigv4(fake, queue):
    seen = []
    q = queue()
    q.client.http.event_hooks["request"] = [seen.append]  # each request as sent, signed
    fake.send(json.dumps({"n": 1}))
    fake.send("é")
    messages = q.receive()
    assert [m.body for m in messages] == [b'{"n": 1}', "é".encode()]
    assert all(m.intact and m.receive_count == 1 for m in messages)
    assert q.delete(messages) == [] and fake.waiting() == []
    receive, delete = seen[0], seen[1]
    assert receive.url.path == "/" and receive.method == "POST"
    assert receive.headers["x-amz-target"] == "AmazonSQS.ReceiveMessage"
    assert receive.headers["content-type"] == "application/x-amz-json-1.0"
    assert delete.headers["x-amz-target"] == "AmazonSQS.DeleteMessageBatch"
    authorization = receive.headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert f"/{REGION}/sqs/aws4_request" in authorization
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in authorization
    assert json.loads(receive.content) == {
        "QueueUrl": fake.queue_url,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 5,
        "VisibilityTimeout": 120,
        "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
    }
    assert fake.refused == []


def test_a_retry_is_signed_again_and_a_throttled_call_is_retried(fake, queue, clock):
    q = queue()
    fake.send("x")
    fake.fail["ReceiveMessage"] = [500]
    [message] = q.receive()
    assert fake.calls == ["ReceiveMessage", "ReceiveMessage"] and fake.refused == []
    throttled = httpx.Response(
        400,
        json={"__type": "com.amazonaws.sqs#RequestThrottled", "message": "slow down"},
        headers={"x-amzn-query-error": "AWS.SimpleQueueService.RequestThrottled;Sender"},
    )
    answers = [throttled, httpx.Response(200, json={"Successful": [{"Id": "0"}], "Failed": []})]
    mocked = SqsQueue(q.config, transport=httpx.MockTransport(lambda r: answers.pop(0)))
    mocked.client.sleep = clock.sleep
    assert mocked.delete([message]) == []
    assert answers == [] and clock.sleeps


def test_a_session_token_is_sent_and_signed(fake, queue):
    seen = []
    q = queue(aws_session_token="FwoGZXIvYXdzEBYaDtoken")
    q.client.http.event_hooks["request"] = [seen.append]
    q.receive()
    assert seen[0].headers["x-amz-security-token"] == "FwoGZXIvYXdzEBYaDtoken"
    assert "x-amz-security-token" in seen[0].headers["authorization"]
    # The fake knows no session tokens but checks the signature over every signed header.
    assert fake.refused == []


def test_a_refusal_names_sqs_own_error(fake, queue):
    q = queue(sqs_queue_url=fake.queue_url + "-gone")
    with pytest.raises(ProviderRefused) as refused:
        q.receive()
    assert refused.value.status == 400 and "QueueDoesNotExist" in refused.value.message
    with pytest.raises(ProviderRefused, match=r"HTTP 403.*UnrecognizedClient"):
        queue(aws_access_key_id="AKIAUNKNOWN").receive()


def test_a_body_that_does_not_match_its_md5_is_marked(config):
    answer = {
        "Messages": [
            {
                "MessageId": "m-1",
                "ReceiptHandle": "h-1",
                "MD5OfBody": hashlib.md5(b"what was sent").hexdigest(),
                "Body": "what arrived",
                "Attributes": {"ApproximateReceiveCount": "3"},
            }
        ]
    }
    q = SqsQueue(
        config(
            "amazon",
            sqs_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        ),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)),
    )
    [message] = q.receive()
    assert (message.intact, message.receive_count, q.region) == (False, 3, "eu-west-1")


def test_the_region_comes_from_the_queue_url():
    assert region_of("https://sqs.us-east-2.amazonaws.com/1/q") == "us-east-2"
    assert region_of("https://sqs.eu-west-1.amazonaws.com/1/q") == "eu-west-1"
    assert region_of("https://ap-south-1.queue.amazonaws.com/1/q") == "ap-south-1"
    assert region_of("https://queue.amazonaws.com/1/q") == "us-east-1"
    assert region_of("https://vpce-0a1b.sqs.us-west-2.vpce.amazonaws.com/1/q") == "us-west-2"
    assert region_of("https://sqs.cn-north-1.amazonaws.com.cn/1/q") == "cn-north-1"
    assert region_of("http://127.0.0.1:9324/1/q") == ""


@pytest.mark.parametrize(
    ("given", "variable"),
    [
        ({}, "SQS_QUEUE_URL"),
        ({"sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/1/q"}, "AWS_ACCESS_KEY_ID"),
        ({"sqs_queue_url": "http://127.0.0.1:9324/1/q", "aws_access_key_id": "A"}, "AWS_REGION"),
        ({"sqs_queue_url": "http://sqs.us-east-1.amazonaws.com/1/q"}, "SQS_QUEUE_URL"),
        ({"sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/"}, "SQS_QUEUE_URL"),
        (
            {
                "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/1/q",
                "aws_access_key_id": "A",
                "sqs_wait_seconds": "30",
            },
            "SQS_WAIT_SECONDS",
        ),
    ],
)
def test_what_is_missing_is_named(config, given, variable):
    with pytest.raises(ChannelNotConfigured) as missing:
        SqsQueue(config("amazon", aws_secret_access_key="s", **given))
    assert missing.value.extra["variable"] == f"IMS_CHANNEL_SHOP_{variable}"
