"""The contract of tests/ledger (firms A and B members of a won, signed offer) for the contribution tests."""

from tests.ledger.conftest import ledger_contract

__all__ = ["ledger_contract"]
