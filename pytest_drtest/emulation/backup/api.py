"""Response-shape helpers of the AWS Backup emulator: errors, None-less records, List* paging."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError
from botocore.utils import parse_to_aware_datetime

from pytest_drtest.emulation.core import AwsError


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message)


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or exc)


def compact(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if value is not None}


def paged(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """Apply ``MaxResults``/``NextToken`` (an offset) to a list response."""
    token = params.get("NextToken") or "0"
    if not str(token).isdigit():
        raise invalid(f"Invalid NextToken {token!r}")
    start = int(token)
    limit = int(params.get("MaxResults") or 1000)
    page: dict[str, Any] = {key: items[start : start + limit]}
    if start + limit < len(items):
        page["NextToken"] = str(start + limit)
    return page


def aware(value: Any) -> _dt.datetime | None:
    return None if value is None else parse_to_aware_datetime(value)


def field_at(record: dict[str, Any], path: str) -> Any:
    """``record["A"]["B"]`` for ``path`` ``"A.B"`` (None when absent)."""
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def listing(
    records: Iterable[dict[str, Any]], params: dict[str, Any], equal: dict[str, str], key: str
) -> dict[str, Any]:
    """A List* response: ``records`` kept by the ``By*`` filters, then paged.

    ``equal`` maps a filter parameter to the record field it must equal; ``ByCreatedAfter/Before``
    and ``ByCompleteAfter/Before`` compare ``CreationDate`` and ``CompletionDate``.
    """
    created_after, created_before = aware(params.get("ByCreatedAfter")), aware(params.get("ByCreatedBefore"))
    done_after, done_before = aware(params.get("ByCompleteAfter")), aware(params.get("ByCompleteBefore"))

    def keep(record: dict[str, Any]) -> bool:
        if any(params.get(name) and field_at(record, path) != params[name] for name, path in equal.items()):
            return False
        created: Any = record.get("CreationDate")  # every listed record has one
        completed = record.get("CompletionDate")
        if (created_after and created < created_after) or (created_before and created > created_before):
            return False
        if done_after is None and done_before is None:
            return True
        return completed is not None and not (
            (done_after and completed < done_after) or (done_before and completed > done_before)
        )

    return paged([record for record in records if keep(record)], params, key)
