import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.mail.compose import compose_reminder, make_message_id
from app.mail.render import RenderedEmail
from app.mail.transport import (
    OutboxTransport,
    OutcomeUnknown,
    PermanentFailure,
    SmtpTransport,
    TemporaryFailure,
    list_outbox,
    parse_smtp_url,
    transport_from_url,
)

from .servers import RecordingHandler, ScriptedServer, aiosmtpd_server, free_port, password_checker

FROM = "billing@northwind.example"


def message(to=("ap@customer.example",), cc=(), subject="Invoice INV-1 from Northwind: due today"):
    return compose_reminder(
        rendered=RenderedEmail(subject, "Hello,\n.\nA dot line above.\n", "<p>Hello</p>\n"),
        from_name="Northwind Accounts",
        from_address=FROM,
        to=list(to),
        cc=list(cc),
        message_id=make_message_id("northwind.example"),
        unsubscribe_url="https://politely.example.com/p/tok/unsubscribe",
        sent_at=datetime(2025, 3, 24, 9, 0, tzinfo=UTC),
    )


def smtp(port: int, extra: str = "", credentials: str = "") -> SmtpTransport:
    query = "tls=none&helo=localhost&timeout=5" + extra
    return SmtpTransport.from_url(f"smtp://{credentials}127.0.0.1:{port}?{query}")


def parsed(content: bytes):
    return email.message_from_bytes(content, policy=email.policy.default)


# --- URL parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("smtp://mail.example.com:587", "mail.example.com", 587, "starttls"),
        ("smtp://mail.example.com?tls=starttls", "mail.example.com", 587, "starttls"),
        ("smtps://mail.example.com", "mail.example.com", 465, "tls"),
        ("smtp://mail.example.com:465", "mail.example.com", 465, "tls"),
        ("smtp://localhost", "localhost", 25, "none"),
        ("smtp://relay.internal:2525?tls=none", "relay.internal", 2525, "none"),
        ("smtp://relay.internal:2525?tls=tls", "relay.internal", 2525, "tls"),
    ],
)
def test_smtp_url_selects_host_port_and_tls(url, host, port, tls):
    settings = parse_smtp_url(url)
    assert (settings.host, settings.port, settings.tls) == (host, port, tls)


def test_smtp_url_decodes_credentials_and_options():
    settings = parse_smtp_url(
        "smtp://user%40example.com:p%40ss%3Aw%2Frd@mail.example.com:587?timeout=7.5&verify=false"
    )
    assert settings.username == "user@example.com"
    assert settings.password == "p@ss:w/rd"
    assert settings.timeout == 7.5
    assert settings.validate_certs is False
    assert "p@ss" not in repr(settings)


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://host?tls=maybe",
        "smtps://host?tls=starttls",
        "smtp://h?timeout=0",
    ],
)
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_smtp_url(url)


def test_transport_from_url_picks_the_outbox_without_smtp(tmp_path: Path):
    assert isinstance(transport_from_url(None, tmp_path), OutboxTransport)
    assert isinstance(transport_from_url("  ", tmp_path), OutboxTransport)
    assert isinstance(transport_from_url("smtp://localhost:25", tmp_path), SmtpTransport)


# --- SMTP against a real aiosmtpd server ----------------------------------------------------


async def test_several_messages_share_one_connection():
    handler = RecordingHandler()
    with aiosmtpd_server(handler) as port:
        async with smtp(port) as transport:
            results = [
                await transport.send(message(to=["a@customer.example"], cc=["b@customer.example"]))
                for _ in range(3)
            ]
    assert [r.accepted for r in results] == [["a@customer.example", "b@customer.example"]] * 3
    assert all(r.refused == {} for r in results)
    assert len(handler.received) == 3
    assert len({r.peer for r in handler.received}) == 1, "one connection for the whole pass"
    first = handler.received[0]
    assert first.mail_from == FROM
    assert first.rcpt_tos == ["a@customer.example", "b@customer.example"]
    delivered = parsed(first.content)
    assert delivered["Subject"] == "Invoice INV-1 from Northwind: due today"
    assert (
        delivered.get_body(("plain",))
        .get_content()
        .replace("\r\n", "\n")
        .startswith("Hello,\n.\nA dot line above.")
    )


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_login_with_url_encoded_credentials():
    handler = RecordingHandler()
    authenticator = password_checker("user@example.com", "p@ss:word")
    with aiosmtpd_server(
        handler, authenticator=authenticator, auth_required=True, auth_require_tls=False
    ) as port:
        async with smtp(port, credentials="user%40example.com:p%40ss%3Aword@") as transport:
            result = await transport.send(message())
        async with smtp(port, credentials="user%40example.com:wrong@") as transport:
            with pytest.raises(TemporaryFailure, match="cannot use SMTP server"):
                await transport.send(message())
    assert result.accepted == ["ap@customer.example"]
    assert len(handler.received) == 1


@pytest.mark.parametrize("stage", ["mail", "data"])
async def test_a_451_reply_is_a_temporary_failure(stage):
    reply = "451 4.3.0 Try again later"
    handler = RecordingHandler(**{f"{stage}_reply": reply})
    with aiosmtpd_server(handler) as port:
        async with smtp(port) as transport:
            with pytest.raises(TemporaryFailure) as caught:
                await transport.send(message())
    assert caught.value.code == 451
    assert handler.received == []


