from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "pricing"
    verbose_name = "Prix et redistribution"

    def ready(self) -> None:
        from consortium.offer_pricing import register

        from .offer_pricing import OfferPricingAdapter

        register(OfferPricingAdapter())
