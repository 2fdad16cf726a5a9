"""Use the Spec Service as a Python library: no server, no network.

    python examples/python_api.py [--db PATH] [--name NAME]

--db PATH    a SQLite file to keep the specs in (created if missing);
             default: a private in-memory store that vanishes on exit
--name NAME  the spec's name (default: signup-rules); pick a new one when you
             rerun against the same --db, as names are never reused

It creates a regex-rules spec from examples/specs/regex-rules.yaml, updates it,
publishes it, reads what consumers are served, evaluates two sign-ups, prints the
audit history, and reads the spec back as it stood before the update.
Exit status: 0 on success, 1 with the error's code on failure.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from specsvc import SpecService
from specsvc.errors import SpecServiceError

RULES = Path(__file__).parent / "specs" / "regex-rules.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file (default: in memory)")
    parser.add_argument("--name", default="signup-rules", help="spec name")
    args = parser.parse_args()
    try:
        # A context manager, so the projection threads stop when we are done.
        with SpecService.open(args.db) as svc:
            tour(svc, args.name)
    except SpecServiceError as error:
        # Every error the service raises carries its code (docs/behaviour.md, Errors).
        print(f"error: {error.code}: {error}", file=sys.stderr)
        return 1
    return 0


def tour(svc: SpecService, name: str) -> None:
    rules = RULES.read_text("utf-8")
    # `actor` is who did it; over REST/gRPC it is the authenticated principal.
    spec = svc.create_spec(name, "regex-rules", rules, actor="alice", reason="first draft")
    print(f"created {name} v{spec['version']} ({spec['state']}) at position {spec['position']}")

    before_update = datetime.now(UTC)
    time.sleep(0.01)  # so the update's timestamp is clearly after `before_update`

    # Every content change is a new version; a reason is required.
    rules_with_ie = rules.replace("DE|FR|GB|NL|US", "DE|FR|GB|IE|NL|US")
    spec = svc.update_spec(name, rules_with_ie, actor="alice", reason="ship to Ireland too")
    print(f"updated {name} to v{spec['version']}")

    spec = svc.publish_spec(name, actor="bob", reason="reviewed by bob")
    print(f"published v{spec['published_version']}, state {spec['state']}")

    served = svc.get_published(name)
    print(f"consumers are served v{served['version']} ({len(served['content'])} chars of YAML)")

    for applicant in (
        {"email": "ann@acme.io", "country": "IE", "phone_verified": True},
        {"email": "bot@mailinator.com", "country": "DE", "invite_code": "INV-123456"},
    ):
        outcome = svc.evaluate(name, applicant)
        print(f"evaluate {applicant['email']}: {outcome['result']} (v{outcome['version']})")

    print("history:")
    for event in svc.history(name)["events"]:
        print(f"  #{event['position']} {event['event']} by {event['actor']}: {event['reason']}")

    # Event sourcing keeps every past state: read the spec as it was before the update.
    old = svc.get_spec(name, as_of=before_update)
    print(f"as of {before_update:%H:%M:%S.%f}: v{old['version']} {old['state']}")


if __name__ == "__main__":
    sys.exit(main())
