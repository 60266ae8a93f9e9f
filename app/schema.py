"""The whole schema: imports every domain's models so Alembic and the tests see all tables."""

from app.accounts import models as accounts_models
from app.bank import models as bank_models
from app.core import audit
from app.core.db import Base
from app.exams import models as exams_models
from app.exams.admission import seats as admission_seats
from app.exams.room import flags as room_flags
from app.handbook import models as handbook_models
from app.learning import models as learning_models
from app.org import models as org_models
from app.papers import models as papers_models

__all__ = [
    "Base",
    "accounts_models",
    "admission_seats",
    "audit",
    "bank_models",
    "exams_models",
    "handbook_models",
    "learning_models",
    "org_models",
    "papers_models",
    "room_flags",
]
