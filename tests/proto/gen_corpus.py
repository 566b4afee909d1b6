#!/usr/bin/env python3
"""gen_corpus.py - writes tests/proto/corpus/: hand-crafted frames for the strict wire codec.

File names say what each frame is and what decoding it must give (wire_corpus_test.c checks
them; the fuzzer starts from them):
    good-<type>-<what>.bin            the <type> decoder must accept it
    bad-<type>-<status>-<what>.bin    the <type> decoder must reject it with RTR_STS_WIRE_<STATUS>
<type> is one of env, rec, meta, info, epoch, hb, batch, txmsg (the messages of rtr.proto);
<status> one of malformed, tag0, unknown, missing, version, nobody (oversize needs a frame over
1 MiB, so it is tested in wire_decode_test.c instead).

Run from anywhere: python3 tests/proto/gen_corpus.py. Only the standard library; the output is
deterministic, so a rerun leaves git clean. Old good-*/bad-* files are removed first (anything
else in the directory, such as inputs the fuzzer added, is left alone).
"""
import os

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
TID = bytes(range(1, 17))


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint((field << 3) | wt)


def u(field, v):
    return key(field, VARINT) + varint(v)


def ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return key(field, LEN) + varint(len(payload)) + payload


# ---- valid building blocks (field numbers from proto/rtr.proto) ------------------------------


def txmsg(index=0, body=b"debit 100", flags=None, fmt=None):
    out = u(1, index) + ld(2, body)
    if flags is not None:
        out += u(3, flags)
    if fmt is not None:
        out += u(4, fmt)
    return out


def record(n=1, epoch=1, state=1, omit=(), extra=b""):
    parts = {1: u(1, epoch), 2: u(2, n), 3: ld(3, TID), 4: u(4, state)}
    return b"".join(v for k, v in parts.items() if k not in omit) + extra


def full_record(n=7):
    return (record(n=n, state=7) + ld(5, txmsg(0, flags=3, fmt=77)) + ld(5, txmsg(1, b"x")) +
            ld(6, "ACCT_LOW") + ld(7, "ACCT_LOW") + ld(7, "ACCT_HIGH") +
            ld(8, b"\xde\xad\xbe\xef") + u(9, 17) + u(10, 12) + u(11, 1700000000000) + u(12, 2))


def epoch_start(epoch=1, first_n=1):
    return u(1, epoch) + u(2, first_n)


def meta(history=()):
    return ld(1, "ACCT_LOW") + u(2, 1) + b"".join(ld(11, h) for h in history)


def heartbeat(seq=1, mono=None):
    return u(1, seq) + (u(2, mono) if mono is not None else b"")


def batch(records=(), partition="P1"):
    return ld(1, partition) + b"".join(ld(2, r) for r in records)


def header(version=1, sender="r1", epoch=7):
    return u(1, version) + ld(2, sender) + u(3, epoch)


def env_hb(hb=None, head=None):
    return (header() if head is None else head) + ld(16, heartbeat() if hb is None else hb)


def env_batch(records, head=None):
    return (header() if head is None else head) + ld(17, batch(records))


TAG0 = b"\x80\x80\x80\x80\x00\x00"

GOOD = {
    "good-env-heartbeat": env_hb(),
    "good-env-heartbeat-full": header(sender="be2", epoch=3) + u(4, 0x1122334455667788) +
    u(5, 2) + ld(16, heartbeat(9, 123456789)),
    "good-env-records-empty": env_batch([]),
    "good-env-records-two": env_batch([full_record(7), record(8, state=2)]),
    "good-env-required-twice": u(1, 9) + env_hb(),  # version 9 then 1: the last one wins
    "good-env-oneof-twice": env_hb() + ld(17, batch([record()])),  # the last member wins
    "good-env-utf8-sender": env_hb(head=header(sender="b\u00e9\u20ac\U0001F600")),
    "good-env-reversed-order": ld(16, heartbeat()) + u(3, 7) + ld(2, "r1") + u(1, 1),
    "good-env-overlong-key": b"\x88\x80\x80\x80\x00\x01" + ld(2, "r1") + u(3, 0) +
    ld(16, heartbeat()),  # field 1 in a 5-byte key: legal protobuf
    "good-env-max-epoch": env_hb(head=header(epoch=(1 << 64) - 1)),
    "good-env-role-admin": header() + u(5, 5) + ld(16, heartbeat()),
    "good-rec-minimal": record(),
    "good-rec-full": full_record(),
    "good-meta-minimal": meta(),
    "good-meta-history": meta([epoch_start(1, 1), epoch_start(2, 500)]) + u(3, 2) + u(12, 2),
    "good-info-minimal": u(1, 1),
    "good-info-full": u(1, 1) + ld(2, "be1") + u(3, 42),
    "good-epoch-start": epoch_start(3, 1000),
    "good-hb-seq": heartbeat(300),
    "good-batch-one": batch([record()]),
    "good-txmsg-empty-body": txmsg(0, b""),
}

