import pytest


@pytest.fixture(autouse=True)
def ledger_agrees(request):
    """After every database test here, each level equals the sum of its movements (a test
    that makes drift on purpose repairs it before it ends)."""
    yield
    if request.node.get_closest_marker("django_db") is None:
        return
    from inventory.services.ledger import ledger_drift

    assert ledger_drift() == []
