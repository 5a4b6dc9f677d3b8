from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

AMOUNT: dict[str, Any] = {"max_digits": 18, "decimal_places": 2}  # estimates: room for currencies such as PYG
QUANTITY: dict[str, Any] = {"max_digits": 18, "decimal_places": 4}


class SourceFormat(models.TextChoices):
    EFORMS = "eforms", "eForms (UBL)"
    OCDS = "ocds", "OCDS (JSON)"
    TED = "ted", "TED XML R2.0.9"
    XLSX = "xlsx", _("Bordereau XLSX")
    CSV = "csv", _("Bordereau CSV")


class Tender(models.Model):
    source_format = models.CharField(_("format source"), max_length=10, choices=SourceFormat.choices)
    procedure_id = models.CharField(_("identifiant de procédure"), max_length=200, blank=True)
    notice_id = models.CharField(_("identifiant d'avis"), max_length=200, blank=True)
    notice_type = models.CharField(_("type d'avis"), max_length=60, blank=True)
    language = models.CharField(_("langue"), max_length=10, blank=True)
    title = models.CharField(_("intitulé"), max_length=1000)
    description = models.TextField(_("description"), blank=True)
    nature = models.CharField(_("nature"), max_length=40, blank=True)
    procedure_type = models.CharField(_("procédure"), max_length=80, blank=True)
    main_cpv = models.CharField(_("CPV principal"), max_length=8, blank=True)
    additional_cpv = models.JSONField(_("CPV additionnels"), default=list, blank=True)
    estimated_value = models.DecimalField(_("valeur estimée"), null=True, blank=True, **AMOUNT)
    currency = models.CharField(_("devise"), max_length=3, blank=True)
    tender_deadline = models.DateTimeField(_("date limite de remise des offres"), null=True, blank=True)
    participation_deadline = models.DateTimeField(_("date limite des candidatures"), null=True, blank=True)
    questions_deadline = models.DateTimeField(_("date limite des questions"), null=True, blank=True)
    # Set when the group offer is frozen for submission: from then on no partner price may change.
    offer_frozen_at = models.DateTimeField(_("offre figée le"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("appel d'offres")
        verbose_name_plural = _("appels d'offres")
        constraints = [
            models.UniqueConstraint(
                fields=["procedure_id"], condition=~models.Q(procedure_id=""), name="tender_unique_procedure_id"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def cpv_codes(self) -> list[str]:
        return [self.main_cpv, *self.additional_cpv] if self.main_cpv else list(self.additional_cpv)


class Buyer(models.Model):
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="buyers")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("acheteur"), max_length=500)
    identifier = models.CharField(_("identifiant"), max_length=100, blank=True)
    country = models.CharField(_("pays"), max_length=3, blank=True)
    nuts = models.CharField(_("code NUTS"), max_length=10, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.name


class Lot(models.Model):
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="lots")
    position = models.PositiveIntegerField(default=0)
    source_id = models.CharField(_("identifiant du lot"), max_length=100)
    internal_ref = models.CharField(_("référence interne"), max_length=200, blank=True)
    title = models.CharField(_("intitulé"), max_length=1000, blank=True)
    description = models.TextField(_("description"), blank=True)
    main_cpv = models.CharField(_("CPV principal"), max_length=8, blank=True)
    additional_cpv = models.JSONField(_("CPV additionnels"), default=list, blank=True)
    estimated_value = models.DecimalField(_("valeur estimée"), null=True, blank=True, **AMOUNT)
    currency = models.CharField(_("devise"), max_length=3, blank=True)
    framework_maximum = models.DecimalField(_("montant maximum de l'accord-cadre"), null=True, blank=True, **AMOUNT)
    tender_deadline = models.DateTimeField(_("date limite de remise des offres"), null=True, blank=True)
    participation_deadline = models.DateTimeField(_("date limite des candidatures"), null=True, blank=True)
    questions_deadline = models.DateTimeField(_("date limite des questions"), null=True, blank=True)
    duration_value = models.PositiveIntegerField(_("durée"), null=True, blank=True)
    duration_unit = models.CharField(_("unité de durée"), max_length=10, blank=True)
    start_date = models.CharField(_("début"), max_length=32, blank=True)
    end_date = models.CharField(_("fin"), max_length=32, blank=True)
    withdrawn = models.BooleanField(_("absent du dernier avis"), default=False)

    class Meta:
        ordering = ["tender", "position", "id"]
        verbose_name = _("lot")
        constraints = [models.UniqueConstraint(fields=["tender", "source_id"], name="lot_unique_source_id")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.title}".strip()

    @property
    def cpv_codes(self) -> list[str]:
        return [self.main_cpv, *self.additional_cpv] if self.main_cpv else list(self.additional_cpv)


class LotGroup(models.Model):
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="lot_groups")
    source_id = models.CharField(_("identifiant du groupe"), max_length=100)
    title = models.CharField(_("intitulé"), max_length=1000, blank=True)
    estimated_value = models.DecimalField(_("valeur estimée"), null=True, blank=True, **AMOUNT)
    currency = models.CharField(_("devise"), max_length=3, blank=True)
    lots = models.ManyToManyField(Lot, related_name="groups")

    class Meta:
        ordering = ["source_id"]
        constraints = [models.UniqueConstraint(fields=["tender", "source_id"], name="lotgroup_unique_source_id")]

    def __str__(self) -> str:
        return self.source_id


class LineOrigin(models.TextChoices):
    NOTICE = "notice", _("avis")
    SCHEDULE = "schedule", _("bordereau")


class Line(models.Model):
    """A priced line of the buyer's schedule (BPU/DQE/DPGF), or an item of an OCDS notice.

    Written in bulk by `bids.services.lines.insert_lines`, which lists these columns: keep both in step.
    """

    # No single-column indexes: the (lot, position) and (tender, position) indexes below serve
    # those lookups, and every extra index slows the bulk insert of large schedules.
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="lines", db_index=False)
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="lines", db_index=False)
    position = models.PositiveIntegerField()
    origin = models.CharField(max_length=10, choices=LineOrigin.choices)
    code = models.CharField(_("code"), max_length=100, blank=True)
    designation = models.TextField(_("désignation"))
    unit = models.CharField(_("unité"), max_length=100, blank=True)
    quantity = models.DecimalField(_("quantité"), null=True, blank=True, **QUANTITY)
    unit_price = models.DecimalField(_("prix unitaire acheteur"), null=True, blank=True, **QUANTITY)
    currency = models.CharField(_("devise"), max_length=3, blank=True)
    cpv = models.CharField(_("CPV"), max_length=8, blank=True)
    section = models.CharField(_("rubrique"), max_length=500, blank=True)
    source_row = models.PositiveIntegerField(_("ligne source"), null=True, blank=True)
    source_sheet = models.CharField(_("feuille source"), max_length=100, blank=True, db_default="")
    work_package = models.ForeignKey(
        "WorkPackage", null=True, blank=True, on_delete=models.SET_NULL, related_name="lines", db_index=False
    )

    class Meta:
        ordering = ["lot", "position"]
        verbose_name = _("ligne de prix")
        indexes = [
            models.Index(fields=["lot", "position"]),
            models.Index(fields=["tender", "position"]),
            models.Index(fields=["work_package", "position"]),
        ]

    def __str__(self) -> str:
        return self.designation[:80]


