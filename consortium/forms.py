"""What every form page shares."""

from __future__ import annotations

from django import forms


def form_errors(form: forms.Form) -> list[str]:
    """Every error of a bound form, once each, in the order of the fields, each naming its field."""
    lines: list[str] = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            line = f"{label} : {error}" if label else str(error)
            if line not in lines:
                lines.append(line)
    return lines
