"""Switchboard escalations for Temporal workflows (Python SDK, ``temporalio``).

Copy this file next to your workflows. A workflow that has exhausted its automated paths calls
``await escalation.wait_for_person(...)``: the execution marks itself pending with search
attributes (so the console's visibility query finds it), answers the context Query, and takes
the ``claim``, ``release`` and ``resolve`` Updates until a person resolves it. The contract is
docs/temporal.md; every name below can be changed there and in the console's config together.

Everything here runs inside the workflow, so it is deterministic: times come from
``workflow.now()``, and a lease expires on a workflow timer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

# Lease lengths and text bounds, as in protocol v1 (crates/protocol/src/escalations/mod.rs).
DEFAULT_LEASE_S = 300
MIN_LEASE_S = 30
MAX_LEASE_S = 1800
MAX_NOTE_BYTES = 4096
MAX_OUTPUT_BYTES = 64 * 1024

PRIORITIES = ("p1", "p2", "p3", "p4")
REASONS = ("paths-exhausted", "low-confidence", "validator-failed", "policy")
RESOLUTION_KINDS = ("approve", "submit", "reject", "abort", "retry", "handoff")

# Failure types of a rejected Update (ApplicationError.type); the console tells them apart.
HELD = "SwitchboardHeld"  # claimed by someone else: details name the holder
CLOSED = "SwitchboardClosed"  # already resolved: details name who, how and when
INVALID = "SwitchboardInvalid"  # the request itself is wrong (no note, unknown candidate...)
NOT_ESCALATED = "SwitchboardNotEscalated"  # the workflow is not waiting for a person


@dataclass(frozen=True)
class Names:
    """Search attributes, memo key, Query and Updates of the contract (docs/temporal.md)."""

    state: str = "SwitchboardState"
    priority: str = "SwitchboardPriority"
    deadline: str = "SwitchboardDeadline"
    service: str = "SwitchboardService"
    reason: str = "SwitchboardReason"
    assignee: str = "SwitchboardAssignee"
    memo: str = "switchboard"
    query: str = "switchboard_escalation"
    claim: str = "switchboard_claim"
    release: str = "switchboard_release"
    resolve: str = "switchboard_resolve"


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class Escalation:
    """The handlers of one workflow execution. Create it in the workflow's ``__init__``
    (decorated ``@workflow.init``) or at the top of ``run``, so that the Query and the Updates
    exist from the start; they reject politely until the workflow escalates."""

    def __init__(self, names: Names = Names()) -> None:
        self.names = names
        self._task: dict[str, Any] | None = None  # the open escalation's detail
        self._lease: dict[str, str] | None = None
        self._applied: dict[str, Any] | None = None
        self._history: list[dict[str, Any]] = []
        self._revision = 0
        self._escalations = 0
        workflow.set_query_handler(names.query, self._query)
        workflow.set_update_handler(names.claim, self._claim, validator=self._check_claim)
        workflow.set_update_handler(names.release, self._release, validator=self._check_release)
        workflow.set_update_handler(names.resolve, self._resolve, validator=self._check_resolve)

    async def wait_for_person(
        self,
        *,
        step: str,
        service: str,
        priority: str,
        sla: timedelta,
        reason: str,
        reason_text: str,
        context: Any,
        input_preview: str,
        candidates: list[dict[str, Any]],
        checkpoint: dict[str, Any],
        idempotency_key: str,
        attempts: int,
        confidence_threshold: float = 0.8,
    ) -> dict[str, Any]:
        """Escalates and waits until a person resolves; returns the applied resolution
        (``{"resolution": {"kind": ...}, "note", "by", "at", "idempotency_key"}``). A hand-off
        keeps waiting (for the new assignee); every other kind returns."""
        if priority not in PRIORITIES or reason not in REASONS:
            raise ValueError(f"priority must be one of {PRIORITIES}, reason one of {REASONS}")
        now = workflow.now()
        self._escalations += 1
        self._applied = None
        self._lease = None
        self._task = {
            "step": step,
            "service": service,
            "priority": priority,
            "sla_deadline": _stamp(now + sla),
            "reason": reason,
            "reason_text": reason_text,
            "input_preview": input_preview,
            "created_at": _stamp(now),
            "attempts": attempts,
            "assignee": None,
            "context": context,
            "candidates": candidates,
            "confidence_threshold": confidence_threshold,
            "checkpoint": checkpoint,
            "idempotency_key": idempotency_key,
        }
        self._publish()
        while self._applied is None:
            lease = self._lease
            timeout = None
            if lease is not None:
                left = datetime.fromisoformat(lease["expires_at"]) - workflow.now()
                timeout = max(left.total_seconds(), 0.001)
            try:
                await workflow.wait_condition(
                    lambda: self._applied is not None or self._lease is not lease,
                    timeout=timeout,
                )
            except asyncio.TimeoutError:
                self._record("system", "lease-expired")
                self._lease = None
                self._publish()
        # Every Update handler has returned before the workflow goes on (and may complete).
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._applied

    # --- what the console reads ------------------------------------------------------------

    def _state(self) -> str:
        if self._applied is not None:
            kind = self._applied["resolution"]["kind"]
            return "aborted" if kind == "abort" else "resolved"
        return "claimed" if self._lease is not None else "pending"

    def _summary(self) -> dict[str, Any]:
        task = self._task or {}
        info = workflow.info()
        applied = self._applied
        return {
            "id": info.workflow_id,
            "workflow_id": info.workflow_id,
            "run_id": info.run_id,
            "workflow_type": info.workflow_type,
            "step": task.get("step", ""),
            "service": task.get("service", ""),
            "priority": task.get("priority", "p4"),
            "sla_deadline": task.get("sla_deadline"),
            "reason": task.get("reason", "policy"),
            "reason_text": task.get("reason_text", ""),
            "input_preview": task.get("input_preview", ""),
            "state": self._state(),
            "lease": self._lease,
            "resolution": applied
            and {"by": applied["by"], "kind": applied["resolution"]["kind"], "at": applied["at"]},
            "assignee": task.get("assignee"),
            "created_at": task.get("created_at"),
            "attempts": task.get("attempts", 0),
            "revision": self._revision,
        }

    def _query(self) -> dict[str, Any]:
        """protocol v1's Escalation without `lineage`: the console reads that from history."""
        if self._task is None:
            raise ApplicationError("this workflow has not escalated", type=NOT_ESCALATED)
        task = self._task
        return {
            "summary": self._summary(),
            "context": task["context"],
            "candidates": task["candidates"],
            "confidence_threshold": task["confidence_threshold"],
            "checkpoint": task["checkpoint"],
            "idempotency_key": task["idempotency_key"],
            "history": self._history,
            "applied": self._applied,
            "escalation_number": self._escalations,
        }

    def _publish(self) -> None:
        """Search attributes for the console's visibility query; the memo for its rows."""
        self._revision += 1
        task = self._task
        assert task is not None
        names = self.names
        assignee = SearchAttributeKey.for_keyword(names.assignee)
        workflow.upsert_search_attributes(
            [
                SearchAttributeKey.for_keyword(names.state).value_set(self._state()),
                SearchAttributeKey.for_keyword(names.priority).value_set(task["priority"]),
                SearchAttributeKey.for_datetime(names.deadline).value_set(
                    datetime.fromisoformat(task["sla_deadline"])
                ),
                SearchAttributeKey.for_keyword(names.service).value_set(task["service"]),
                SearchAttributeKey.for_keyword(names.reason).value_set(task["reason"]),
                assignee.value_set(task["assignee"])
                if task["assignee"]
                else assignee.value_unset(),
            ]
        )
        workflow.upsert_memo({names.memo: self._summary()})

    def _record(self, actor: str, action: str, **extra: Any) -> None:
        entry = {"at": _stamp(workflow.now()), "actor": actor, "action": action}
        entry.update({k: v for k, v in extra.items() if v})
        self._history.append(entry)

    # --- validators: they run before an Update is accepted and must not change anything ----

    def _check_open(self, operator: Any, *, holder_may_be_other: bool) -> None:
        if not isinstance(operator, str) or not operator.strip():
            raise ApplicationError("the request names no operator", type=INVALID)
        if self._task is None:
            raise ApplicationError("this workflow is not waiting for a person", type=NOT_ESCALATED)
        applied = self._applied
        if applied is not None:
            kind = applied["resolution"]["kind"]
            raise ApplicationError(
                f"already resolved by {applied['by']} ({kind}) at {applied['at']}",
                {"resolved_by": applied["by"], "resolution": kind, "resolved_at": applied["at"]},
                type=CLOSED,
                non_retryable=True,
            )
        lease = self._live_lease()
        if not holder_may_be_other and lease is not None and lease["holder"] != operator:
            raise ApplicationError(
                f"claimed by {lease['holder']} until {lease['expires_at']}",
                {"holder": lease["holder"], "lease_expires_at": lease["expires_at"]},
                type=HELD,
                non_retryable=True,
            )

    def _live_lease(self) -> dict[str, str] | None:
        lease = self._lease
        if lease is None or datetime.fromisoformat(lease["expires_at"]) <= workflow.now():
            return None
        return lease

    def _check_claim(self, request: dict[str, Any]) -> None:
        self._check_open(request.get("operator"), holder_may_be_other=False)
        lease_s = request.get("lease_s", DEFAULT_LEASE_S)
        if not isinstance(lease_s, int) or not MIN_LEASE_S <= lease_s <= MAX_LEASE_S:
            raise ApplicationError(
                f"lease_s must be {MIN_LEASE_S}..={MAX_LEASE_S}", type=INVALID
            )

    def _check_release(self, request: dict[str, Any]) -> None:
        operator = request.get("operator")
        self._check_open(operator, holder_may_be_other=False)
        if self._live_lease() is None:
            raise ApplicationError("nobody holds this task", type=INVALID)

    def _check_resolve(self, request: dict[str, Any]) -> None:
        self._check_open(request.get("operator"), holder_may_be_other=False)
        note = request.get("note")
        if not isinstance(note, str) or not note.strip() or len(note.encode()) > MAX_NOTE_BYTES:
            raise ApplicationError(
                f"a note is required (1..={MAX_NOTE_BYTES} bytes)", type=INVALID
            )
        resolution = request.get("resolution")
        kind = resolution.get("kind") if isinstance(resolution, dict) else None
        if kind not in RESOLUTION_KINDS:
            raise ApplicationError(
                f"resolution kind must be one of {RESOLUTION_KINDS}", type=INVALID
            )
        assert self._task is not None
        if kind == "approve":
            ids = [c.get("id") for c in self._task["candidates"]]
            if resolution.get("candidate") not in ids:
                raise ApplicationError(
                    f"no candidate {resolution.get('candidate')!r}; candidates: {ids}",
                    type=INVALID,
                )
        if kind == "submit":
            output = resolution.get("output")
            if not isinstance(output, str) or len(output.encode()) > MAX_OUTPUT_BYTES:
                raise ApplicationError(
                    f"output must be text of at most {MAX_OUTPUT_BYTES} bytes", type=INVALID
                )
        if kind == "reject" and not str(resolution.get("reason", "")).strip():
            raise ApplicationError("a rejection needs a reason", type=INVALID)
        if kind == "handoff" and not str(resolution.get("to", "")).strip():
            raise ApplicationError("a hand-off names the operator it goes to", type=INVALID)

    # --- handlers: the accepted Updates ----------------------------------------------------

    async def _claim(self, request: dict[str, Any]) -> dict[str, Any]:
        operator = request["operator"]
        now = workflow.now()
        lease_s = request.get("lease_s", DEFAULT_LEASE_S)
        renewing = self._live_lease() is not None
        claimed_at = self._lease["claimed_at"] if renewing and self._lease else _stamp(now)
        self._lease = {
            "holder": operator,
            "claimed_at": claimed_at,
            "expires_at": _stamp(now + timedelta(seconds=lease_s)),
        }
        self._record(operator, "renewed" if renewing else "claimed")
        self._publish()
        return self._summary()

    async def _release(self, request: dict[str, Any]) -> dict[str, Any]:
        self._lease = None
        self._record(request["operator"], "released", note=request.get("note"))
        self._publish()
        return self._summary()

    async def _resolve(self, request: dict[str, Any]) -> dict[str, Any]:
        operator, resolution, note = request["operator"], request["resolution"], request["note"]
        update = workflow.current_update_info()
        applied = {
            "resolution": resolution,
            "note": note,
            "by": operator,
            "at": _stamp(workflow.now()),
            "idempotency_key": update.id if update else "",
        }
        kind = resolution["kind"]
        assert self._task is not None
        self._lease = None
        if kind == "handoff":
            self._task["assignee"] = resolution["to"]
            self._record(operator, "handed-off", note=note, assignee=resolution["to"])
            consequence = f"handed to {resolution['to']}; the task stays pending"
        else:
            self._applied = applied
            self._record(operator, "aborted" if kind == "abort" else "resolved", note=note)
            consequence = {
                "approve": "the workflow resumes from its checkpoint with the approved output",
                "submit": "the workflow resumes from its checkpoint with the submitted output",
                "reject": "the workflow takes its rejection path",
                "abort": "the workflow ends, aborted",
                "retry": "the workflow runs the step again through the chosen path",
            }[kind]
        self._publish()
        return {"escalation": self._summary(), "applied": applied, "consequence": consequence}
