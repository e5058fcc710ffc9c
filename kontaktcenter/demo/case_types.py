"""The demo municipality's case types: what citizens ask about, with direct numbers and the
guidance an agent reads while the caller waits. Used by :mod:`kontaktcenter.demo.seed`."""

from __future__ import annotations

from dataclasses import dataclass

from kontaktcenter.demo.data import BOU, BYGG, KOF, MILJO, SOC, TEK


@dataclass(frozen=True)
class DemoCaseType:
    slug: str
    name: str
    department: str
    number: str
    answered_by: str
    hours: str
    guidance: str
    promise_hours: int
    weight: int  # relative call volume
    questions: tuple[str, ...]  # what the first line answers itself
    escalations: tuple[str, ...]  # what needs the department
    resolutions: tuple[str, ...]  # how the department closed it


CASE_TYPES = (
    DemoCaseType(
        slug="bygglov",
        name="Bygglov",
        department=BYGG,
        number="08-465 004 10",
        answered_by="Bygglovsjouren",
        hours="Mån–tor 10.00–12.00",
        guidance=(
            "Fråga efter fastighetsbeteckning och diarienummer om ärendet redan finns. Allmänna "
            "frågor om när bygglov krävs (attefallsåtgärder, altan, plank, fasadändring) besvaras"
            " utifrån kunskapsbasen. Frågor om ett pågående ärende kopplas till bygglovsjouren "
            "under telefontid, annars bokas återuppringning."
        ),
        promise_hours=48,
        weight=14,
        questions=(
            "Frågade om det krävs bygglov för ett attefallshus på 25 kvm. Förklarade reglerna och "
            "att en anmälan räcker.",
            "Undrade om ett plank på 1,2 meter mot grannen kräver lov. "
            "Gick igenom reglerna och grannens medgivande.",
            "Ville veta vilka ritningar som ska "
            "med i en ansökan om bygglov för tillbyggnad. Skickade länk till e-tjänsten.",
        ),
        escalations=(
            "Vill veta hur det går med sitt bygglovsärende, inskickat för sex veckor sedan.",
            "Har fått föreläggande om komplettering och förstår inte vad som saknas.",
            "Grannen bygger ett garage som verkar ligga för nära tomtgränsen.",
        ),
        resolutions=(
            "Ringde upp och förklarade vilka kompletteringar som saknas. Sökanden skickar in dem "
            "via e-tjänsten.",
            "Beslut om bygglov fattat, skickat till sökanden. Informerade om startbesked.",
            "Platsbesök bokat. Ärendet hanteras vidare som tillsynsärende.",
        ),
    ),
    DemoCaseType(
        slug="strandskydd",
        name="Strandskyddsdispens",
        department=BYGG,
        number="08-465 004 11",
        answered_by="Planarkitekt med ansvar för strandskydd",
        hours="Tis och tor 9.00–11.00",
        guidance=(
            "Strandskydd gäller normalt 100 meter från strandlinjen vid sjöar och vattendrag. "
            "Fråga efter fastighetsbeteckning. Inom naturreservat prövar Länsstyrelsen dispensen:"
            " hänvisa dit."
        ),
        promise_hours=48,
        weight=3,
        questions=(
            "Frågade om strandskydd gäller vid bäcken på tomten. Förklarade reglerna och "
            "hänvisade till kartan i e-tjänsten.",
        ),
        escalations=(
            "Vill bygga en brygga vid sjön och undrar om dispens krävs.",
            "Har fått avslag på dispens för bastu och vill diskutera beslutet.",
        ),
        resolutions=(
            "Ringde upp och förklarade att dispens krävs. Ansökan skickad till sökanden.",
            "Förklarade beslutet och hur man överklagar till Länsstyrelsen.",
        ),
    ),
    DemoCaseType(
        slug="miljotillsyn",
        name="Miljötillsyn och klagomål",
        department=MILJO,
        number="08-465 004 20",
        answered_by="Miljöinspektör i tjänst",
        hours="Mån–fre 9.00–11.30",
        guidance=(
            "Gäller till exempel buller, lukt, eldning, nedskräpning på privat mark och enskilda "
            "avlopp. Anteckna adress och när störningen pågår. Anonyma klagomål tas emot, men då "
            "kan vi inte återkoppla."
        ),
        promise_hours=24,
        weight=8,
        questions=(
            "Frågade om man får elda trädgårdsavfall. Förklarade eldningsreglerna i detaljplanerat "
            "område.",
            "Undrade hur man ansöker om nytt enskilt avlopp. Skickade länk till "
            "ansökan och avgifter.",
        ),
        escalations=(
            "Klagar på buller från en verkstad på kvällarna, pågått i flera veckor.",
            "Anmäler stark lukt från en gödselstack nära bostadsområdet.",
            "Misstänker att grannens avlopp läcker ut i diket.",
        ),
        resolutions=(
            "Tillsynsbesök gjort. Verksamheten har fått krav på åtgärder.",
            "Kontaktade den klagande och förklarade att ärendet utreds som tillsynsärende.",
            "Ingen olägenhet kunde konstateras vid besöket. Återkopplat till den klagande.",
        ),
    ),
    DemoCaseType(
        slug="livsmedelskontroll",
        name="Livsmedelskontroll",
        department=MILJO,
        number="08-465 004 21",
        answered_by="Livsmedelsinspektör",
        hours="Mån–fre 9.00–11.30",
        guidance=(
            "Registrering av livsmedelsverksamhet görs senast två veckor före start via "
            "e-tjänsten. Klagomål på restaurang eller butik: anteckna namn, adress, datum och vad"
            " som hände. Misstänkt matförgiftning: fråga hur många som blev sjuka."
        ),
        promise_hours=24,
        weight=4,
        questions=(
            "Ska starta kafé och undrade hur man registrerar verksamheten. Skickade länk till "
            "e-tjänsten.",
        ),
        escalations=(
            "Blev sjuk efter lunch på en restaurang i centrum, tre personer i sällskapet.",
            "Undrar varför kontrollavgiften blev högre i år.",
        ),
        resolutions=(
            "Inspektion gjord på restaurangen. Återkopplat till anmälaren.",
            "Förklarade hur kontrolltiden och avgiften beräknas.",
        ),
    ),
    DemoCaseType(
        slug="serveringstillstand",
        name="Serveringstillstånd",
        department=MILJO,
        number="08-465 004 22",
        answered_by="Alkoholhandläggare",
        hours="Tis–tor 13.00–15.00",
        guidance=(
            "Tillfälligt tillstånd för servering till allmänheten ska sökas minst fyra veckor "
            "före. Kunskapsprov krävs för stadigvarande tillstånd. Skicka länk till e-tjänsten "
            "och avgiftslistan."
        ),
        promise_hours=48,
        weight=3,
        questions=(
            "Frågade hur lång tid ett tillfälligt serveringstillstånd tar. Skickade länk och "
            "avgifter.",
        ),
        escalations=(
            "Restaurang vill utöka serveringstiden till klockan 02 under sommaren.",
            "Förening vill servera öl på en festival i augusti.",
        ),
        resolutions=(
            "Ansökan komplett, beslut skickat.",
            "Förklarade kraven och skickade blanketter.",
        ),
    ),
    DemoCaseType(
        slug="forskoleplats",
        name="Förskoleplats",
        department=BOU,
        number="08-465 004 30",
        answered_by="Placeringsassistent, förskola",
        hours="Mån–fre 9.00–11.00",
        guidance=(
            "Ansökan görs i e-tjänsten tidigast sex månader före önskat startdatum. Plats erbjuds"
            " inom fyra månader. Kontaktcenter kan svara på frågor om kö och erbjudande; "
            "uppsägning görs av vårdnadshavaren i e-tjänsten."
        ),
        promise_hours=48,
        weight=9,
        questions=(
            "Frågade hur långt fram i kön barnet står. Förklarade hur kön fungerar.",
            "Ville säga upp förskoleplatsen. Visade var det görs i e-tjänsten.",
        ),
        escalations=(
            "Har fått erbjudande om plats långt från hemmet och vill byta förskola.",
            "Fick inget erbjudande trots att fyra månader har gått.",
        ),
        resolutions=(
            "Erbjudande om plats på önskad förskola skickat.",
            "Förklarade turordningen och satte barnet i kö för omplacering.",
        ),
    ),
    DemoCaseType(
        slug="skolskjuts",
        name="Skolskjuts",
        department=BOU,
        number="08-465 004 31",
        answered_by="Skolskjutssamordnare",
        hours="Mån–fre 8.00–10.00",
        guidance=(
            "Rätten till skolskjuts beror på avstånd, trafikförhållanden och om eleven går i "
            "anvisad skola. Ansökan görs per läsår i e-tjänsten. Försenad eller utebliven buss: "
            "anteckna linje, hållplats och tid och skicka till samordnaren samma dag."
        ),
        promise_hours=24,
        weight=5,
        questions=("Frågade när ansökan om skolskjuts för nästa läsår öppnar.",),
        escalations=(
            "Skolbussen kom inte i morse vid hållplatsen Norrgården, linje 12.",
            "Har fått avslag på skolskjuts och tycker att vägen är farlig.",
        ),
        resolutions=(
            "Pratat med bussbolaget, turen är åtgärdad. Återkopplat till vårdnadshavaren.",
            "Ny prövning gjord, skolskjuts beviljad på grund av trafikfarlig väg.",
        ),
    ),
    DemoCaseType(
        slug="aldreomsorg",
        name="Äldreomsorg och hemtjänst",
        department=SOC,
        number="08-465 004 40",
        answered_by="Biståndshandläggare, äldreomsorg",
        hours="Mån–fre 8.30–10.00",
        guidance=(
            "Ansökan om hemtjänst, trygghetslarm eller särskilt boende görs hos "
            "biståndshandläggaren. Uppgifter om enskilda omfattas av sekretess: skriv inga "
            "känsliga uppgifter i sammanfattningen, boka återuppringning."
        ),
        promise_hours=24,
        weight=6,
        questions=("Frågade vad trygghetslarm kostar. Skickade länk till avgifterna.",),
        escalations=(
            "Anhörig vill ansöka om hemtjänst för sin mamma.",
            "Vill diskutera ansökan om särskilt boende.",
        ),
        resolutions=(
            "Biståndshandläggaren har ringt upp och bokat hembesök.",
            "Ansökan registrerad och hembesök bokat.",
        ),
    ),
    DemoCaseType(
        slug="ekonomiskt-bistand",
        name="Ekonomiskt bistånd",
        department=SOC,
        number="08-465 004 41",
        answered_by="Mottagningsgruppen, ekonomiskt bistånd",
        hours="Mån, ons, fre 9.00–11.00",
        guidance=(
            "Sekretess (OSL 26 kap.): bekräfta inte om personen är aktuell. Ge allmän information"
            " om hur man ansöker och koppla till mottagningsgruppen. Vid akut nöd utanför "
            "telefontid: hänvisa till socialjouren."
        ),
        promise_hours=24,
        weight=4,
        questions=(
            "Frågade allmänt hur man ansöker om ekonomiskt bistånd. Förklarade e-tjänsten.",
        ),
        escalations=(
            "Vill prata med mottagningsgruppen om en ansökan.",
            "Vill ha besked om ett beslut.",
        ),
        resolutions=("Mottagningsgruppen har ringt upp.", "Återuppringd av handläggare."),
    ),
    DemoCaseType(
        slug="parkeringstillstand",
        name="Parkeringstillstånd för rörelsehindrade",
        department=TEK,
        number="08-465 004 50",
        answered_by="Handläggare, parkeringstillstånd",
        hours="Tis och tor 9.00–11.00",
        guidance=(
            "Ansökan med läkarintyg görs i e-tjänsten. Handläggningstiden är cirka fyra veckor. "
            "Felparkeringsavgifter hanteras av parkeringsövervakningen."
        ),
        promise_hours=48,
        weight=5,
        questions=(
            "Frågade vilka intyg som behövs för parkeringstillstånd. Skickade länk till "
            "e-tjänsten.",
            "Undrade hur man förnyar ett tillstånd som går ut nästa månad.",
        ),
        escalations=(
            "Har väntat sex veckor på beslut om parkeringstillstånd.",
            "Har fått avslag och vill veta varför.",
        ),
        resolutions=(
            "Beslut fattat, tillståndet skickas med post.",
            "Förklarade avslaget och hur man överklagar.",
        ),
    ),
    DemoCaseType(
        slug="sophamtning",
        name="Avfall och sophämtning",
        department=TEK,
        number="08-465 004 51",
        answered_by="Kundservice avfall",
        hours="Mån–fre 8.00–16.00",
        guidance=(
            "Missad hämtning anmäls senast dagen efter ordinarie hämtdag. Kontrollera hämtschemat"
            " för adressen. Byte av kärlstorlek görs i e-tjänsten. Grovavfall: hänvisa till "
            "återvinningscentralen."
        ),
        promise_hours=24,
        weight=14,
        questions=(
            "Frågade vilka dagar soporna hämtas på Storgatan. Kollade schemat.",
            "Ville byta till ett mindre kärl. Visade e-tjänsten.",
            "Undrade om återvinningscentralen har öppet på lördag.",
        ),
        escalations=(
            "Soptunnan blev inte tömd i tisdags.",
            "Kärlet är trasigt efter hämtningen och behöver bytas.",
            "Fakturan för avfall verkar gälla fel adress.",
        ),
        resolutions=(
            "Extra hämtning beställd till i morgon.",
            "Nytt kärl levereras på torsdag.",
            "Fakturan rättad och ny skickad.",
        ),
    ),
    DemoCaseType(
        slug="felanmalan-gata-park",
        name="Felanmälan gata och park",
        department=TEK,
        number="08-465 004 52",
        answered_by="Driftjouren, gata och park",
        hours="Akuta fel dygnet runt, annars mån–fre 7.00–16.00",
        guidance=(
            "Anteckna exakt plats (gatuadress, närmaste korsning eller lyktstolpens nummer). "
            "Akuta fel som är farliga, till exempel nedfallet träd över väg eller öppen brunn, "
            "kopplas direkt till driftjouren. Statliga vägar sköts av Trafikverket."
        ),
        promise_hours=24,
        weight=12,
        questions=(
            "Frågade när snöröjningen kommer till Björkvägen. Förklarade prioriteringsordningen.",
        ),
        escalations=(
            "Gatlyktan utanför Skolgatan 14 är släckt sedan en vecka.",
            "Stort hål i asfalten vid korsningen Storgatan–Kyrkvägen.",
            "En gren har fallit över gångvägen i Stadsparken.",
            "Klotter på lekplatsen vid Ängsvägen.",
        ),
        resolutions=(
            "Lyktan lagad.",
            "Hålet lagat av gatuenheten.",
            "Grenen bortforslad samma dag.",
            "Klottret sanerat.",
        ),
    ),
    DemoCaseType(
        slug="bibliotek",
        name="Bibliotek",
        department=KOF,
        number="08-465 004 60",
        answered_by="Stadsbibliotekets informationsdisk",
        hours="Mån–tor 10.00–19.00, fre 10.00–18.00, lör 11.00–15.00",
        guidance=(
            "Lånekort, omlån och reservationer sköts i bibliotekets e-tjänst. Glömd pinkod: "
            "låntagaren visar legitimation på biblioteket."
        ),
        promise_hours=48,
        weight=5,
        questions=(
            "Frågade om bibliotekets öppettider under helgen.",
            "Ville låna om böcker. Visade hur det görs i appen.",
        ),
        escalations=("Har fått krav för en bok som redan är återlämnad.",),
        resolutions=("Boken hittad i hyllan, kravet makulerat.",),
    ),
    DemoCaseType(
        slug="lokalbokning",
        name="Lokal- och hallbokning",
        department=KOF,
        number="08-465 004 61",
        answered_by="Bokningen, kultur och fritid",
        hours="Mån–fre 9.00–12.00",
        guidance=(
            "Föreningar bokar i bokningssystemet; privatpersoner kan boka lediga tider i "
            "idrottshallar och samlingslokaler. Avbokning senast 14 dagar före."
        ),
        promise_hours=48,
        weight=3,
        questions=("Frågade om det finns lediga tider i Sporthallen på söndagar.",),
        escalations=(
            "Förening vill boka Folkets hus för en konsert i maj.",
            "Vill ha tillbaka avgiften för en inställd bokning.",
        ),
        resolutions=("Bokningen bekräftad.", "Återbetalning godkänd."),
    ),
)
