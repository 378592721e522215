"""Client errors as values: a status, a human-readable detail and the fields at fault.

Every 4xx the service answers is one of these, rendered as
``{"detail": "...", "errors": [{"path": "data.Quantity", "message": "..."}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str
    message: str

    def under(self, prefix: str) -> FieldError:
        """The same error seen from an enclosing document (``[2]`` + ``.data.Quantity``)."""
        if not prefix:
            return self
        if not self.path:
            return FieldError(prefix, self.message)
        joiner = "" if self.path.startswith("[") else "."
        return FieldError(f"{prefix}{joiner}{self.path}", self.message)


@dataclass(slots=True)
class Problem(Exception):
    status: int
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {
            "detail": self.detail,
            "errors": [{"path": e.path, "message": e.message} for e in self.errors],
        }

    def __str__(self) -> str:
        return f"{self.status} {self.detail}"


def bad_request(detail: str, *errors: FieldError) -> Problem:
    return Problem(400, detail, list(errors))


def unprocessable(detail: str, errors: list[FieldError]) -> Problem:
    return Problem(422, detail, errors)
