from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "pricing"
    verbose_name = "Prix et redistribution"

    def ready(self) -> None:
        from consortium import demo_steps
        from consortium.offer_pricing import register

        from .demo import build_demo_contract
        from .demo_contributions import build_demo_contributions
        from .offer_pricing import OfferPricingAdapter

        register(OfferPricingAdapter())
        demo_steps.register(build_demo_contract)
        demo_steps.register(build_demo_contributions)  # after the contract: it pays from its funds
