"""Signature checks on their own: the Standard Webhooks test vector, Stripe's header format,
tolerances, rotated secrets, and agreement with the official libraries."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe

from app.webhooks.signatures import SignatureError, sign_standard, verify_standard, verify_stripe

# The test vector published with the Standard Webhooks specification.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _standard(
    signature: str,
    *,
    timestamp: int = VECTOR_TIMESTAMP,
    now: float | None = None,
    body: bytes = VECTOR_BODY,
    secret: str = VECTOR_SECRET,
) -> int:
    return verify_standard(
        secret,
        msg_id=VECTOR_ID,
        timestamp=str(timestamp),
        signature=signature,
        body=body,
        now=VECTOR_TIMESTAMP + 10 if now is None else now,
    )


def test_the_signer_reproduces_the_spec_test_vector() -> None:
    assert (
        sign_standard(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    )
    as_text = sign_standard(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY.decode())
    as_datetime = sign_standard(
        VECTOR_SECRET, VECTOR_ID, datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC), VECTOR_BODY
    )
    assert as_text == as_datetime == VECTOR_SIGNATURE


def test_the_verifier_accepts_the_spec_test_vector() -> None:
    assert _standard(VECTOR_SIGNATURE) == VECTOR_TIMESTAMP


def test_the_verifier_refuses_the_vector_on_the_real_clock() -> None:
    # 2021 is far more than five minutes ago: a captured request cannot be replayed.
    with pytest.raises(SignatureError, match="too old"):
        _standard(VECTOR_SIGNATURE, now=time.time())


def test_one_matching_entry_among_several_is_enough() -> None:
    other = "v1," + base64.b64encode(b"x" * 32).decode()
    assert _standard(f"v1a,c29tZXRoaW5n {other} {VECTOR_SIGNATURE}") == VECTOR_TIMESTAMP
    with pytest.raises(SignatureError, match="no webhook-signature"):
        _standard(f"{other} v2,{VECTOR_SIGNATURE[3:]} v1,not*base64")


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'{"test": 2432232315}'},
        {"timestamp": VECTOR_TIMESTAMP + 1},
        {"secret": "whsec_" + base64.b64encode(b"another secret").decode()},
    ],
)
def test_any_change_breaks_the_signature(change: dict) -> None:
    with pytest.raises(SignatureError):
        _standard(VECTOR_SIGNATURE, **change)


def test_timestamps_outside_five_minutes_either_way_are_refused() -> None:
    for offset, message in ((-301, "too old"), (301, "future")):
        stamp = VECTOR_TIMESTAMP + offset
        signature = sign_standard(VECTOR_SECRET, VECTOR_ID, stamp, VECTOR_BODY)
        with pytest.raises(SignatureError, match=message):
            _standard(signature, timestamp=stamp, now=VECTOR_TIMESTAMP)
    edge = sign_standard(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP - 300, VECTOR_BODY)
    assert _standard(edge, timestamp=VECTOR_TIMESTAMP - 300, now=VECTOR_TIMESTAMP)


def test_missing_headers_and_odd_timestamps_are_refused() -> None:
    for msg_id, stamp, signature in (
        (None, "1614265330", VECTOR_SIGNATURE),
        (VECTOR_ID, None, VECTOR_SIGNATURE),
        (VECTOR_ID, "1614265330", ""),
        (VECTOR_ID, "1.614265330e9", VECTOR_SIGNATURE),
        (VECTOR_ID, "-1614265330", VECTOR_SIGNATURE),
    ):
        with pytest.raises(SignatureError):
            verify_standard(
                VECTOR_SECRET,
                msg_id=msg_id,
                timestamp=stamp,
                signature=signature,
                body=VECTOR_BODY,
                now=VECTOR_TIMESTAMP,
            )


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(SignatureError, match="base64"):
        sign_standard("whsec_not base64!", VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)


def test_signatures_agree_with_the_standardwebhooks_library() -> None:
    now = datetime.now(UTC)
    body = '{"type": "payment.received", "data": {"amount": "12.50"}}'
    library = standardwebhooks.Webhook(VECTOR_SECRET)
    theirs = library.sign(VECTOR_ID, now, body)
    assert theirs == sign_standard(VECTOR_SECRET, VECTOR_ID, now, body)
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign_standard(VECTOR_SECRET, VECTOR_ID, now, body),
    }
    assert library.verify(body, headers) == {
        "type": "payment.received",
        "data": {"amount": "12.50"},
    }


# --- Stripe -------------------------------------------------------------------------------

STRIPE_SECRET = "whsec_test_3f9a1c"
PAYLOAD = '{"id": "evt_1", "type": "invoice.paid"}'


def test_a_header_made_by_the_stripe_library_verifies() -> None:
    header = stripe.WebhookSignature.generate_signature_header(PAYLOAD, STRIPE_SECRET)
    assert abs(verify_stripe(PAYLOAD.encode(), header, STRIPE_SECRET) - time.time()) < 5


def test_any_matching_v1_entry_is_enough_while_a_secret_is_rolled() -> None:
    stamp = int(time.time())
    old = stripe.WebhookSignature.generate_signature_header(PAYLOAD, "whsec_old", stamp)
    new = stripe.WebhookSignature.generate_signature_header(PAYLOAD, STRIPE_SECRET, stamp)
    header = f"{old},v0=deadbeef,{new.split(',')[1]}"
    assert verify_stripe(PAYLOAD.encode(), header, STRIPE_SECRET) == stamp
    with pytest.raises(SignatureError, match="no Stripe signature"):
        verify_stripe(PAYLOAD.encode(), old, STRIPE_SECRET)


def test_stripe_timestamps_outside_five_minutes_are_refused() -> None:
    for offset in (-600, 600):
        stamp = int(time.time()) + offset
        header = stripe.WebhookSignature.generate_signature_header(PAYLOAD, STRIPE_SECRET, stamp)
        with pytest.raises(SignatureError, match="timestamp"):
            verify_stripe(PAYLOAD.encode(), header, STRIPE_SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=abc", "t=123", "t=1,t=2,v1=abc", "t=abc,v1=abc", "garbage"],
)
def test_malformed_stripe_headers_are_refused(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_stripe(PAYLOAD.encode(), header, STRIPE_SECRET, now=1)


def test_the_stripe_signature_covers_the_exact_bytes() -> None:
    header = stripe.WebhookSignature.generate_signature_header(PAYLOAD, STRIPE_SECRET)
    with pytest.raises(SignatureError):
        verify_stripe(PAYLOAD.replace(" ", "").encode(), header, STRIPE_SECRET)
