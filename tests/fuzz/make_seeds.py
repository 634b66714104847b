#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (committed; rerun after a
protocol change). Plain Python, no msgpack module: a few well-formed inputs
per target are enough for libFuzzer to start from."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def pack(v):
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        if len(v) < 32:
            return bytes([0xA0 | len(v)]) + v
        return b"\xd9" + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(v)


def frame(body):
    return struct.pack(">I", len(body)) + body


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


token = "v1.AAAAAQ" + "A" * 60
requests = {
    "login": {"id": 1, "op": "login", "user": "alice", "password": "pw", "ip": "10.0.0.7"},
    "validate": {"id": 2, "op": "validate", "token": token, "consistency": "local"},
    "refresh": {"id": 3, "op": "refresh", "token": token},
    "logout": {"id": 4, "op": "logout", "token": token},
    "revoke_user": {"id": 5, "op": "revoke_user", "token": token, "user": "bob"},
    "health": {"id": 6, "op": "health"},
    "ping": {"id": 7, "op": "ping"},
    "metrics_summary": {"id": 8, "op": "metrics_summary"},
    "cluster_status": {"id": 9, "op": "cluster_status"},
}
for name, r in requests.items():
    write("fuzz_request", name, frame(pack(r)))
write("fuzz_request", "pipelined", b"".join(frame(pack(r)) for r in requests.values()))

replies = {
    "login_ok": {"id": 1, "ok": True, "token": token, "user": "alice", "roles": ["ops"],
                 "expires_at_ms": 1_700_000_000_000},
    "validate_ok": {"id": 2, "ok": True, "user": "alice", "roles": [], "expires_at_ms": 5},
    "rate_limited": {"id": 3, "ok": False, "error": "rate_limited", "message": "slow down",
                     "retry_after_ms": 250},
    "unavailable": {"id": 0, "ok": False, "error": "unavailable", "message": "stopping"},
}
for name, r in replies.items():
    write("fuzz_reply", name, pack(r))

peers = [  # index = the type byte fuzz_peer_message.cpp picks by
    ("hello", {"name": "node-a", "address": "127.0.0.1:7511", "nonce": "n" * 32,
               "incarnation": 7}),
    ("challenge", {"name": "node-b", "address": "127.0.0.1:7512", "nonce": "m" * 32,
                   "proof": "p" * 32, "incarnation": 8}),
    ("proof", {"name": "node-a", "proof": "q" * 32}),
]
for i, (name, body) in enumerate(peers):
    write("fuzz_peer_message", name, bytes([i]) + pack(body))

examples = os.path.join(HERE, "..", "..", "examples")
for f in ["node.toml", "cluster-3/node-a.toml"]:
    with open(os.path.join(examples, f), "rb") as src:
        write("fuzz_config", os.path.basename(f), src.read())
write("fuzz_config", "users.toml",
      b'[users.alice]\npassword_hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"\n'
      b'roles = ["ops"]\nenabled = true\n')

# A snapshot with no users, sessions, lockouts or tombstones at log position
# 42 (format version 2, docs/snapshot-format.md); fuzz_snapshot fixes up both
# checksums, so they are left zero here.
header = b"CSTLSNAP" + struct.pack("<I", 2) + b"\0" * 4 + struct.pack("<Q", 42)
header += struct.pack("<Q", 1_700_000_000_000) + b"\0" * (64 - 32)
write("fuzz_snapshot", "empty", header + b"\0" * 4)

# Audit records (net/events.hpp, auth_event), each body prefixed by its
# length as u16 big-endian: fuzz_audit_log writes them as a valid segment.
def event(kind, **fields):
    e = {"kind": kind, "time_ms": 1_700_000_000_000, "node": "node-a", "user": "", "ip": "",
         "session": "", "reason": "", "until_ms": 0, "count": 0}
    e.update(fields)
    return pack(e)


digest = "ab" * 16
events = [
    event("node_started"),
    event("login_ok", user="alice", ip="10.0.0.7", session=digest, until_ms=1_700_003_600_000),
    event("refresh", user="alice", session=digest, until_ms=1_700_007_200_000),
    event("login_failed", user="bob", ip="10.0.0.8", reason="bad_password"),
    event("lockout_started", user="bob", reason="user", until_ms=1_700_000_060_000),
    event("logout", user="alice", session=digest),
]
write("fuzz_audit_log", "a_session_and_a_lockout",
      b"".join(struct.pack(">H", len(e)) + e for e in events))
write("fuzz_audit_log", "one_login", struct.pack(">H", len(events[1])) + events[1])
