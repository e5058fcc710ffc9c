"""The fictional municipality "Exempelby kommun": departments, case types, staff and what
citizens call about. Used by :mod:`kontaktcenter.demo.seed`.

Phone numbers come from the ranges PTS reserves for fiction (08-465 004 00–99 and
070-174 06 05–99), so a demo never rings a real person. E-mail addresses are @example.se.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from kontaktcenter.core.roles import Role

DEMO_PASSWORD = "demo-losenord"
DEMO_DOMAIN = "exempelby.se"
DEMO_RECEIVING_SERVER = f"mx.{DEMO_DOMAIN}"


@dataclass(frozen=True)
class DemoDepartment:
    name: str
    email: str
    phone_hours: str


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    departments: tuple[str, ...] = field(default=())
    documented: bool = False  # one login per role, printed by the command


MILJO = "Miljöförvaltningen"
BYGG = "Stadsbyggnadskontoret"
BOU = "Barn- och utbildningsförvaltningen"
SOC = "Socialförvaltningen"
TEK = "Tekniska förvaltningen"
KOF = "Kultur- och fritidsförvaltningen"

DEPARTMENTS = (
    DemoDepartment(MILJO, "miljo@exempelby.se", "Mån–fre 8.00–16.30, lunchstängt 12–13"),
    DemoDepartment(BYGG, "stadsbyggnad@exempelby.se", "Mån–tor 8.00–16.00, fre 8.00–15.00"),
    DemoDepartment(BOU, "barnochutbildning@exempelby.se", "Mån–fre 8.00–16.00"),
    DemoDepartment(SOC, "social@exempelby.se", "Mån–fre 8.00–16.00"),
    DemoDepartment(TEK, "teknik@exempelby.se", "Mån–fre 7.00–16.00"),
    DemoDepartment(KOF, "kulturochfritid@exempelby.se", "Mån–fre 9.00–16.00"),
)

USERS = (
    DemoUser("agent@exempelby.se", "Anna Lindberg", Role.AGENT, documented=True),
    DemoUser(
        "handlaggare@exempelby.se", "Henrik Sjöberg", Role.HANDLER, (BYGG, MILJO), documented=True
    ),
    DemoUser("chef@exempelby.se", "Karin Holm", Role.MANAGER, documented=True),
    DemoUser("admin@exempelby.se", "Adam Ekström", Role.ADMIN, documented=True),
    DemoUser("johan.berg@exempelby.se", "Johan Berg", Role.AGENT),
    DemoUser("lena.nyberg@exempelby.se", "Lena Nyberg", Role.HANDLER, (BOU,)),
    DemoUser("mikael.strand@exempelby.se", "Mikael Strand", Role.HANDLER, (SOC,)),
    DemoUser("sara.lund@exempelby.se", "Sara Lund", Role.HANDLER, (TEK,)),
    DemoUser("erik.dahl@exempelby.se", "Erik Dahl", Role.HANDLER, (KOF,)),
)

GENERAL_QUESTIONS = (
    "Frågade efter öppettiderna i kommunhusets reception.",
    "Ville ha e-postadressen till kommunens registratur.",
    "Frågade hur man lämnar en synpunkt på kommunens service. Visade e-tjänsten.",
    "Undrade när kommunfullmäktige sammanträder nästa gång.",
    "Frågade var man hämtar ut blanketter för färdtjänst. Skickade länk.",
    "Ville veta hur man får tag i en allmän handling. Förklarade hur begäran görs.",
)

# (what the caller wanted, the authority they were referred to)
REFERRALS = (
    ("Frågade om flyttanmälan och folkbokföring.", "Skatteverket"),
    ("Undrade över sitt bostadsbidrag.", "Försäkringskassan"),
    ("Frågade om föräldrapenning.", "Försäkringskassan"),
    ("Vill ansöka om strandskyddsdispens inom naturreservatet.", "Länsstyrelsen"),
    ("Frågade om jakttillstånd.", "Polismyndigheten"),
    ("Undrade varför vägen till sommarstugan inte är plogad (riksväg).", "Trafikverket"),
    ("Har fått ett betalningsföreläggande och undrar vad hen ska göra.", "Kronofogden"),
    ("Frågade om en fastighetsgräns som är oklar.", "Lantmäteriet"),
    ("Ville boka tid på vårdcentralen.", "Region Exempellän (1177)"),
)

CALLBACK_NOTES = (
    "Helst efter kl. 15.",
    "Förmiddag går bra.",
    "Ring på mobilen, inte på jobbet.",
    "Måndag eller tisdag.",
    None,
)

FIRST_NAMES = (
    "Maria",
    "Erik",
    "Anna",
    "Lars",
    "Karin",
    "Anders",
    "Eva",
    "Johan",
    "Kerstin",
    "Per",
    "Lena",
    "Mikael",
    "Sara",
    "Nils",
    "Emma",
    "Ahmed",
    "Fatima",
    "Oskar",
    "Ingrid",
    "Leila",
    "Björn",
    "Elin",
    "Mohammed",
    "Astrid",
    "Gustav",
    "Sofia",
    "Hassan",
    "Ida",
    "Olle",
    "Maja",
)
LAST_NAMES = (
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindqvist",
    "Öberg",
    "Åberg",
    "Ali",
    "Hussein",
    "Nyström",
    "Holmberg",
)
BUSINESSES = (
    "Restaurang Hamnkrogen AB",
    "Byggfirman Ek & Son AB",
    "Pizzeria Napoli i Exempelby",
    "Kafé Solrosen",
    "Exempelby Bygg & Mark AB",
    "Lindqvists Livs",
)


def fictional_mobile(index: int) -> str:
    """070-174 06 05 … 070-174 06 99: PTS's series for fiction (95 numbers)."""
    return f"070-174 06 {5 + index % 95:02d}"


