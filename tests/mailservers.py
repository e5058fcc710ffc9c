"""Real mail servers for tests: an aiosmtpd SMTP server in this process, a private Dovecot IMAP
server in a subprocess, and a throwaway TLS certificate for both.

Nothing here mocks a protocol client: the app's own smtplib/imaplib code talks to these servers
over sockets on 127.0.0.1.

Dovecot comes from Debian (``apt-get install dovecot-imapd``, which pulls in ``dovecot-core``).
Without it the IMAP tests fail in CI and are skipped locally.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import os
import pwd
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.conftest import IN_CI

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- TLS -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsCert:
    """A self-signed certificate for 127.0.0.1 and localhost (it is its own CA)."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_cert(directory: Path) -> TlsCert:
    openssl = shutil.which("openssl")
    if openssl is None:
        _missing("openssl is not installed (apt-get install openssl)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return TlsCert(cert, key)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> TlsCert:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trust_test_cert(monkeypatch: pytest.MonkeyPatch, tls_cert: TlsCert) -> TlsCert:
    """Make ``ssl.create_default_context()`` (which the app uses) trust the test certificate.

    OpenSSL reads SSL_CERT_FILE each time default verify paths are loaded, so this works without
    an app setting; the system CAs in the default directory stay trusted as well."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_cert.cert))
    return tls_cert


# --- SMTP ------------------------------------------------------------------------------------


@dataclass
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # after SMTP dot-unstuffing, as the server would store it
    tls: bool
    login: str | None  # the AUTH user, if the client authenticated

    def parsed(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


@dataclass
class Recorder:
    """aiosmtpd handler: accepts and records everything, except recipients told to refuse."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        transport = server.transport
        auth = session.auth_data if session.authenticated else None
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                login=auth.login.decode() if auth is not None else None,
            )
        )
        return "250 2.0.0 Ok: queued"


class _LenientSMTP(SMTP):
    # aiosmtpd enforces RFC 5321's 1000-octet line limit, counting only CRLF as a line end.
    line_length_limit = 1_000_000


class _Controller(Controller):
    def __init__(self, *args, strict: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._strict = strict

    def factory(self) -> SMTP:
        smtp_class = SMTP if self._strict else _LenientSMTP
        with warnings.catch_warnings():
            # Tests of the client's own TLS policy need a server that allows AUTH without TLS.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return smtp_class(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    port: int
    recorder: Recorder
    implicit_tls: bool

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def url(self, user: str | None = None, password: str | None = None) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        credentials = f"{user}:{password}@" if user else ""
        return f"{scheme}://{credentials}{HOST}:{self.port}"


@contextlib.contextmanager
def smtp_server(
    *,
    tls: TlsCert | None = None,
    starttls: bool = False,
    implicit_tls: bool = False,
    users: dict[str, str] | None = None,
    auth_require_tls: bool = True,
    strict: bool = False,
) -> Iterator[SmtpServer]:
    """Run an SMTP server on 127.0.0.1 for the duration of the block.

    ``starttls`` offers and requires STARTTLS, ``implicit_tls`` speaks TLS from the first byte
    (smtps), ``users`` enables and requires AUTH with these passwords. ``strict`` keeps aiosmtpd's
    RFC 5321 line-length limit (by default it is lifted, see ``_LenientSMTP``)."""
    recorder = Recorder()
    kwargs: dict = {"server_hostname": "smtp.test.invalid", "ready_timeout": 5}
    if starttls or implicit_tls:
        assert tls is not None, "TLS needs a certificate"
    if starttls:
        kwargs.update(tls_context=tls.server_context(), require_starttls=True)
    if implicit_tls:
        kwargs["ssl_context"] = tls.server_context()
    if users is not None:

        def authenticate(server, session, envelope, mechanism, data) -> AuthResult:
            login, password = data.login.decode(), data.password.decode()
            return AuthResult(success=users.get(login) == password, auth_data=data)

        kwargs.update(
            authenticator=authenticate, auth_required=True, auth_require_tls=auth_require_tls
        )
    port = free_port()
    controller = _Controller(recorder, hostname=HOST, port=port, strict=strict, **kwargs)
    controller.start()
    try:
        yield SmtpServer(port, recorder, implicit_tls)
    finally:
        controller.stop()


# --- IMAP (Dovecot) --------------------------------------------------------------------------

_account_numbers = itertools.count(1)


@dataclass
class StoredMessage:
    uid: int
    flags: set[str]
    raw: bytes


@dataclass
class ImapAccount:
    """A user of the test Dovecot, with helpers that talk IMAP to it (as a mail client would)."""

    server: Dovecot
    user: str
    password: str

    @contextlib.contextmanager
    def connect(self) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(HOST, self.server.port, timeout=10)
        try:
            # AUTHENTICATE PLAIN is UTF-8 (RFC 4616); imaplib's LOGIN is ASCII only.
            client.authenticate("PLAIN", lambda _: f"\0{self.user}\0{self.password}".encode())
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, raw: bytes, folder: str = "INBOX", flags: str = "") -> None:
        with self.connect() as client:
            status, data = client.append(_quote(folder), f"({flags})" if flags else None, None, raw)
            assert status == "OK", data

    def create_folder(self, folder: str) -> None:
        with self.connect() as client:
            status, data = client.create(_quote(folder))
            assert status == "OK", data

    def messages(self, folder: str = "INBOX") -> list[StoredMessage]:
        """Every message in the folder with its flags, read without changing anything."""
        with self.connect() as client:
            status, data = client.select(_quote(folder), readonly=True)
            assert status == "OK", data
            if int(data[0]) == 0:
                return []
            status, flag_data = client.uid("fetch", "1:*", "(FLAGS)")
            assert status == "OK", flag_data
            flags = {}
            for line in flag_data:
                uid = int(line.split(b"UID ")[1].split()[0].rstrip(b")"))
                flags[uid] = {f.decode() for f in imaplib.ParseFlags(line)} - {"\\Recent"}
            result = []
            for uid in sorted(flags):
                status, body = client.uid("fetch", str(uid), "(BODY.PEEK[])")
                assert status == "OK", body
                raw = next(part[1] for part in body if isinstance(part, tuple))
                result.append(StoredMessage(uid, flags[uid], raw))
            return result


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Dovecot:
    port: int  # IMAP, plaintext with STARTTLS offered
    imaps_port: int  # IMAP over implicit TLS
    root: Path
    log: Path

    def add_account(self, password: str | None = None) -> ImapAccount:
        """A new, empty account (a passwd-file of its own, so Dovecot sees it at once)."""
        user = f"kc{next(_account_numbers)}-{secrets.token_hex(3)}"
        password = password or secrets.token_urlsafe(12)
        line = f"{user}:{{PLAIN}}{password}::::::\n"
        (self.root / "users" / user).write_text(line, encoding="utf-8")
        return ImapAccount(self, user, password)