BAD = {
    # field number 0, any encoding
    "bad-env-tag0-overlong": TAG0,
    "bad-env-tag0-plain": b"\x00\x00",
    "bad-env-tag0-after-valid": env_hb() + TAG0,
    "bad-env-tag0-nested": env_hb(hb=heartbeat() + TAG0),
    "bad-env-tag0-ten-byte-key": env_hb() + b"\x80" * 9 + b"\x00\x00",
    "bad-env-tag0-length-delimited": env_hb() + b"\x02\x00",
    "bad-rec-tag0-overlong": record() + TAG0,
    "bad-meta-tag0-overlong": TAG0 + meta(),
    # unknown fields, wrong wire types, groups, undefined enum values
    "bad-env-unknown-top": env_hb() + u(6, 1),
    "bad-env-unknown-max-field": env_hb() + u(536870911, 1),
    "bad-env-unknown-in-heartbeat": env_hb(hb=heartbeat() + ld(9, "x")),
    "bad-env-unknown-deep-txmsg": env_batch([record(extra=ld(5, txmsg() + u(9, 1)))]),
    "bad-env-unknown-second-record": env_batch([record(1), record(2, extra=u(29, 1))]),
    "bad-env-unknown-wiretype-fixed64": key(1, I64) + bytes(8) + ld(2, "r1") + u(3, 0),
    "bad-env-unknown-wiretype-sender-varint": u(1, 1) + u(2, 1),
    "bad-env-unknown-wiretype-body-varint": header() + u(16, 1),
    "bad-env-unknown-packed-scalar": ld(1, b"\x01") + ld(2, "r1") + u(3, 0) +
    ld(16, heartbeat()),
    "bad-env-unknown-group": env_hb() + key(30, SGROUP) + key(30, EGROUP),
    "bad-env-unknown-role-enum": env_hb() + u(5, 9),
    "bad-env-unknown-state-enum": env_batch([record(state=99)]),
    "bad-rec-unknown-state-negative": record(state=-1),
    "bad-meta-unknown-in-history": meta([epoch_start() + u(3, 1)]),
    "bad-info-unknown-field": u(1, 1) + u(4, 1),
    # malformed
    "bad-env-malformed-truncated-varint": b"\x08",
    "bad-env-malformed-truncated-varint-cont": b"\x08\x81\x80",
    "bad-env-malformed-truncated-key": header() + b"\x80",
    "bad-env-malformed-truncated-length": u(1, 1) + b"\x12\x0ar1x",
    "bad-env-malformed-truncated-nested": header() + ld(17, ld(1, "P1") + key(2, LEN) +
                                                       varint(len(record()) + 4) + record()) +
    u(4, 1) + u(4, 1),
    "bad-env-malformed-varint-65-bits": env_hb() + b"\x20" + b"\xff" * 9 + b"\x02",
    "bad-env-malformed-varint-11-bytes": env_hb() + b"\x20" + b"\x80" * 10 + b"\x00",
    "bad-env-malformed-version-over-32-bits": env_hb(head=header(version=(1 << 32) + 1)),
    "bad-env-malformed-wiretype-6": env_hb() + key(4, 6) + b"\x00",
    "bad-env-malformed-wiretype-7": env_hb() + key(4, 7) + b"\x00",
    "bad-env-malformed-six-byte-key": b"\x88\x80\x80\x80\x80\x00\x01",
    "bad-env-malformed-key-over-32-bits": b"\x88\x80\x80\x80\x10\x01",
    "bad-env-malformed-six-byte-length": u(1, 1) + b"\x12\x82\x80\x80\x80\x80\x00r1",
    "bad-env-malformed-utf8-continuation": env_hb(head=u(1, 1) + ld(2, b"\xc3\x28") + u(3, 0)),
    "bad-env-malformed-utf8-overlong": env_hb(head=u(1, 1) + ld(2, b"\xc0\x80") + u(3, 0)),
    "bad-env-malformed-utf8-surrogate": env_hb(head=u(1, 1) + ld(2, b"\xed\xa0\x80") + u(3, 0)),
    "bad-env-malformed-utf8-nul": env_hb(head=u(1, 1) + ld(2, b"be1\x00evil") + u(3, 0)),
    "bad-rec-malformed-state-over-32-bits": record(state=(1 << 32) + 1),
    "bad-meta-malformed-partition-utf8": ld(1, b"\xff") + u(2, 1),
    # missing required fields, at any depth
    "bad-env-missing-empty": b"",
    "bad-env-missing-version": ld(2, "r1") + u(3, 0) + ld(16, heartbeat()),
    "bad-env-missing-sender": u(1, 1) + u(3, 0) + ld(16, heartbeat()),
    "bad-env-missing-epoch": u(1, 1) + ld(2, "r1") + ld(16, heartbeat()),
    "bad-env-missing-heartbeat-seq": env_hb(hb=b""),
    "bad-env-missing-record-tid": env_batch([record(omit=(3,))]),
    "bad-env-missing-txmsg-body": env_batch([record(extra=ld(5, u(1, 0)))]),
    "bad-env-missing-batch-partition": header() + ld(17, ld(2, record())),
    "bad-rec-missing-state": record(omit=(4,)),
    "bad-meta-missing-history-first-n": meta([u(1, 3)]),
    "bad-info-missing-format": ld(2, "be1"),
    "bad-epoch-missing-epoch": u(2, 1),
    # envelope rules
    "bad-env-version-zero": env_hb(head=header(version=0)),
    "bad-env-version-two": env_hb(head=header(version=2)),
    "bad-env-version-last-wins": env_hb() + u(1, 7),
    "bad-env-version-no-body-too": header(version=2),
    "bad-env-nobody-header-only": header(),
    "bad-env-nobody-full-header": header() + u(4, 1) + u(5, 1),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.startswith(("good-", "bad-")):
            os.remove(os.path.join(out, name))
    for name, data in sorted({**GOOD, **BAD}.items()):
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
    print(f"{len(GOOD)} good and {len(BAD)} bad frames written to {out}")


if __name__ == "__main__":
    main()