# --- configuration: opening hours, service goals, templates, routing, e-mail ------------------

# Monday–Friday 08:00–17:00 (no lunch closure), as most municipal contact centers promise.
OPENING_HOURS = {weekday: "08:00-17:00" for weekday in range(5)}


@dataclass(frozen=True)
class DemoGoal:
    target: str  # GoalTarget value
    amount: int
    unit: str  # Unit value
    channel: str | None = None  # Channel value; None: every channel
    case_type: str | None = None  # case type slug; None: every case type


GOALS = (
    DemoGoal("first_response", 2, "working_days", channel="email"),  # e-post: inom 2 arbetsdagar
    DemoGoal("callback", 24, "working_day_hours"),  # återkoppling inom 24 timmar på vardagar
    DemoGoal("resolution", 10, "working_days"),
    DemoGoal("resolution", 20, "working_days", case_type="bygglov"),
    DemoGoal("resolution", 5, "working_days", case_type="felanmalan-gata-park"),
    DemoGoal("second_line", 16, "opening_hours"),  # förvaltningen tar ärendet inom 16 timmar
)

ACK_NAME = "Kvittens"
ACK_SUBJECT = "Vi har fått ditt meddelande"
ACK_BODY = (
    "Hej!\n\n"
    "Tack för att du skrev till Exempelby kommun. Vi har fått ditt meddelande och gett det "
    "ärendenummer {referens}.\n\n"
    "{servicelöfte} Vi har öppet måndag till fredag klockan 8–17.\n\n"
    "Vill du lägga till något? Svara på det här mejlet och behåll ärendenumret i ämnesraden.\n\n"
    "Skriv inte känsliga uppgifter om hälsa eller ekonomi i e-post. Ring oss hellre på "
    "08-465 004 00.\n\n"
    "Vänliga hälsningar\nKontaktcenter, Exempelby kommun\n\n"
    "Det här är ett automatiskt svar."
)

# (slug, name, body)
ANSWER_TEMPLATES = (
    (
        "skatteverket",
        "Hänvisning till Skatteverket",
        "Hej!\n\nTack för din fråga om {ämne}. Folkbokföring och flyttanmälan sköts av "
        "Skatteverket, inte av kommunen. Du når dem på skatteverket.se eller på telefon "
        "0771-567 567.\n\nVänliga hälsningar\nKontaktcenter, Exempelby kommun",
    ),
    (
        "bygglov-komplettering",
        "Bygglov: komplettering behövs",
        "Hej!\n\nVi har tittat på ditt ärende {referens}. För att bygglovshandläggaren ska kunna "
        "pröva ansökan behöver vi en situationsplan och fasadritningar i skala. Skicka dem "
        "genom e-tjänsten eller som svar på det här mejlet.\n\n"
        "Vänliga hälsningar\nKontaktcenter, Exempelby kommun",
    ),
    (
        "felanmalan-mottagen",
        "Felanmälan mottagen",
        "Hej!\n\nTack för din felanmälan. Vi har skickat den vidare till Tekniska förvaltningen "
        "som åtgärdar felet. Ärendenumret är {referens}.\n\n"
        "Vänliga hälsningar\nKontaktcenter, Exempelby kommun",
    ),
)

