import pytest

from tests.support.udata_standin import UdataStandIn


@pytest.fixture
def udata():
    """The stand-in; every request the test made must have been one the real API accepts."""
    with UdataStandIn(stall_timeout=5) as standin:
        yield standin
        assert standin.violations == []
        assert standin.unsupported == []
        assert standin.internal_errors == []
