"""Finesse's limits on call data: which variables a request may set, and how long they are.

Checked on a customer's call as it arrives, on MAKE_CALL and on UPDATE_CALL_DATA.
"""

from __future__ import annotations

from connector.finesse.models import CALL_VARIABLE_NAMES, ECC_PREFIX
from finesse_sim.model.errors import finesse_error

BA_VARIABLES = frozenset(
    {
        "BACampaign",
        "BAAccountNumber",
        "BAResponse",
        "BAStatus",
        "BADialedListID",
        "BATimeZone",
        "BABuddyName",
        "BACustomerNumber",
    }
)
CALL_VARIABLE_MAX_BYTES = 40
ECC_MAX_BYTES = 2000


def check_variables(variables: dict[str, str]) -> None:
    """Raises Finesse's 400 for a read-only (Outbound Option), unknown or too long one."""
    ecc = 0
    for name, value in variables.items():
        if name in BA_VARIABLES:
            raise finesse_error(400, "Invalid Input", f"{name} may not be set", name)
        if name in CALL_VARIABLE_NAMES:
            if len(value.encode()) > CALL_VARIABLE_MAX_BYTES:
                raise finesse_error(400, "Invalid Input", f"{name} is longer than 40 bytes", name)
        elif name.startswith(ECC_PREFIX) and len(name) > len(ECC_PREFIX):
            ecc += len(name.encode()) + len(value.encode())
        else:
            raise finesse_error(400, "Invalid Input", f"Unknown call variable {name}", name)
    if ecc > ECC_MAX_BYTES:
        raise finesse_error(
            400, "Invalid Input", "ECC variables exceed 2000 bytes", "callvariables"
        )