# (kind, pattern, case type slug, send straight to the department)
ROUTING_RULES = (
    ("recipient", f"bygglov@{DEMO_DOMAIN}", "bygglov", True),
    ("subject", "felanmälan", "felanmalan-gata-park", False),  # classify only
)


class DemoMailbox(TypedDict):
    address: str
    name: str
    imap_host: str
    imap_user: str
    password_env: str
    active: bool
    trusted_servers: str


DEMO_MAILBOX: DemoMailbox = {
    "address": f"kontakt@{DEMO_DOMAIN}",
    "name": "Kontaktcenter",
    "imap_host": f"imap.{DEMO_DOMAIN}",
    "imap_user": "kontakt",
    "password_env": "IMAP_LOSENORD_KONTAKT",
    "active": False,  # the demo has no mail server to poll
    # The municipality's own receiving server: it checks senders (DMARC, SPF, DKIM) and says
    # so in Authentication-Results, which the demo e-mails carry.
    "trusted_servers": DEMO_RECEIVING_SERVER,
}


@dataclass(frozen=True)
class DemoMail:
    key: str  # Message-ID <demo-{key}@example.se>: the same on every run
    sender: str  # "Namn <adress>"
    subject: str
    text: str
    minutes_ago: int
    to: str = f"kontakt@{DEMO_DOMAIN}"
    html: str | None = None
    attachment: tuple[str, str, bytes] | None = None  # (filename, content type, data)
    reply_to: str | None = None  # key of the message this answers
    auto_reply: bool = False


SMALL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

DEMO_MAILS = (
    DemoMail(
        "sophamtning",
        "Maria Svensson <maria.svensson@example.se>",
        "Sophämtning under julhelgen",
        "Hej!\n\nVi bor på Björkvägen 12. Blir det någon sophämtning veckan mellan jul och "
        "nyår, eller ska vi ställa ut kärlet en annan dag?\n\nMvh Maria Svensson",
        18,
    ),
    DemoMail(
        "gatubelysning",
        "Per Nilsson <per.nilsson@example.se>",
        "Felanmälan: trasig gatubelysning på Storgatan",
        "Hej,\n\nTre lyktstolpar utanför Storgatan 40–46 har varit släckta i en vecka. Det är "
        "mörkt där barnen går till skolan.\n\nPer Nilsson",
        15,
        html=(
            "<p>Hej,</p><p>Tre lyktstolpar utanför <strong>Storgatan 40–46</strong> har varit "
            "släckta i en vecka. Det är mörkt där barnen går till skolan.</p><p>Per Nilsson</p>"
        ),
    ),
    DemoMail(
        "komplettering",
        "Lina Ek <lina.ek@example.se>",
        "Komplettering till bygglovsansökan, Ekbacken 3:14",
        "Hej!\n\nHär kommer situationsplanen ni bad om till min ansökan om bygglov för "
        "garage.\n\nVänliga hälsningar\nLina Ek",
        12,
        to=f"bygglov@{DEMO_DOMAIN}",
        attachment=("situationsplan.pdf", "application/pdf", SMALL_PDF),
    ),
    DemoMail(
        "forskola",
        "Omar Haddad <omar.haddad@example.se>",
        "Förskoleplats till hösten",
        "Hej! Vi flyttar till Exempelby i augusti. Hur lång är kön till förskolorna i "
        "centrum, och när måste vi ansöka?\n\nTack på förhand\nOmar",
        9,
    ),
    DemoMail(
        "sophamtning-svar",
        "Maria Svensson <maria.svensson@example.se>",
        "Sv: Sophämtning under julhelgen",
        "Jag glömde: vi har också ett kärl för matavfall. Gäller samma sak för det?\n\nMaria",
        6,
        reply_to="sophamtning",
    ),
    DemoMail(
        "franvaro",
        "Kjell Berg <kjell.berg@example.se>",
        "Frånvaro: Angående nyhetsbrevet",
        "Jag är på semester till och med den 6 januari och läser inte e-post.",
        3,
        auto_reply=True,
    ),
)