async def test_one_refused_recipient_of_two_is_reported_while_the_other_gets_it():
    handler = RecordingHandler(refuse={"gone@customer.example": "550 5.1.1 No such user"})
    with aiosmtpd_server(handler) as port:
        async with smtp(port) as transport:
            result = await transport.send(
                message(to=["ap@customer.example"], cc=["gone@customer.example"])
            )
    assert result.accepted == ["ap@customer.example"]
    assert result.refused == {"gone@customer.example": (550, "5.1.1 No such user")}
    assert handler.received[0].rcpt_tos == ["ap@customer.example"]


async def test_a_temporarily_refused_recipient_is_deferred_not_refused():
    handler = RecordingHandler(refuse={"full@customer.example": "452 4.2.2 Mailbox full"})
    with aiosmtpd_server(handler) as port:
        async with smtp(port) as transport:
            result = await transport.send(message(cc=["full@customer.example"]))
            with pytest.raises(TemporaryFailure):
                await transport.send(message(to=["full@customer.example"]))
    assert result.refused == {}
    assert result.deferred == {"full@customer.example": (452, "4.2.2 Mailbox full")}


async def test_every_recipient_refused_is_a_permanent_failure_and_the_connection_carries_on():
    refuse = {
        "gone@customer.example": "550 5.1.1 No such user",
        "old@customer.example": "553 5.1.3 Bad address",
    }
    handler = RecordingHandler(refuse=refuse)
    with aiosmtpd_server(handler) as port:
        async with smtp(port) as transport:
            with pytest.raises(PermanentFailure) as caught:
                await transport.send(
                    message(to=["gone@customer.example"], cc=["old@customer.example"])
                )
            later = await transport.send(message())
    assert caught.value.refused == {
        "gone@customer.example": (550, "5.1.1 No such user"),
        "old@customer.example": (553, "5.1.3 Bad address"),
    }
    assert later.accepted == ["ap@customer.example"]
    assert len({r.peer for r in handler.received}) == 1


async def test_a_554_for_the_message_is_a_permanent_failure():
    handler = RecordingHandler(data_reply="554 5.7.1 Rejected as spam")
    with aiosmtpd_server(handler) as port:
        async with smtp(port) as transport:
            with pytest.raises(PermanentFailure) as caught:
                await transport.send(message())
    assert caught.value.code == 554
    assert caught.value.refused == {}


async def test_nobody_listening_is_a_temporary_failure():
    async with smtp(free_port()) as transport:
        with pytest.raises(TemporaryFailure, match="cannot use SMTP server"):
            await transport.send(message())


# --- SMTP against a scripted server, for failures after the content was sent ----------------


async def test_connection_dropped_after_the_content_is_outcome_unknown():
    async with ScriptedServer(after_data="drop") as server:
        async with smtp(server.port) as transport:
            with pytest.raises(OutcomeUnknown):
                await transport.send(message())
    assert len(server.messages) == 1, "the server did receive the content"


async def test_no_final_reply_before_the_timeout_is_outcome_unknown():
    async with ScriptedServer(after_data="hang") as server:
        async with smtp(server.port, extra="&timeout=0.3") as transport:
            with pytest.raises(OutcomeUnknown):
                await transport.send(message())


async def test_a_connection_lost_before_the_content_is_a_temporary_failure():
    async with ScriptedServer(after_data="drop_on_data_command") as server:
        async with smtp(server.port) as transport:
            with pytest.raises(TemporaryFailure):
                await transport.send(message())
    assert server.messages == []


async def test_a_connection_closed_between_sends_is_reopened():
    async with ScriptedServer(after_data="accept_then_close") as server:
        async with smtp(server.port) as transport:
            await transport.send(message())
            await transport.send(message())
    assert len(server.messages) == 2
    assert server.connections == 2


async def test_a_connection_that_died_unnoticed_is_retried_once_on_a_fresh_one():
    async with ScriptedServer(after_data="stale_after_message") as server:
        async with smtp(server.port) as transport:
            await transport.send(message())
            result = await transport.send(message())
    assert result.accepted == ["ap@customer.example"]
    assert len(server.messages) == 2
    assert server.connections == 2


# --- the development outbox -----------------------------------------------------------------


async def test_outbox_writes_parseable_eml_files_newest_first(tmp_path: Path):
    outbox = tmp_path / "outbox"
    sent = [message(subject=f"Invoice INV-{n} from Northwind: due today") for n in range(3)]
    async with transport_from_url(None, outbox) as transport:
        results = [await transport.send(each) for each in sent]
    assert results[0].accepted == ["ap@customer.example"]
    files = list_outbox(outbox)
    assert len(files) == 3
    assert [p.name for p in files] == sorted((p.name for p in files), reverse=True)
    newest = parsed(files[0].read_bytes())
    assert newest["Subject"] == "Invoice INV-2 from Northwind: due today"
    assert newest["Message-ID"] == sent[2]["Message-ID"]
    assert [p.get_content_type() for p in newest.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.suffix == ".eml" and "<" not in p.name for p in files)
    assert sorted(outbox.iterdir()) == sorted(files), "no temporary files left behind"


def test_list_outbox_of_a_missing_directory_is_empty(tmp_path: Path):
    assert list_outbox(tmp_path / "nothing-here") == []
