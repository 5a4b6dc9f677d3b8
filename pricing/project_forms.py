"""Forms of the upstream project pages: the project, one observation of its community, a file of observations.

They check the shape of what was typed; the rules (a unique name, an https manifest, no observation from
the future) stay in `pricing.services.commitments`, whose refusals the views show next to the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partners.models import Skill

from .forms import FinanceImportForm, date_field
from .models import FundingChannel, UpstreamProject
from .services.commitments import ProjectInput, SignalInput

MAX_SKILLS = 40
SKILL_LIST_ROWS = 12
MAX_COUNT = 1_000_000


class SkillChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        upstream = obj.upstream_project.strip()
        return f"{obj.name} ({upstream})" if upstream and upstream.casefold() != obj.name.casefold() else obj.name


class ProjectForm(forms.Form):
    name = forms.CharField(label=_("Nom du projet"), max_length=200)
    repository_url = forms.URLField(label=_("Dépôt"), max_length=500, required=False, assume_scheme="https")
    licence = forms.CharField(label=_("Licence"), max_length=100, required=False)
    description = forms.CharField(
        label=_("Présentation"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    funding_manifest_url = forms.URLField(
        label=_("Manifeste de financement (funding.json)"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("adresse https:// du fichier funding.json publié par le projet"),
    )
    funding_channel = forms.ChoiceField(
        label=_("Reçoit l'argent par"), choices=[("", "—"), *FundingChannel.choices], required=False
    )
    fiscal_host = forms.CharField(label=_("Hôte fiscal ou bénéficiaire"), max_length=200, required=False)
    funding_url = forms.URLField(label=_("Page de financement"), max_length=500, required=False, assume_scheme="https")
    skills = SkillChoiceField(
        label=_("Compétences du catalogue"),
        queryset=Skill.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": SKILL_LIST_ROWS, "class": "skill-select"}),
        help_text=_("Ctrl (ou Cmd) + clic pour en choisir plusieurs ; tapez les premières lettres pour sauter au nom."),
    )

    @classmethod
    def of(cls, project: UpstreamProject) -> dict[str, Any]:
        """The initial values of an existing project."""
        return {
            "name": project.name,
            "repository_url": project.repository_url,
            "licence": project.licence,
            "description": project.description,
            "funding_manifest_url": project.funding_manifest_url,
            "funding_channel": project.funding_channel,
            "fiscal_host": project.fiscal_host,
            "funding_url": project.funding_url,
            "skills": list(project.skills.values_list("pk", flat=True)),
        }

    def clean_skills(self) -> Any:
        skills = self.cleaned_data["skills"]
        if len(skills) > MAX_SKILLS:
            raise forms.ValidationError(
                _("%(n)s compétences choisies : %(max)s au plus."), params={"n": len(skills), "max": MAX_SKILLS}
            )
        return skills

    def to_input(self) -> ProjectInput:
        data = self.cleaned_data
        return ProjectInput(
            name=data["name"],
            repository_url=data["repository_url"],
            licence=data["licence"],
            description=data["description"],
            funding_manifest_url=data["funding_manifest_url"],
            funding_channel=data["funding_channel"],
            fiscal_host=data["fiscal_host"],
            funding_url=data["funding_url"],
            skill_ids=[skill.pk for skill in data["skills"]],
        )


class SignalForm(forms.Form):
    observed_on = date_field(_("Observé le"))
    active_contributors = forms.IntegerField(
        label=_("Contributeurs actifs (12 mois)"), required=False, min_value=0, max_value=MAX_COUNT
    )
    releases_last_year = forms.IntegerField(
        label=_("Versions publiées (12 mois)"), required=False, min_value=0, max_value=MAX_COUNT
    )
    last_release_on = date_field(_("Dernière version le"), required=False, today=False)
    source_url = forms.URLField(label=_("Source"), max_length=500, required=False, assume_scheme="https")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and all(
            data.get(name) is None for name in ("active_contributors", "releases_last_year", "last_release_on")
        ):
            raise forms.ValidationError(
                _("Donnez au moins un signal : contributeurs actifs, versions publiées ou date de la dernière version.")
            )
        return data

    def to_input(self) -> SignalInput:
        data = self.cleaned_data
        return SignalInput(
            observed_on=data["observed_on"],
            active_contributors=data["active_contributors"],
            releases_last_year=data["releases_last_year"],
            last_release_on=data["last_release_on"],
            source_url=data["source_url"],
        )


class SignalImportForm(forms.Form):
    file = forms.FileField(label=_("Fichier XLSX ou CSV"))

    clean_file = FinanceImportForm.clean_file  # the same size limit and empty-file refusal
