"""`manage.py load_catalogues`: what a production installation loads instead of the demo."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from consortium.models import CpvCode
from partners.models import PartnerFirm, Skill


@pytest.mark.django_db
def test_load_catalogues_loads_cpv_and_skills_only_and_twice_changes_nothing() -> None:
    out = StringIO()
    call_command("load_catalogues", stdout=out)
    cpv, skills = CpvCode.objects.count(), Skill.objects.count()
    assert cpv == 9454
    assert skills > 200
    assert f"{cpv} CPV codes, {skills} skills" in out.getvalue()
    assert not PartnerFirm.objects.exists()
    call_command("load_catalogues", stdout=StringIO())
    assert (CpvCode.objects.count(), Skill.objects.count()) == (cpv, skills)