class NoticeVersion(models.Model):
    """Each notice imported into a tender, oldest first: a change notice adds one."""

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="notice_versions")
    source_format = models.CharField(max_length=10, choices=SourceFormat.choices)
    notice_id = models.CharField(max_length=200, blank=True)
    notice_type = models.CharField(max_length=60, blank=True)
    changes_notice_id = models.CharField(max_length=200, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    job = models.ForeignKey("ImportJob", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["imported_at", "id"]

    def __str__(self) -> str:
        return f"{self.notice_id or self.source_format} ({self.imported_at:%Y-%m-%d})"


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("en attente")
    RUNNING = "running", _("en cours")
    SUCCEEDED = "succeeded", _("terminé")
    FAILED = "failed", _("échec")
    NEEDS_INPUT = "needs_input", _("choix requis")


def progress_percent(status: str, done: int, total: int) -> int:
    """What a progress bar shows: 100 only once succeeded, never 100 while work remains."""
    if status == JobStatus.SUCCEEDED:
        return 100
    if not total:
        return 0
    return min(99, int(100 * done / total))


STAGE_LABELS = {
    "reading": _("lecture du fichier"),
    "saving": _("enregistrement"),
    "queue unreachable": _("file de tâches injoignable : l'import démarrera à son retour"),
}


class ImportJob(models.Model):
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_format = models.CharField(max_length=10, default="auto")
    detected_format = models.CharField(max_length=10, blank=True)
    target_tender = models.ForeignKey(Tender, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    options = models.JSONField(default=dict, blank=True)  # mapping, header_row, sheet, lot
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=100, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # last sign of life while running
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)  # [{"where": ..., "message": ...}]
    warnings = models.JSONField(default=list, blank=True)
    tenders = models.ManyToManyField(Tender, blank=True, related_name="import_jobs")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"

    @property
    def percent(self) -> int:
        return progress_percent(self.status, self.progress_done, self.progress_total)

    @property
    def stage_label(self) -> str:
        return str(STAGE_LABELS.get(self.stage, self.stage))

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.NEEDS_INPUT}


class ScheduleMapping(models.Model):
    """A column mapping a bid manager corrected once and wants to reuse for the same buyer's files."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    mapping = models.JSONField(_("correspondance des colonnes"), default=dict)
    header_row = models.PositiveIntegerField(_("ligne d'en-tête"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PackageBasis(models.TextChoices):
    """Why the lines of a work package were put together."""

    SKILL = "skill", _("logiciel ou technologie nommé")
    CPV = "cpv", _("code CPV")
    SECTION = "section", _("rubrique du bordereau")
    RULE = "rule", _("règle enregistrée")
    WHOLE_LOT = "lot", _("lot entier")
    UNRECOGNISED = "unrecognised", _("non reconnu")
    MANUAL = "manual", _("manuel")


class WorkPackage(models.Model):
    """Lines of one lot that need the same skills: the unit that is matched, invited, priced and paid."""

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="work_packages")
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="work_packages")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("nom"), max_length=300)
    basis = models.CharField(_("regroupement"), max_length=12, choices=PackageBasis.choices)
    key = models.CharField(_("clé de regroupement"), max_length=300, blank=True)
    flagged = models.BooleanField(_("à vérifier"), default=False)
    cpv_codes = models.JSONField(_("codes CPV requis"), default=list, blank=True)
    line_count = models.PositiveIntegerField(_("lignes"), default=0)
    estimated_value = models.DecimalField(_("valeur estimée"), null=True, blank=True, **AMOUNT)
    estimated_days = models.DecimalField(_("jours estimés"), null=True, blank=True, max_digits=10, decimal_places=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tender", "lot__position", "position", "id"]
        verbose_name = _("lot de travaux")
        verbose_name_plural = _("lots de travaux")
        indexes = [models.Index(fields=["tender", "position"])]

    def __str__(self) -> str:
        return self.name


class PackageSkill(models.Model):
    """A skill a work package needs, with its weight (1 to 10); `inferred` until a person confirms it."""

    package = models.ForeignKey(WorkPackage, on_delete=models.CASCADE, related_name="required_skills")
    skill = models.ForeignKey("partners.Skill", on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveSmallIntegerField(_("poids"), default=5)
    inferred = models.BooleanField(_("déduit"), default=True)

    class Meta:
        ordering = ["-weight", "skill__name"]
        constraints = [models.UniqueConstraint(fields=["package", "skill"], name="packageskill_unique")]

    def __str__(self) -> str:
        return f"{self.skill} x{self.weight}"


class SplitRule(models.Model):
    """A saved correction: lines whose designation contains `pattern` go to the package `package_name`."""

    pattern = models.CharField(_("motif"), max_length=200, unique=True)
    package_name = models.CharField(_("lot de travaux"), max_length=300)
    skill = models.ForeignKey("partners.Skill", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pattern"]
        verbose_name = _("règle de découpage")

    def __str__(self) -> str:
        return f"{self.pattern} -> {self.package_name}"


class ExclusionKind(models.TextChoices):
    MANUAL = "manual", _("écartée par le chargé d'affaires")
    COMPETING = "competing", _("engagée dans un groupement concurrent")


class TenderExclusion(models.Model):
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="exclusions")
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.CASCADE, related_name="tender_exclusions")
    kind = models.CharField(_("motif"), max_length=10, choices=ExclusionKind.choices, default=ExclusionKind.MANUAL)
    reason = models.CharField(_("précision"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["firm__name"]
        constraints = [models.UniqueConstraint(fields=["tender", "firm"], name="exclusion_unique")]

    def __str__(self) -> str:
        return f"{self.firm} ({self.get_kind_display()})"


class MatchRun(models.Model):
    """One run of the matching for a tender: candidates scored, then the global assignment."""

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="match_runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=100, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # last sign of life while running
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    solver = models.JSONField(default=dict, blank=True)  # status, objective, seconds

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"match #{self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        return progress_percent(self.status, self.progress_done, self.progress_total)

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}


class MatchCandidate(models.Model):
    """A scored (work package, firm) pair; `components` explains the score, point by point."""

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="candidates", db_index=False)
    package = models.ForeignKey(WorkPackage, on_delete=models.CASCADE, related_name="candidates", db_index=False)
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.CASCADE, related_name="+", db_index=False)
    rank = models.PositiveIntegerField()
    score = models.DecimalField(max_digits=5, decimal_places=1)
    days_needed = models.DecimalField(max_digits=10, decimal_places=1)
    components = models.JSONField(default=list)  # [{"key", "weight", "value", "points", "detail"}]

    class Meta:
        ordering = ["package", "rank"]
        indexes = [models.Index(fields=["run", "package", "rank"])]

    def __str__(self) -> str:
        return f"{self.package_id}/{self.firm_id}: {self.score}"


class AssignmentStatus(models.TextChoices):
    PROPOSED = "proposed", _("proposée")
    ADJUSTED = "adjusted", _("ajustée")


class Assignment(models.Model):
    """The lead and backup firms for one work package, proposed by a match run or adjusted by a person."""

    package = models.OneToOneField(WorkPackage, on_delete=models.CASCADE, related_name="assignment")
    run = models.ForeignKey(MatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments")
    lead = models.ForeignKey(
        "partners.PartnerFirm", null=True, blank=True, on_delete=models.SET_NULL, related_name="lead_assignments"
    )
    backup = models.ForeignKey(
        "partners.PartnerFirm", null=True, blank=True, on_delete=models.SET_NULL, related_name="backup_assignments"
    )
    lead_days = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    status = models.CharField(max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.PROPOSED)
    unassigned_reason = models.CharField(max_length=500, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.package}: {self.lead or '-'} / {self.backup or '-'}"


class InvitationStatus(models.TextChoices):
    SENT = "sent", _("envoyée")
    VIEWED = "viewed", _("consultée")
    ACCEPTED = "accepted", _("acceptée")
    DECLINED = "declined", _("déclinée")
    EXPIRED = "expired", _("expirée")
    WITHDRAWN = "withdrawn", _("retirée")
    SUPERSEDED = "superseded", _("remplacée")


# The declared table of allowed moves; anything else is refused. Revising an accepted price is not a
# move: the invitation stays accepted and its version goes up.
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    InvitationStatus.SENT: frozenset(
        {
            InvitationStatus.VIEWED,
            InvitationStatus.ACCEPTED,
            InvitationStatus.DECLINED,
            InvitationStatus.EXPIRED,
            InvitationStatus.WITHDRAWN,
            InvitationStatus.SUPERSEDED,
        }
    ),
    InvitationStatus.VIEWED: frozenset(
        {
            InvitationStatus.ACCEPTED,
            InvitationStatus.DECLINED,
            InvitationStatus.EXPIRED,
            InvitationStatus.WITHDRAWN,
            InvitationStatus.SUPERSEDED,
        }
    ),
    InvitationStatus.ACCEPTED: frozenset({InvitationStatus.WITHDRAWN}),
    InvitationStatus.DECLINED: frozenset(),
    InvitationStatus.EXPIRED: frozenset(),
    InvitationStatus.WITHDRAWN: frozenset(),
    InvitationStatus.SUPERSEDED: frozenset(),
}
OPEN_STATUSES = frozenset({InvitationStatus.SENT, InvitationStatus.VIEWED})
LIVE_STATUSES = OPEN_STATUSES | {InvitationStatus.ACCEPTED}


class InvitationSource(models.TextChoices):
    LEAD = "lead", _("entreprise retenue")
    BACKUP = "backup", _("entreprise de secours")
    CANDIDATE = "candidate", _("candidate suivante")
    MANUAL = "manual", _("invitée par le chargé d'affaires")


class Invitation(models.Model):
    """One work package offered to one firm, answered with the firm's own prices before `deadline`."""

    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="invitations")
    package = models.ForeignKey(WorkPackage, on_delete=models.CASCADE, related_name="invitations")
    firm = models.ForeignKey("partners.PartnerFirm", on_delete=models.CASCADE, related_name="invitations")
    status = models.CharField(
        _("statut"), max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.SENT
    )
    source = models.CharField(_("origine"), max_length=10, choices=InvitationSource.choices)
    candidate_rank = models.PositiveIntegerField(_("rang"), null=True, blank=True)
    deadline = models.DateTimeField(_("date limite de réponse"))
    sent_at = models.DateTimeField(_("envoyée le"))
    viewed_at = models.DateTimeField(_("consultée le"), null=True, blank=True)
    answered_at = models.DateTimeField(_("répondue le"), null=True, blank=True)
    closed_at = models.DateTimeField(_("close le"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("relancée le"), null=True, blank=True)
    decline_reason = models.TextField(_("motif du refus"), blank=True)
    note = models.TextField(_("note"), blank=True)
    team = models.TextField(_("équipe engagée"), blank=True)
    total = models.DecimalField(_("montant total HT"), null=True, blank=True, max_digits=14, decimal_places=2)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    version = models.PositiveIntegerField(default=1)
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["tender", "package__lot__position", "package__position", "-sent_at", "-id"]
        verbose_name = _("invitation")
        indexes = [
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["firm", "status"]),
        ]
        constraints = [
            # The backstop of the race: whatever the code does, one acceptance per package.
            models.UniqueConstraint(
                fields=["package"], condition=models.Q(status="accepted"), name="invitation_one_acceptance"
            ),
            models.UniqueConstraint(
                fields=["package", "firm"],
                condition=models.Q(status__in=["sent", "viewed", "accepted"]),
                name="invitation_one_live_per_firm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.package} -> {self.firm} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class InvitationPrice(models.Model):
    """The firm's own unit price (excl. VAT) for one line of the package."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="prices")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    unit_price = models.DecimalField(_("prix unitaire HT"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["line__position"]
        constraints = [models.UniqueConstraint(fields=["invitation", "line"], name="invitationprice_unique")]

    def __str__(self) -> str:
        return f"{self.line_id}: {self.unit_price}"


# The group offer's models live in their own module; importing them here registers them with the app.
from bids.offer_models import (  # noqa: E402,F401
    GroupOffer,
    OfferAllocation,
    OfferDocument,
    OfferLine,
    OfferMember,
    OfferVersion,
)