_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
# Every test logs in from 127.0.0.1: no growing delay after the tests of wrong passwords.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
"""


def _dovecot_binary() -> str | None:
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")


def _wait_for_greeting(port: int, process: subprocess.Popen, log: Path, tls: bool) -> None:
    deadline = time.monotonic() + 15
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {process.returncode}:\n{_read(log)}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                if tls:
                    with context.wrap_socket(sock) as tls_sock:
                        greeting = tls_sock.recv(100)
                else:
                    greeting = sock.recv(100)
            if greeting.startswith(b"* OK"):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot did not answer on port {port}:\n{_read(log)}")
        time.sleep(0.05)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else "(no log)"


@contextlib.contextmanager
def dovecot_server(tls: TlsCert) -> Iterator[Dovecot]:
    """A private Dovecot on 127.0.0.1, with its own config, users and maildirs in a temp dir."""
    binary = _dovecot_binary()
    if binary is None:
        _missing("Dovecot is not installed (apt-get install dovecot-imapd)")
    if os.geteuid() == 0:
        # Dovecot runs its helpers unprivileged and refuses mail access as root.
        try:
            internal, login = pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
            mail_user = pwd.getpwnam("nobody")
        except KeyError as error:
            _missing(f"Dovecot's system users are missing ({error}): reinstall dovecot-core")
        internal_user, login_user = internal.pw_name, login.pw_name
        mail_uid, mail_gid = mail_user.pw_uid, mail_user.pw_gid
    else:
        me = pwd.getpwuid(os.geteuid())
        internal_user = login_user = me.pw_name
        mail_uid, mail_gid = me.pw_uid, me.pw_gid
    # Not under pytest's 0700 temp dirs: the unprivileged mail processes must reach their files.
    root = Path(tempfile.mkdtemp(prefix="kc-dovecot-"))
    process = None
    try:
        root.chmod(0o755)
        for name in ("run", "state", "mail", "users"):
            (root / name).mkdir()
        os.chown(root / "mail", mail_uid, mail_gid)
        server = Dovecot(port=free_port(), imaps_port=free_port(), root=root,
                         log=root / "dovecot.log")  # fmt: skip
        config = root / "dovecot.conf"
        config.write_text(
            _CONFIG.format(
                root=root, cert=tls.cert, key=tls.key, internal_user=internal_user,
                login_user=login_user, mail_uid=mail_uid, mail_gid=mail_gid, port=server.port,
                imaps_port=server.imaps_port,
            )
        )  # fmt: skip
        with (root / "stdout.log").open("wb") as output:
            process = subprocess.Popen(
                [binary, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            _wait_for_greeting(server.port, process, server.log, tls=False)
            _wait_for_greeting(server.imaps_port, process, server.log, tls=True)
        except RuntimeError as error:
            pytest.fail(f"{error}\n{_read(root / 'stdout.log')}", pytrace=False)
        yield server
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(tls_cert: TlsCert) -> Iterator[Dovecot]:
    with dovecot_server(tls_cert) as server:
        yield server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    """A fresh, empty account for one test: server state never leaks between tests."""
    return dovecot.add_account()
