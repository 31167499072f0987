"""What the service layer needs from the outside, as narrow interfaces.

`FinessePort` is the part of Finesse's REST API the agent use cases call
(`connector.finesse.rest.FinesseRest` is it); the notification transport's port is
`connector.finesse.notifications`; event sinks are `connector.stream.EventSink`. Tests and
new adapters implement these, not the whole connector.
"""

from __future__ import annotations

from typing import Protocol

from connector.finesse.models import (
    Dialog,
    DialogRequest,
    MobileAgent,
    ReasonCode,
    User,
    WrapUpReason,
)
from connector.finesse.rest import Credentials


class FinessePort(Protocol):
    async def get_user(self, creds: Credentials) -> User: ...

    async def get_dialogs(self, creds: Credentials) -> list[Dialog]: ...

    async def put_user(
        self,
        creds: Credentials,
        *,
        state: str,
        extension: str = "",
        reason_code_id: str = "",
        mobile_agent: MobileAgent | None = None,
        request_id: str | None = None,
    ) -> str: ...

    async def make_call(
        self,
        creds: Credentials,
        *,
        from_address: str,
        to_address: str,
        call_variables: dict[str, str] | None = None,
        request_id: str | None = None,
    ) -> str: ...

    async def dialog_action(
        self,
        creds: Credentials,
        dialog_id: str,
        request: DialogRequest,
        request_id: str | None = None,
    ) -> str: ...

    async def reason_codes(self, creds: Credentials, category: str) -> list[ReasonCode]: ...

    async def wrap_up_reasons(self, creds: Credentials) -> list[WrapUpReason]: ...
