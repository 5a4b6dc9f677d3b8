# Offer prices, contracts, ledger and redistribution arrive with their issues.
