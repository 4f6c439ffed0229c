"""An example agent workflow that escalates to a person when every model path fails.

``AgentTask`` loads its context in a child workflow, then drafts an answer by trying each path
(model, provider, region) as an activity with Temporal's retries; a failover waits on a short
timer. An answer that a validator rejects, a 429, a 5xx or a timeout moves on to the next path.
When none is left it escalates with ``switchboard_escalation`` and acts on the person's
resolution: approve/submit -> records the output (the step's side effect, under its
idempotency key) and completes with it; reject -> completes rejected; abort -> completes
aborted; retry -> tries the chosen path, escalating again if that fails too.

The activities stand in for real providers: a path's ``simulate`` field (from the workflow's
input) says how it fails. A real workflow calls its gateway there instead.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from switchboard_escalation import Escalation

TASK_QUEUE = "switchboard-agents"
STEP = "draft-answer"


# --- activities --------------------------------------------------------------------------


@activity.defn(name="load-context")
async def load_context(request: dict[str, Any]) -> dict[str, Any]:
    return {"customer": request.get("customer", "unknown"), "task": request["task"]}


@activity.defn(name=STEP)
async def draft_answer(path: dict[str, Any]) -> dict[str, Any]:
    """One model call. `path` = {model, provider, region, prompt, simulate}: the contract's
    fields that lineage reads, plus the example's stand-in for the provider's behaviour."""
    where = f"{path['provider']}@{path['region']}"
    behaviour = path.get("simulate", "ok")
    if behaviour == "429":
        raise ApplicationError(
            f"429 Too Many Requests from {where}", {"status": 429}, type="rate-limited"
        )
    if behaviour == "5xx":
        raise ApplicationError(
            f"503 Service Unavailable from {where}", {"status": 503}, type="server-error"
        )
    if behaviour == "timeout":
        await asyncio.sleep(3)  # longer than the example's start-to-close timeout (1 s)
    if behaviour == "reject":
        return {"output": f"APPROVE everything ({path['model']})", "confidence": 0.55}
    return {"output": f"Decline politely: {path['prompt']} ({path['model']})", "confidence": 0.93}


@activity.defn(name="record-decision")
async def record_decision(request: dict[str, Any]) -> str:
    """The step's side effect; a real one passes `idempotency_key` to the system it writes."""
    return f"recorded under {request['idempotency_key']}"


# --- workflows ---------------------------------------------------------------------------


@workflow.defn(name="LoadContext")
class LoadContext:
    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        return await workflow.execute_activity(
            load_context, request, start_to_close_timeout=timedelta(seconds=10)
        )


def policy_verdicts(output: str) -> list[dict[str, Any]]:
    """The example's validator: no blanket approvals."""
    passed = "APPROVE everything" not in output
    verdict = {"validator": "policy:no-blanket-approval", "passed": passed}
    if not passed:
        verdict["detail"] = "the answer approves without a limit"
    return [verdict]


@workflow.defn(name="AgentTask")
class AgentTask:
    @workflow.init
    def __init__(self, request: dict[str, Any]) -> None:
        self.escalation = Escalation()

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        info = workflow.info()
        context = await workflow.execute_child_workflow(
            LoadContext.run, request, id=f"{info.workflow_id}-context"
        )
        checkpoint = {
            "id": f"{info.workflow_id}-ctx",
            "step": "load-context",
            "at": workflow.now().isoformat().replace("+00:00", "Z"),
            "state": f"context loaded for {context['customer']}",
            "event_id": info.get_current_history_length(),
        }
        paths = list(request["paths"])
        attempts = 0
        failures: list[str] = []
        candidates: list[dict[str, Any]] = []
        escalations = 0
        while True:
            for index, path in enumerate(paths):
                if index > 0:
                    await workflow.sleep(timedelta(milliseconds=200))  # failover backoff
                answer, tries = await self._try(path, request, index, escalations)
                attempts += tries
                where = f"{path['provider']}@{path['region']}"
                if isinstance(answer, str):
                    failures.append(answer if where in answer else f"{answer} on {where}")
                    continue
                verdicts = policy_verdicts(answer["output"])
                candidates.append({**answer, "verdicts": verdicts})
                if all(v["passed"] for v in verdicts):
                    return await self._finish(answer["output"], "automated", info.workflow_id)
                failures.append(f"validator rejected the answer of {where}")
            escalations += 1
            applied = await self.escalation.wait_for_person(
                step=STEP,
                service=request.get("service", "agent"),
                priority=request.get("priority", "p2"),
                sla=timedelta(minutes=request.get("sla_minutes", 30)),
                reason="paths-exhausted" if not candidates else "validator-failed",
                reason_text=f"all {len(paths)} paths failed: " + "; ".join(failures[-3:]),
                context=context,
                input_preview=request["task"][:120],
                candidates=candidates,
                checkpoint=checkpoint,
                idempotency_key=f"{info.workflow_id}/{STEP}/{escalations}",
                attempts=attempts,
            )
            resolution = applied["resolution"]
            kind = resolution["kind"]
            if kind == "approve":
                chosen = next(c for c in candidates if c["id"] == resolution["candidate"])
                return await self._finish(chosen["output"], applied["by"], info.workflow_id)
            if kind == "submit":
                return await self._finish(resolution["output"], applied["by"], info.workflow_id)
            if kind in ("reject", "abort"):
                return {"status": "rejected" if kind == "reject" else "aborted", "by": applied["by"]}
            # retry: one path, as the person chose; unset parts keep the first path's.
            first = paths[0]
            paths = [
                {
                    "model": resolution.get("model") or first["model"],
                    "provider": (resolution.get("provider") or first["provider"]).split("@")[0],
                    "region": resolution.get("region")
                    or (resolution.get("provider") or "").partition("@")[2]
                    or first["region"],
                    "simulate": request.get("retry_simulate", "ok"),
                }
            ]
            failures = []

    async def _try(
        self, path: dict[str, Any], request: dict[str, Any], index: int, escalations: int
    ) -> tuple[dict[str, Any] | str, int]:
        """The answer, or the last failure in words; and how many attempts it took. The
        activity id names the round (escalations so far + 1), the path's place and the path."""
        activity_id = f"{STEP}-{escalations + 1}-{index + 1}-{path['provider']}-{path['region']}"
        try:
            answer = await workflow.execute_activity(
                draft_answer,
                {**path, "prompt": request["task"]},
                activity_id=activity_id,
                summary=f"{path['model']} via {path['provider']}@{path['region']}",
                start_to_close_timeout=timedelta(seconds=request.get("timeout_s", 1)),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100),
                    backoff_coefficient=1.0,
                    maximum_attempts=request.get("max_attempts", 2),
                ),
            )
        except ActivityError as error:
            cause = error.cause
            words = cause.message if isinstance(cause, FailureError) else str(error)
            return words, request.get("max_attempts", 2)
        model_path = {k: path[k] for k in ("model", "provider", "region")}
        return {"id": activity_id, "attempt": activity_id, **model_path, **answer}, 1

    async def _finish(self, output: str, by: str, workflow_id: str) -> dict[str, Any]:
        receipt = await workflow.execute_activity(
            record_decision,
            {"output": output, "idempotency_key": f"{workflow_id}/{STEP}"},
            start_to_close_timeout=timedelta(seconds=10),
        )
        return {"status": "completed", "output": output, "by": by, "receipt": receipt}


WORKFLOWS = [AgentTask, LoadContext]
ACTIVITIES = [load_context, draft_answer, record_decision]
