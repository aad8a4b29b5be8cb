#!/usr/bin/env python3
"""One node vs several on one PostgreSQL store: total Encrypt and CreateKey
throughput with the same client load spread round-robin over 1 or N nodes.

usage: cluster_bench.py AKID SECRET PORT [PORT...]   (nodes on 127.0.0.1)

The client (boto3, threads) runs on the same box as the nodes and the
database, so on a small machine it measures CPU sharing as much as Trent:
read the ratio, not the absolute numbers (docs/PERFORMANCE.md).
"""
import sys
import threading
import time

import boto3
from botocore.config import Config

THREADS, SECONDS = 8, 5


def client(port, akid, secret):
    return boto3.client("kms", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=akid, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=THREADS))


def run(clients, op):
    done, stop = [0] * THREADS, time.time() + SECONDS
    def worker(i):
        c = clients[i % len(clients)]
        key = c.create_key()["KeyMetadata"]["KeyId"]
        while time.time() < stop:
            if op == "Encrypt":
                c.encrypt(KeyId=key, Plaintext=b"x" * 64)
            else:
                c.create_key()
            done[i] += 1
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return sum(done) / SECONDS


def main():
    akid, secret, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
    clients = [client(p, akid, secret) for p in ports]
    for op in ("Encrypt", "CreateKey"):
        one = run(clients[:1], op)
        many = run(clients, op)
        print(f"{op}: 1 node {one:.0f}/s, {len(ports)} nodes {many:.0f}/s, ratio {many / one:.2f}")


if __name__ == "__main__":
    main()
