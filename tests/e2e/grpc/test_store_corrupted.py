"""A real ``specsvc serve`` over a store edited behind its back: reads of the spec answer
StoreCorrupted (REST 500 with the error body, gRPC DATA_LOSS, both naming the position),
``/readyz`` and gRPC health turn NOT_SERVING with the reason, the log says it once, and a
server started on the edited store refuses with one line (docs/behaviour.md, Tamper
evidence)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc
from tests.e2e.grpc.test_serve import WAIT, channel_to, serve_args
from tests.support.grpc import assert_rpc_error
from tests.support.processes import running


def test_a_spec_edited_on_disk_answers_store_corrupted_and_the_server_turns_unready(
    tmp_path: Path,
) -> None:
    db = tmp_path / "specs.db"
    with running(*serve_args(tmp_path)) as server, channel_to(server) as channel:
        for n in range(3):
            body = {"name": f"s{n}", "type": "generic", "content": f"v: {n}\n"}
            assert server.json("POST", "/v1/specs", body)[0] == 201
        assert server.json("GET", "/readyz")[0] == 200
        with closing(sqlite3.connect(db)) as connection:  # s1's only event, edited
            connection.execute(
                "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT),"
                " 'v: 1', 'v: 9') AS BLOB) WHERE rowid = 2"
            )
            connection.commit()

        status, body = server.json("GET", "/v1/specs/s1")
        assert status == 500
        assert body["error"]["code"] == "StoreCorrupted"
        assert body["error"]["details"] == {"position": 2, "kind": "edited"}
        assert "specsvc verify" in body["error"]["message"]
        change = {"content": "v: 3\n", "reason": "r"}
        assert server.json("PUT", "/v1/specs/s1/content", change)[0] == 500
        assert server.json("GET", "/v1/specs/s0")[0] == 200  # the others are still served

        stub = rpc.SpecServiceStub(channel)
        try:
            stub.GetSpec(pb.GetSpecRequest(name="s1"), timeout=WAIT)
        except grpc.RpcError as error:
            info = assert_rpc_error(error, grpc.StatusCode.DATA_LOSS, "StoreCorrupted")
            assert info.metadata["position"] == "2"
        else:
            raise AssertionError("GetSpec of a corrupted spec succeeded")

        status, ready = server.json("GET", "/readyz")
        assert status == 503
        assert ready["store"]["state"] == "corrupted" and ready["store"]["position"] == 2
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + WAIT
        while True:  # rechecked every second
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=WAIT)
            if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
            assert time.monotonic() < deadline, "gRPC health stayed SERVING"
            time.sleep(0.2)
    logged = [line for line in server.log if "store corrupted at position 2" in line]
    assert len(logged) == 1, server.log

    started = subprocess.run(
        [sys.executable, "-m", "specsvc.cli", "serve", *serve_args(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 1
    assert started.stderr.strip().splitlines()[-1].startswith(
        "StoreCorrupted: the hash chain breaks at position 2 (edited:"
    )
    assert "Traceback" not in started.stderr
    assert "run specsvc verify" in started.stderr
