#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_ops (tests/fuzz/corpus/): a few small programs in the input
format described at the top of fuzz_ops.cpp, each exercising one area. Run it again after a
change of the format; the files are committed, so the fuzzer needs no Python."""
import os
import random
import struct

W = 0x80  # run on the worker thread
MALLOC, CALLOC, REALLOC, ALIGNED, FREE, SIZED_FREE, CHECK, TRIM, BURST, BURST_FREE, FREE_RUN, \
    RESIZE = (0, 3, 4, 6, 7, 9, 10, 11, 12, 13, 14, 15)
RESTART = 0x7F


def size(n):
    """draw_size's encoding of n bytes."""
    if n < 256:
        return bytes([0, n])
    if n <= 2048:
        return bytes([150]) + struct.pack("<H", n)
    if n <= 128 * 1024:
        return bytes([200]) + struct.pack("<I", n)
    if n < 128 * 1024 + 8 * 1024 * 1024:
        return bytes([230]) + struct.pack("<I", n - 128 * 1024)
    return bytes([250]) + struct.pack("<I", n - 8 * 1024 * 1024)


def op(code, slot, *args, worker=False):
    return bytes([code | (W if worker else 0), slot]) + b"".join(args)


def small_cross_thread(rng):
    out = b""
    for i in range(40):
        s = rng.randrange(64)
        out += op(MALLOC, s, size(rng.choice([0, 1, 16, 24, 48, 100, 255, 1000, 2048])),
                  worker=rng.random() < 0.5)
        if rng.random() < 0.5:
            out += op(rng.choice([FREE, SIZED_FREE]), rng.randrange(64),
                      worker=rng.random() < 0.5)
    return out


def realloc_chain(rng):
    out = op(MALLOC, 5, size(10))
    for i, n in enumerate([100, 3000, 70000, 200000, 5 << 20, 9 << 20, 20 << 20, 1 << 20,
                           130000, 500, 16, 0]):
        out += op(REALLOC, 5, size(n), worker=i % 2 == 1)
        out += op(CHECK, 5)
    out += op(MALLOC, 6, size(300000))
    for i, n in enumerate([600000, 200000, 2 << 20, 100, 9 << 20, 12 << 20, 9 << 20]):
        if n >= 9 << 20 and i == 4:
            out += op(MALLOC, 6, size(n))
        out += op(RESIZE, 6, size(n), worker=i % 2 == 0)
    return out


def aligned(rng):
    out = b""
    for a in range(21):
        s = a % 64
        out += op(ALIGNED, s, bytes([a]), size(rng.choice([1, 16, 100, 5000, 100000, 300000])),
                  worker=a % 3 == 0)
    for s in range(0, 21, 2):
        out += op(SIZED_FREE, s, worker=s % 4 == 0)
    out += op(FREE_RUN, 0, worker=True) + op(FREE_RUN, 8) + op(FREE_RUN, 16, worker=True)
    return out


def bursts(rng):
    out = b""
    for n, count in [(48, 255), (1000, 100), (9000, 40), (16000, 20)]:
        out += op(BURST, 0, struct.pack("<H", n - 16), bytes([count]))
        out += op(MALLOC, 1, size(n))
        out += op(BURST_FREE, 0, worker=True)
        out += op(BURST, 0, struct.pack("<H", n - 16), bytes([count]), worker=True)
        out += op(BURST_FREE, 0)
    return out


def abandon(rng):
    out = b""
    for round in range(3):
        for i in range(12):
            n = size(rng.choice([32, 200, 1500, 40000, 150000, 9 << 20]))
            if rng.random() < 0.3:
                out += op(CALLOC, rng.randrange(64), n, bytes([rng.randrange(4)]), worker=True)
            else:
                out += op(MALLOC, rng.randrange(64), n, worker=True)
        out += bytes([RESTART])
        for i in range(6):
            out += op(FREE, rng.randrange(64), worker=rng.random() < 0.5)
        out += op(TRIM, 0)
    return out


def calloc_large(rng):
    out = b""
    for i, n in enumerate([16, 4096, 65536, 131072, 300000, 3 << 20, 9 << 20]):
        out += op(MALLOC, i, size(n)) + op(FREE, i, worker=True)
        out += op(CALLOC, i, size(n // 2), bytes([1]), worker=i % 2 == 0)
    return out


def main():
    rng = random.Random(1)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(here, exist_ok=True)
    for name, gen in [("small_cross_thread", small_cross_thread), ("realloc_chain", realloc_chain),
                      ("aligned", aligned), ("bursts", bursts), ("abandon", abandon),
                      ("calloc_large", calloc_large)]:
        with open(os.path.join(here, name), "wb") as f:
            f.write(gen(rng))


if __name__ == "__main__":
    main()
