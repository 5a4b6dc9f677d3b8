from django.contrib import admin

from .models import Membership, PartnerFirm

admin.site.register(PartnerFirm)
admin.site.register(Membership)
