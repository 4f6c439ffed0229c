"""Starts N example agent workflows that will escalate:
`python start_workflows.py --address 127.0.0.1:7233 --count 20`.

Each gets paths that fail in a mix of ways (429, 5xx, timeout, validator rejection), a
priority and an SLA. `--paths` replaces the mix with a JSON list of paths for every workflow
(`[{"model": ..., "provider": ..., "region": ..., "simulate": "429"|"5xx"|"timeout"|"reject"|"ok"}]`).
Prints the started workflow ids, one a line.

`--priority WORD` gives them all that priority (words outside the contract too; `none` leaves
the search attribute unset, with `--listing-only`).

`--listing-only` starts them already escalated, on a task queue no worker polls: the search
attributes and memo of docs/temporal.md are set at start. They can be listed (benchmarks of
the list), not queried or resolved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from datetime import datetime, timedelta, timezone  # noqa: E402

from temporalio.client import Client  # noqa: E402
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes  # noqa: E402

from example_agent import TASK_QUEUE  # noqa: E402

FAILURES = ["429", "5xx", "reject", "429", "5xx"]
PATHS = [
    ("gpt-4o", "openai", "us-east"),
    ("claude-sonnet", "anthropic", "us-west"),
    ("gemini-pro", "google", "eu-west"),
]


def mixed_paths(n: int) -> list[dict[str, str]]:
    return [
        {"model": m, "provider": p, "region": r, "simulate": FAILURES[(n + i) % len(FAILURES)]}
        for i, (m, p, r) in enumerate(PATHS)
    ]


def escalated_at_start(workflow_id: str, request: dict) -> dict:
    """The search attributes and memo an escalated AgentTask would have upserted."""
    now = datetime.now(timezone.utc)
    deadline = now + timedelta(minutes=request["sla_minutes"])
    stamp = lambda at: at.isoformat().replace("+00:00", "Z")  # noqa: E731
    keyword = SearchAttributeKey.for_keyword
    summary = {
        "id": workflow_id, "workflow_id": workflow_id, "run_id": "", "workflow_type": "AgentTask",
        "step": "draft-answer", "service": request["service"], "priority": request["priority"],
        "sla_deadline": stamp(deadline), "reason": "paths-exhausted",
        "reason_text": "all paths failed (started escalated, for listing only)",
        "input_preview": request["task"], "state": "pending", "lease": None, "resolution": None,
        "assignee": None, "created_at": stamp(now), "attempts": 0, "revision": 1,
    }
    pairs = [
        SearchAttributePair(keyword("SwitchboardState"), "pending"),
        SearchAttributePair(keyword("SwitchboardPriority"), request["priority"]),
        SearchAttributePair(SearchAttributeKey.for_datetime("SwitchboardDeadline"), deadline),
        SearchAttributePair(keyword("SwitchboardService"), request["service"]),
        SearchAttributePair(keyword("SwitchboardReason"), "paths-exhausted"),
    ]
    if request["priority"] == "none":
        pairs = [p for p in pairs if p.key.name != "SwitchboardPriority"]
    attributes = TypedSearchAttributes(pairs)
    return {"search_attributes": attributes, "memo": {"switchboard": summary}}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--prefix", default="agent-task")
    parser.add_argument("--paths", help="JSON list of paths for every workflow")
    parser.add_argument("--max-attempts", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--listing-only", action="store_true")
    parser.add_argument(
        "--priority",
        help="one priority word for every workflow (any word; 'none' leaves it unset)",
    )
    args = parser.parse_args()
    client = await Client.connect(args.address, namespace=args.namespace)
    fixed = json.loads(args.paths) if args.paths else None
    gate = asyncio.Semaphore(args.concurrency)

    async def start(n: int) -> str:
        request = {
            "task": f"Customer {n} asks for a credit line of {1000 + 37 * n} EUR",
            "customer": f"customer-{n}",
            "service": ["credit-decision", "support-reply", "kyc-check"][n % 3],
            "priority": args.priority or ["p1", "p2", "p3", "p4"][n % 4],
            "sla_minutes": 5 + (n * 7) % 120,
            "paths": fixed or mixed_paths(n),
            "max_attempts": args.max_attempts,
        }
        workflow_id = f"{args.prefix}-{n}"
        extra: dict = {}
        if args.listing_only:
            extra = escalated_at_start(workflow_id, request)
        async with gate:
            handle = await client.start_workflow(
                "AgentTask",
                request,
                id=workflow_id,
                task_queue="switchboard-unpolled" if args.listing_only else args.task_queue,
                **extra,
            )
        return handle.id

    ids = await asyncio.gather(*(start(n) for n in range(args.count)))
    print("\n".join(ids), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    # The SDK's core threads can abort a normal interpreter shutdown ("PyGILState_Release ...
    # finalizing") and turn a run that started every workflow into a failure: leave at once.
    sys.stdout.flush()
    os._exit(0)
