"""Register extract requests (GDPR art. 15): a person asked what we hold about them.

A request that is not yet delivered blocks gallring of that person's cases (the answer must
describe what we held when they asked).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kontaktcenter.core.extensions import Model, UTCDateTime, str_enum, utcnow


class ExtractStatus(StrEnum):
    PENDING = "pending"  # asked, not yet delivered: blocks gallring
    DELIVERED = "delivered"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"pending": "Pågående", "delivered": "Levererat", "withdrawn": "Återkallat"}[
            self.value
        ]


class RegisterExtractRequest(Model):
    __tablename__ = "register_extract_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[ExtractStatus] = mapped_column(
        str_enum(ExtractStatus), default=ExtractStatus.PENDING
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
